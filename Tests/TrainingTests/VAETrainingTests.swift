// Training the VAE (reconstruction + β·KL): the whole objective's gradient, through the posterior
// sample and both networks, against finite differences; and a short run on shapes-world images
// that must cut the reconstruction error. (The networks' pullbacks alone are checked against
// PyTorch autograd in VAEBackwardTests.)
import Foundation
import ImageIO
import Models
import Sampling
import Tensor
import Testing
import TestSupport
import Weights
@testable import Training

@Suite("Training: the VAE", .serialized)
struct VAETrainingTests {
    static let tiny = try! ModelCheckpoint.open(Fixtures.packageRoot.appendingPathComponent("models/tiny"))

    /// `count` shapes images of `side` px as a [count, 3, side, side] tensor in [−1, 1].
    static func shapes(_ count: Int, side: Int, seed: UInt64 = 2) -> Tensor {
        let dataset = ShapesDataset(seed: seed)
        let images = Tensor(uninitialized: [count, 3, side, side])
        for i in 0..<count { images[i].assign(ImageTensor.normalized(dataset.example(at: i, side: side).image)) }
        return images
    }

    @Test("the objective's gradient (reconstruction, KL, the posterior sample) agrees with finite differences")
    func finiteDifferences() throws {
        // β large enough that the KL term's share of each gradient is visible to the check.
        let step = try VAETrainingStep(checkpoint: Self.tiny, loss: VAELoss(klWeight: 0.05), optimizer: .init(), maxGradNorm: 1)
        let images = Self.shapes(2, side: 32)
        var random = TestRandom(seed: 4)
        let sample = random.tensor([2, 4, 4, 4])
        let weights = ["encoder.conv_in.weight", "quant_conv.weight", "decoder.conv_out.weight", "post_quant_conv.bias"]
            .map { step.parameters.parameter($0)! }
        let check = checkGradients(
            inputs: weights,
            forward: {
                let (mean, logVariance) = step.vae.encode(images)
                let z = Tensor(uninitialized: mean.shape)
                for i in 0..<z.count { z.pointer[i] = mean.pointer[i] + Foundation.exp(0.5 * logVariance.pointer[i]) * sample.pointer[i] }
                let value = step.loss.evaluate(reconstruction: step.vae.decode(z), target: images, mean: mean, logVariance: logVariance)
                return Tensor(shape: [1], values: [Float(value.loss)])
            },
            backward: { dy in
                step.parameters.zeroGradients()
                step.accumulate(images, sample: sample, gradientScale: Double(dy.pointer[0]))
                return weights.map { step.parameters.gradient(of: $0)!.copy() }
            }, epsilon: 2e-2, absoluteTolerance: 1e-3, stencil: .fivePoint)
        #expect(check.worstRatio < Self.finiteDifferenceBound, "\(check)")
    }

    /// Over 40 seeds at ε = 2e-2, five-point (`DBRENDER_FD_SURVEY=40`): median 0.0027, worst 0.015;
    /// 0.05 leaves 3× over the worst, and a missing or wrong term (ratio ~1) still fails by 20×.
    static let finiteDifferenceBound = 0.05

    /// Measured: mean squared error 0.79 → 0.23 (29 %); the bound is 50 %.
    @Test("40 steps on 4 shapes images cut the reconstruction error by more than half; the KL stays finite")
    func learns() throws {
        let step = try VAETrainingStep(checkpoint: Self.tiny, loss: VAELoss(), optimizer: .init(weightDecay: 0), maxGradNorm: 1)
        let images = Self.shapes(4, side: 32)
        var random = TestRandom(seed: 1)
        var first: VAELoss.Value?, last: VAELoss.Value?
        for _ in 0..<40 {
            let value = step.accumulate(images, sample: random.tensor([4, 4, 4, 4]))
            _ = step.applyGradients(learningRate: 2e-3)
            if first == nil { first = value }
            last = value
        }
        let start = try #require(first), end = try #require(last)
        #expect(end.reconstruction < 0.5 * start.reconstruction, "reconstruction \(start.reconstruction) → \(end.reconstruction)")
        #expect(end.kl.isFinite && end.loss.isFinite)
    }

    static let tinyFolder = Fixtures.packageRoot.appendingPathComponent("models/tiny")

