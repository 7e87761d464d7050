// use_ema: the moving average's decay schedule and update are diffusers' EMAModel's (checked here
// against the formula in Double), and a run writes the average as its UNet — which is the last
// weights exactly when the decay is 0, and other weights when it is not.
import Foundation
import Models
import Tensor
import Testing
import TestSupport
import Weights
@testable import Training

@Suite("Training: the UNet's moving average (use_ema)", .serialized)
struct MovingAverageTests {
    static let tiny = Fixtures.packageRoot.appendingPathComponent("models/tiny")

    @Test("decay 0, then (1 + k) / (10 + k) capped at ema_decay; shadow ← shadow − (1 − decay)(shadow − weights)")
    func schedule() throws {
        let checkpoint = try ModelCheckpoint.open(Self.tiny)
        let (_, arena) = try ParameterArena.build(from: checkpoint.source(.unet)) {
            try UNet2DCondition(configuration: checkpoint.configurations.unet, parameters: $0)
        }
        let ema = ExponentialMovingAverage(following: arena, maximumDecay: 0.25)
        #expect([1, 2, 3, 4, 100].map(ema.decay(atUpdate:)) == [0, 2.0 / 11, 0.25, 0.25, 0.25])
        let entry = arena.entries[3]
        var expected = (0..<entry.count).map { Double(arena.value(entry).scalars[$0]) }
        for n in 1...4 {
            // New weights: the old ones shifted by n (the optimizer's step, as far as the average sees it).
            let values = arena.value(entry)
            for i in 0..<entry.count { values.pointer[i] += Float(n) }
            ema.update()
            let decay = ema.decay(atUpdate: n)
            for i in 0..<entry.count { expected[i] -= (1 - decay) * (expected[i] - Double(values.pointer[i])) }
            let averaged = try #require(ema.namedValues.first { $0.name == entry.key }).tensor.scalars
            let error = zip(averaged, expected).map { abs(Double($0) - $1) }.max() ?? 0
            #expect(error < 1e-5, "update \(n): max |Δ| \(error)")
        }
        #expect(ema.updateCount == 4)
    }

    @Test("the model folder holds the average: the last weights at ema_decay 0, others at 0.9")
    func writtenModel() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ema-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: root) }
        let data = root.appendingPathComponent("shapes")
        try ShapesFolder.write(ShapesDataset(seed: 2), count: 4, side: 64, to: data)
        func train(_ name: String, ema: Double?) throws -> SafetensorsFile {
            var yaml = """
                pretrained_model_name_or_path: \(Self.tiny.path)
                train_data_dir: \(data.path)
                output_dir: \(root.appendingPathComponent(name).path)
                resolution: 64
                train_batch_size: 2
                max_train_steps: 3
                learning_rate: 1e-3
                seed: 1

                """
            if let ema { yaml += "use_ema: true\nema_decay: \(ema)\n" }
            try DreamBoothTrainer(configuration: TrainingConfiguration.load(yaml: yaml)).run()
            return try SafetensorsFile(contentsOf: root.appendingPathComponent("\(name)/unet/diffusion_pytorch_model.safetensors"))
        }
        let plain = try train("plain", ema: nil)
        func largestDifference(_ other: SafetensorsFile) throws -> Float {
            try plain.entries.keys.map { key in
                zip(try plain.tensor(key).scalars, try other.tensor(key).scalars).map { abs($0 - $1) }.max() ?? 0
            }.max() ?? 0
        }
        // Decay 0 makes the average the weights, up to the rounding of s − (s − w) (one ulp of s).
        #expect(try largestDifference(train("decay0", ema: 0)) < 1e-6)
        #expect(try largestDifference(train("decay09", ema: 0.9)) > 1e-4)
        #expect { _ = try TrainingConfiguration.load(yaml: "pretrained_model_name_or_path: m\ntrain_data_dir: d\nema_decay: 1\n") } throws: {
            ($0 as? TrainingConfigurationError)?.key == "ema_decay"
        }
    }
}
