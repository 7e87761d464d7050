// Training checkpoints: `<output_dir>/checkpoint-<step>/`, as train_dreambooth.py names them, holding
// everything a run needs to continue exactly where it stopped — the trained weights (one safetensors
// file per trained network, diffusers keys), AdamW's moments and step count, and the trainer's state.
// A checkpoint is assembled in a hidden folder and renamed into place, so a crash leaves the previous
// checkpoints intact and never a half-written one; `checkpoints_total_limit` removes the oldest.
import Foundation
import Models
import Tensor
import Weights

/// Where a run stands.
public struct TrainerState: Codable, Equatable, Sendable {
    /// Optimizer steps taken.
    public var globalStep: Int
    /// The seed every random draw of the run derives from.
    public var seed: UInt64

    enum CodingKeys: String, CodingKey { case globalStep = "global_step", seed }
}

/// A training step whose state a checkpoint holds: each trained network's weights and optimizer.
public protocol CheckpointedTraining: AnyObject {
    /// The trained networks in a fixed order: file stem (`unet`, `text_encoder`, `vae`), weights, optimizer.
    var trainedParts: [(name: String, arena: ParameterArena, optimizer: AdamW)] { get }
}

public enum TrainingCheckpoint {
    /// `checkpoint-<step>`.
    public static func name(step: Int) -> String { "checkpoint-\(step)" }

    /// The file of a checkpoint that holds the UNet's moving average (`use_ema`).
    public static let emaFileName = "unet_ema.safetensors"

    /// The file in a checkpoint that holds its `TrainerState`; its presence marks a checkpoint folder.
    public static let stateFileName = "trainer_state.json"

    /// The checkpoints in `outputDir`, oldest first.
    public static func list(in outputDir: URL) -> [(step: Int, url: URL)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: outputDir.path)) ?? []
        return names.compactMap { name -> (Int, URL)? in
            guard name.hasPrefix("checkpoint-"), let step = Int(name.dropFirst("checkpoint-".count)) else { return nil }
            return (step, outputDir.appendingPathComponent(name))
        }.sorted { $0.0 < $1.0 }
    }

    /// Writes the state of `step` as `checkpoint-<state.globalStep>` in `outputDir`, first removing
    /// the oldest checkpoints so that at most `totalLimit` remain afterwards.
    /// With `ema`, its average goes into `unet_ema.safetensors` too.
    public static func save(_ trainer: some CheckpointedTraining, ema: ExponentialMovingAverage? = nil, state: TrainerState,
                            in outputDir: URL, totalLimit: Int?) throws -> URL {
        let fm = FileManager.default
        if let totalLimit {
            let existing = list(in: outputDir)
            for old in existing.prefix(max(0, existing.count - totalLimit + 1)) { try fm.removeItem(at: old.url) }
        }
        let target = outputDir.appendingPathComponent(name(step: state.globalStep))
        let staging = outputDir.appendingPathComponent(".\(target.lastPathComponent).partial-\(getpid())")
        try? fm.removeItem(at: staging)
        try fm.createDirectory(at: staging, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: staging) }
        for (name, arena, optimizer) in trainer.trainedParts {
            try SafetensorsWriter.write(arena.namedValues,
                                        metadata: ["format": "pt"], to: staging.appendingPathComponent("\(name).safetensors"))
            try SafetensorsWriter.write(
                [("exp_avg", optimizer.firstMoment), ("exp_avg_sq", optimizer.secondMoment)],
                metadata: ["step": "\(optimizer.stepCount)"], to: staging.appendingPathComponent("\(name).optimizer.safetensors"))
        }
        if let ema {
            try SafetensorsWriter.write([("shadow", Tensor(storage: ema.shadow, shape: [ema.shadow.count]))],
                                        metadata: ["updates": "\(ema.updateCount)"], to: staging.appendingPathComponent(emaFileName))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(state).write(to: staging.appendingPathComponent(stateFileName))
        if fm.fileExists(atPath: target.path) { try fm.removeItem(at: target) }
        try fm.moveItem(at: staging, to: target)
        return target
    }

    /// Loads a checkpoint's weights and optimizer state into `trainer` (its `TrainerState` is read
    /// apart, by `state(in:)`, since a run needs its seed before the networks are built).
    /// - Throws: an error naming the file when a tensor is missing or has another shape.
    public static func restore(_ trainer: some CheckpointedTraining, ema: ExponentialMovingAverage? = nil, from directory: URL) throws {
        if let ema {
            let file = directory.appendingPathComponent(emaFileName)
            guard FileManager.default.fileExists(atPath: file.path) else {
                throw CheckpointError.malformed(path: directory.path, reason: "no \(emaFileName) (the run uses use_ema; this checkpoint was saved without)")
            }
            let saved = try SafetensorsFile(contentsOf: file)
            guard let updates = saved.metadata["updates"].flatMap(Int.init) else {
                throw CheckpointError.malformed(path: file.path, reason: "no update count in its metadata")
            }
            let values = try saved.tensor("shadow")
            guard values.count == ema.shadow.count else {
                throw CheckpointError.malformed(path: file.path, reason: "an average of \(values.count) values, the UNet has \(ema.shadow.count)")
            }
            ema.restore(updateCount: updates, values: values)
        }
        for (name, arena, optimizer) in trainer.trainedParts {
            let weights = try SafetensorsFile(contentsOf: directory.appendingPathComponent("\(name).safetensors"))
            for entry in arena.entries {
                guard weights.entries[entry.key] != nil else {
                    throw ModelLoadingError.missingTensor(file: weights.url.path, key: entry.key)
                }
                let stored = try weights.tensor(entry.key)
                guard stored.shape == entry.shape else {
                    throw ModelLoadingError.shapeMismatch(file: weights.url.path, key: entry.key, expected: entry.shape, found: stored.shape)
                }
                arena.value(entry).assign(stored)
            }
            let state = try SafetensorsFile(contentsOf: directory.appendingPathComponent("\(name).optimizer.safetensors"))
            guard let step = state.metadata["step"].flatMap(Int.init) else {
                throw CheckpointError.malformed(path: state.url.path, reason: "no optimizer step count in its metadata")
            }
            let first = try state.tensor("exp_avg"), second = try state.tensor("exp_avg_sq")
            guard first.count == optimizer.parameterCount, second.count == optimizer.parameterCount else {
                throw CheckpointError.malformed(path: state.url.path, reason: "optimizer state for \(first.count) parameters, the model has \(optimizer.parameterCount)")
            }
            optimizer.restore(stepCount: step, firstMoment: first, secondMoment: second)
        }
    }

    /// The trainer state a checkpoint folder holds.
    public static func state(in directory: URL) throws -> TrainerState {
        let stateFile = directory.appendingPathComponent(stateFileName)
        do {
            return try JSONDecoder().decode(TrainerState.self, from: Data(contentsOf: stateFile))
        } catch {
            throw CheckpointError.malformed(path: stateFile.path, reason: "\(error)")
        }
    }
}

/// A checkpoint that cannot be resumed from.
public enum CheckpointError: Error, CustomStringConvertible {
    case malformed(path: String, reason: String)
    case notFound(path: String)

    public var description: String {
        switch self {
        case let .malformed(path, reason): "\(path): \(reason)"
        case let .notFound(path): "no checkpoint at \(path)"
        }
    }
}