    /// Six 64-px images of `dataset` written into a fresh folder under `root`, then `dbtrain train-vae`
    /// on models/tiny's VAE for 12 steps of 3 images at 32 px, seed 4, with `extra` flags, into
    /// `root/model`. The caller removes `root`.
    static func trainTinyVAE(on dataset: ShapesDataset, extra: [String] = []) throws
        -> (root: URL, data: URL, out: URL, run: (status: Int32, output: String)) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("train-vae-\(UUID().uuidString.prefix(8))")
        let data = root.appendingPathComponent("shapes"), out = root.appendingPathComponent("model")
        try ShapesFolder.write(dataset, count: 6, side: 64, to: data)
        let run = try DreamBoothTrainerTests.dbtrain(["train-vae", "--model", tinyFolder.path, "--data", data.path, "--out", out.path,
                                                     "--resolution", "32", "--steps", "12", "--batch-size", "3", "--seed", "4"] + extra)
        return (root, data, out, run)
    }

    @Test("dbtrain train-vae trains the VAE of a model folder on an image folder; the rest of the folder is copied")
    func trainer() throws {
        let (root, data, out, run) = try Self.trainTinyVAE(on: ShapesDataset(seed: 6))
        defer { try? FileManager.default.removeItem(at: root) }
        let tiny = Self.tinyFolder
        #expect(run.status == 0, "\(run.output)")
        let log = try TrainingLog.read(out.appendingPathComponent("vae_log.jsonl"))
        #expect(log.map(\.step) == Array(1...12) && log.allSatisfy { $0.loss.isFinite && $0.gradNorm > 0 })
        #expect(log.last!.loss < log.first!.loss, "loss \(log.first!.loss) → \(log.last!.loss)")
        // The VAE changed; the UNet, text encoder, tokenizer and scheduler are the model's, byte for byte.
        let vaeFile = "vae/diffusion_pytorch_model.safetensors"
        #expect(try Data(contentsOf: out.appendingPathComponent(vaeFile)) != Data(contentsOf: tiny.appendingPathComponent(vaeFile)))
        for file in ["unet/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors", "scheduler/scheduler_config.json",
                     "tokenizer/vocab.json", "model_index.json"] {
            #expect(try Data(contentsOf: out.appendingPathComponent(file)) == Data(contentsOf: tiny.appendingPathComponent(file)), "\(file)")
        }
        // The configuration is the model's but for the latent scaling factor, measured on the images.
        let trained = try ModelCheckpoint.open(out)
        var expected = Self.tiny.configurations
        expected.vae.scalingFactor = trained.configurations.vae.scalingFactor
        #expect(trained.configurations == expected)
        let transform = TrainingImageTransform(resolution: 32, centerCrop: true)
        let images = try ImageFolder.imageFiles(in: data, role: "training").map { file in
            var unused = SplitMix64(seed: 0)
            return transform.croppedImage(try DreamBoothDataset.load(file), using: &unused)
        }
        let vae = try AutoencoderKL(configuration: trained.configurations.vae, parameters: trained.source(.vae))
        #expect(trained.configurations.vae.scalingFactor == LatentScale.calibrate(vae, images: images, seed: 4))
        // A bad setting is an error that names it.
        let bad = try DreamBoothTrainerTests.dbtrain(["train-vae", "--model", tiny.path, "--data", data.path, "--out", out.path, "--steps", "0"])
        #expect(bad.status != 0 && bad.output.contains("steps: must be at least 1"), "\(bad.output)")
    }

    @Test("train-vae --decoder-only refines the decoder and leaves the encoder, hence the latents and their scaling factor, as they were")
    func decoderOnly() throws {
        let (root, _, out, run) = try Self.trainTinyVAE(on: ShapesDataset(seed: 6, companionShare: 0.5), extra: ["--decoder-only"])
        defer { try? FileManager.default.removeItem(at: root) }
        let tiny = Self.tinyFolder
        #expect(run.status == 0, "\(run.output)")
        let log = try TrainingLog.read(out.appendingPathComponent("vae_log.jsonl"))
        #expect(log.last!.loss < log.first!.loss, "loss \(log.first!.loss) → \(log.last!.loss)")
        let vaeFile = "vae/diffusion_pytorch_model.safetensors"
        let before = try SafetensorsFile(contentsOf: tiny.appendingPathComponent(vaeFile))
        let after = try SafetensorsFile(contentsOf: out.appendingPathComponent(vaeFile))
        #expect(after.tensorNames == before.tensorNames)
        var changed = 0, decoderTensors = 0
        for name in before.tensorNames {
            let old = try before.tensor(name).scalars, new = try after.tensor(name).scalars
            if name.hasPrefix("encoder.") || name.hasPrefix("quant_conv.") {
                #expect(new == old, "\(name) is the encoder's: it must not move")
            } else {
                decoderTensors += 1
                if new != old { changed += 1 }
            }
        }
        // Every decoder tensor gets a gradient; AdamW moves each in its first step.
        #expect(decoderTensors > 0 && changed == decoderTensors, "\(changed) of \(decoderTensors) decoder tensors changed")
        // The configuration, scaling factor included, is the model's: the latent space has not moved.
        #expect(try ModelCheckpoint.open(out).configurations == Self.tiny.configurations)
    }

    @Test("the latent scaling factor makes the posterior samples' standard deviation 1 (two-pass check)")
    func latentScale() throws {
        let vae = try AutoencoderKL(configuration: Self.tiny.configurations.vae, parameters: Self.tiny.source(.vae))
        let dataset = ShapesDataset(seed: 9)
        let images = (0..<20).map { dataset.example(at: $0, side: 32).image }
        // batchSize 8: three batches, the last one short.
        let factor = LatentScale.calibrate(vae, images: images, seed: 7, batchSize: 8)
        #expect(factor == LatentScale.calibrate(vae, images: images, seed: 7, batchSize: 8), "deterministic")
        var samples: [Double] = []
        for start in stride(from: 0, to: 20, by: 8) {
            let rows = Array(images[start..<min(start + 8, 20)])
            let batch = Tensor(uninitialized: [rows.count, 3, 32, 32])
            for (i, image) in rows.enumerated() { batch[i].assign(ImageTensor.normalized(image)) }
            let (mean, logVariance) = vae.encode(batch)
            var noise = TorchGenerator(seed: 7 + UInt64(start))
            let epsilon = noise.randn(mean.shape)
            for i in 0..<mean.count {
                samples.append(Double(mean.scalars[i]) + exp(0.5 * Double(logVariance.scalars[i])) * Double(epsilon.scalars[i]))
            }
        }
        let average = samples.reduce(0, +) / Double(samples.count)
        let std = (samples.map { ($0 - average) * ($0 - average) }.reduce(0, +) / Double(samples.count)).squareRoot()
        #expect(abs(Double(factor) * std - 1) < 1e-4, "factor \(factor), std \(std)")
        // A limit uses only the first images.
        #expect(LatentScale.calibrate(vae, images: images, seed: 7, limit: 8, batchSize: 8)
                == LatentScale.calibrate(vae, images: Array(images.prefix(8)), seed: 7, batchSize: 8))
    }

    @Test("a VAE run (cosine schedule) interrupted after 4 of 7 steps and resumed ends with the uninterrupted run's weights, bit for bit")
    func resume() throws {
        let fm = FileManager.default
        let root = fm.temporaryDirectory.appendingPathComponent("vae-resume-\(UUID().uuidString.prefix(8))")
        defer { try? fm.removeItem(at: root) }
        let data = root.appendingPathComponent("shapes")
        try ShapesFolder.write(ShapesDataset(seed: 6), count: 5, side: 64, to: data)
        func settings(_ name: String) -> VAETrainingSettings {
            var s = VAETrainingSettings(modelDirectory: Fixtures.packageRoot.appendingPathComponent("models/tiny").path,
                                        dataDirectory: data.path, outputDirectory: root.appendingPathComponent(name).path)
            s.resolution = 32; s.steps = 7; s.batchSize = 2; s.seed = 3; s.checkpointingSteps = 3
            s.lrScheduler = .cosine; s.lrWarmupSteps = 2
            return s
        }
        try VAETrainer.run(settings("whole"))
        var polls = 0
        // Polled before each step: the fifth poll (before step 5) stops the run after 4 steps.
        let first = try VAETrainer.run(settings("resumed"), isCancelled: { polls += 1; return polls == 5 })
        #expect(first.map(\.step) == [1, 2, 3, 4])
        let resumedFolder = root.appendingPathComponent("resumed")
        #expect(TrainingCheckpoint.list(in: resumedFolder).map(\.step) == [3, 4])
        #expect(!fm.fileExists(atPath: resumedFolder.appendingPathComponent("model_index.json").path), "no model before the end")
        let second = try VAETrainer.run(settings("resumed"), resume: true)
        #expect(second.map(\.step) == [5, 6, 7])
        let file = "vae/diffusion_pytorch_model.safetensors"
        #expect(try Data(contentsOf: root.appendingPathComponent("whole/\(file)")) == Data(contentsOf: resumedFolder.appendingPathComponent(file)))
        let whole = try TrainingLog.read(root.appendingPathComponent("whole/vae_log.jsonl")).map(\.loss)
        #expect(try TrainingLog.read(resumedFolder.appendingPathComponent("vae_log.jsonl")).map(\.loss) == whole)
        // The rates follow the schedule (warm-up, then cosine towards 0), across the resume too.
        let schedule = LearningRateSchedule(kind: .cosine, baseLearningRate: 1e-3, warmupSteps: 2, totalSteps: 7)
        #expect(try TrainingLog.read(resumedFolder.appendingPathComponent("vae_log.jsonl")).map(\.lr)
                == (0..<7).map { schedule.learningRate(atStep: $0) })
        // A checkpoint of another seed is not silently continued.
        var other = settings("resumed")
        other.seed = 4
        #expect { try VAETrainer.run(other, resume: true) } throws: { ($0 as? TrainingConfigurationError)?.key == "seed" }
    }
}
