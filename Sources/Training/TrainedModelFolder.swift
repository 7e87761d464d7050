// The trainer's product: a diffusers-layout model folder in `output_dir` (model_index.json, unet/,
// text_encoder/, vae/, tokenizer/, scheduler/) that dbrenderd serves as it is and diffusers'
// StableDiffusionPipeline.from_pretrained loads. The trained networks come from their parameter
// arenas; the frozen ones, the tokenizer and the scheduler configuration from the model training
// started from, as `CheckpointCompanions` decides them (for a single-file checkpoint, which has
// neither, the bundled CLIP vocabulary and SD 1.x's scheduler configuration) — so the folder
// carries the schedule it was trained on. Each component folder is assembled aside and renamed
// into place.
import Foundation
import Models
import Sampling
import Tensor
import Weights

public enum TrainedModelFolder {
    /// Writes the pipeline of `trainer` (trained from `pretrained`) into `directory`, every
    /// network's weights stored as `dtype`; `unetWeights` (the moving average) in place of the UNet's own.
    public static func write(_ trainer: DreamBoothStep, pretrained: ModelCheckpoint, to directory: URL,
                             dtype: SafetensorsDType = .f32, unetWeights: [(name: String, tensor: Tensor)]? = nil) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        let staging = directory.appendingPathComponent(".model.partial-\(getpid())")
        try? fm.removeItem(at: staging)
        try fm.createDirectory(at: staging, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: staging) }
        let c = pretrained.configurations
        let models = trainer.models

        try RandomModelFolder.writeComponent("unet", file: "diffusion_pytorch_model.safetensors", tensors: unetWeights ?? models.unetParameters.namedValues,
                           config: ConfigurationFile.encode(c.unet), in: staging, dtype: dtype)
        let text = try models.textEncoderParameters?.namedValues ?? recorded(pretrained.source(.textEncoder)) {
            _ = try CLIPTextEncoder(configuration: c.textEncoder, parameters: $0)
        }
        try RandomModelFolder.writeComponent("text_encoder", file: "model.safetensors", tensors: text,
                           config: ConfigurationFile.encode(c.textEncoder), in: staging, dtype: dtype)
        let vae = try recorded(pretrained.source(.vae)) { _ = try AutoencoderKL(configuration: c.vae, parameters: $0) }
        try RandomModelFolder.writeComponent("vae", file: "diffusion_pytorch_model.safetensors", tensors: vae,
                           config: ConfigurationFile.encode(c.vae), in: staging, dtype: dtype)

        let tokenizer = staging.appendingPathComponent("tokenizer")
        try fm.createDirectory(at: tokenizer, withIntermediateDirectories: true)
        let vocabulary = try pretrained.tokenizerFiles()
        for name in try fm.contentsOfDirectory(atPath: vocabulary.path) where !name.hasPrefix(".") {
            try fm.copyItem(at: vocabulary.appendingPathComponent(name), to: tokenizer.appendingPathComponent(name))
        }
        let scheduler = staging.appendingPathComponent("scheduler")
        try fm.createDirectory(at: scheduler, withIntermediateDirectories: true)
        try pretrained.schedulerConfigurationFile().write(to: scheduler.appendingPathComponent("scheduler_config.json"))
        let index = pretrained.url.appendingPathComponent("model_index.json")
        if pretrained.layout == .diffusers, fm.fileExists(atPath: index.path) {
            try fm.copyItem(at: index, to: staging.appendingPathComponent("model_index.json"))
        } else {
            try Data(RandomModelFolder.modelIndex.utf8).write(to: staging.appendingPathComponent("model_index.json"))
        }

        try install(from: staging, into: directory)
    }

    /// The entries of a model folder, in the order they are moved into place: model_index.json
    /// last, so that a reader that finds it finds complete component folders.
    static let entries = ["unet", "text_encoder", "vae", "tokenizer", "scheduler", "model_index.json"]

    /// Moves each of `entries` present in `staging` into `directory`, replacing what is there.
    static func install(from staging: URL, into directory: URL) throws {
        let fm = FileManager.default
        for name in entries where fm.fileExists(atPath: staging.appendingPathComponent(name).path) {
            let target = directory.appendingPathComponent(name)
            if fm.fileExists(atPath: target.path) { try fm.removeItem(at: target) }
            try fm.moveItem(at: staging.appendingPathComponent(name), to: target)
        }
    }

    /// The parameters a model asks `source` for, as it asks (mapped from the checkpoint, not copied).
    static func recorded(_ source: ParameterSource, _ make: (ParameterSource) throws -> Void) throws -> [(name: String, tensor: Tensor)] {
        let recorder = RecordingSource(source)
        try make(recorder)
        return recorder.parameters
    }
}

/// Passes parameters through and remembers them by key.
private final class RecordingSource: ParameterSource {
    let base: ParameterSource
    var parameters: [(name: String, tensor: Tensor)] = []
    init(_ base: ParameterSource) { self.base = base }
    func parameter(_ key: String, shape: [Int], initializer: ParameterInitializer) throws -> Tensor {
        let tensor = try base.parameter(key, shape: shape, initializer: initializer)
        parameters.append((key, tensor))
        return tensor
    }
}
