// A VAE training run (`dbtrain train-vae`): the VAE of a model folder (for a model made from
// nothing, the random one `dbtrain init` wrote) trained on a folder of images with VAELoss, then a
// copy of the model folder with the trained VAE. Only images are read from the data folder
// (captions are ignored: the autoencoder does not see text).
//
// Determinism: the images of step s and their flips come from SplitMix64(seed, s), the posterior
// noise from a torch-compatible generator seeded by (seed, s) — a function of the step alone. So a
// run resumed from `<out>/checkpoint-<step>/` (the VAE's weights, AdamW's state, the step; the
// DreamBooth trainer's format) ends with the weights of the uninterrupted run, bit for bit.
import Foundation
import ImageIO
import Models
import Sampling
import Tensor
import Weights

/// What `dbtrain train-vae` trains.
public struct VAETrainingSettings: Sendable, Equatable {
    public var modelDirectory: String
    public var dataDirectory: String
    public var outputDirectory: String
    public var resolution = 64
    public var steps = 1000
    public var batchSize = 8
    public var learningRate = 1e-3
    /// The learning-rate schedule (diffusers' names; "cosine" anneals to 0, which sharpens edges).
    public var lrScheduler = LearningRateSchedule.Kind.constant
    public var lrWarmupSteps = 0
    public var klWeight = 1e-6
    public var maxGradNorm = 1.0
    public var randomFlip = true
    public var seed: UInt64 = 0
    /// Train the decoder only: the encoder, hence the latent space a UNet was trained in, stays as it
    /// was, so a trained model's decoder can be refined without retraining its UNet.
    public var decoderOnly = false
    /// The `scaling_factor` written with the trained VAE; nil: measured on the training images
    /// (LatentScale), as a VAE trained from nothing needs — or, with `decoderOnly`, the model's own
    /// (the latents have not changed).
    public var scalingFactor: Float?
    /// Steps between checkpoints; an interrupted run also saves one.
    public var checkpointingSteps = 500
    /// Checkpoints kept (the oldest are removed).
    public var checkpointsTotalLimit = 2

    public init(modelDirectory: String, dataDirectory: String, outputDirectory: String) {
        self.modelDirectory = modelDirectory; self.dataDirectory = dataDirectory; self.outputDirectory = outputDirectory
    }

    /// Checks ranges; errors name the flag.
    public func validate() throws {
        func fail(_ flag: String, _ message: String) -> TrainingConfigurationError { TrainingConfigurationError(key: flag, message) }
        guard resolution >= 8, resolution % 8 == 0 else { throw fail("resolution", "must be a multiple of 8, at least 8 (got \(resolution))") }
        guard steps >= 1 else { throw fail("steps", "must be at least 1 (got \(steps))") }
        guard checkpointingSteps >= 1 else { throw fail("checkpointing-steps", "must be at least 1 (got \(checkpointingSteps))") }
        guard batchSize >= 1 else { throw fail("batch-size", "must be at least 1 (got \(batchSize))") }
        guard learningRate > 0, learningRate.isFinite else { throw fail("learning-rate", "must be a positive number") }
        guard lrWarmupSteps >= 0 else { throw fail("lr-warmup-steps", "must not be negative") }
        guard klWeight >= 0, klWeight.isFinite else { throw fail("kl-weight", "must not be negative") }
        guard maxGradNorm > 0 else { throw fail("max-grad-norm", "must be positive") }
        if let scalingFactor, !(scalingFactor > 0 && scalingFactor.isFinite) {
            throw fail("scaling-factor", "must be a positive number (got \(scalingFactor))")
        }
    }
}

/// Runs VAE training and writes the model folder.
public enum VAETrainer {
    /// Trains, reporting each step's log entry, and writes `<output>/` (the model folder with the
    /// trained VAE), `<output>/vae_log.jsonl` and checkpoints. `isCancelled` is polled between
    /// steps; a cancelled run saves a checkpoint and stops before writing the model. With `resume`
    /// the run continues from the latest checkpoint in `<output>`. `scaled` hears the scaling factor written.
    /// - Returns: the log entries of the steps this call ran.
    @discardableResult
    public static func run(_ s: VAETrainingSettings, resume: Bool = false, isCancelled: () -> Bool = { false },
                           report: (TrainingLogEntry, VAELoss.Value) -> Void = { _, _ in },
                           scaled: (Float) -> Void = { _ in }) throws -> [TrainingLogEntry] {
        try s.validate()
        let model = URL(fileURLWithPath: s.modelDirectory), output = URL(fileURLWithPath: s.outputDirectory)
        let checkpoint = try ModelCheckpoint.open(model)
        guard checkpoint.layout == .diffusers else {
            throw TrainingConfigurationError(key: "model", "train-vae needs a diffusers model folder (dbtrain init writes one)")
        }
        let files = try ImageFolder.imageFiles(in: URL(fileURLWithPath: s.dataDirectory), role: "training")
        guard !files.isEmpty else { throw TrainingDataError.noImages(role: "training", path: s.dataDirectory) }
        let transform = TrainingImageTransform(resolution: s.resolution, centerCrop: true)
        // Decoded once: a bad file stops the run before it starts, and steps do not re-read files.
        let images = try files.map { (file: URL) throws -> RGBImage in
            var unused = SplitMix64(seed: 0)  // a centre crop draws nothing
            return transform.croppedImage(try DreamBoothDataset.load(file), using: &unused)
        }
        let step = try VAETrainingStep(checkpoint: checkpoint, loss: VAELoss(klWeight: s.klWeight),
                                       optimizer: AdamWHyperparameters(weightDecay: 0), maxGradNorm: s.maxGradNorm,
                                       trainsEncoder: !s.decoderOnly)
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        var firstStep = 0
        if resume, let latest = TrainingCheckpoint.list(in: output).last {
            let state = try TrainingCheckpoint.state(in: latest.url)
            guard state.seed == s.seed else {
                throw TrainingConfigurationError(key: "seed", "\(latest.url.path) was made with seed \(state.seed), not \(s.seed)")
            }
            try TrainingCheckpoint.restore(step, from: latest.url)
            firstStep = state.globalStep
        }
        let log = try TrainingLog(url: output.appendingPathComponent("vae_log.jsonl"), resumingAfter: firstStep)
        func save(_ done: Int) throws {
            _ = try TrainingCheckpoint.save(step, state: TrainerState(globalStep: done, seed: s.seed), in: output,
                                            totalLimit: s.checkpointsTotalLimit)
        }
        let factor = checkpoint.configurations.vae.downsamplingFactor
        let latentShape = [s.batchSize, checkpoint.configurations.vae.latentChannels, s.resolution / factor, s.resolution / factor]
        let schedule = LearningRateSchedule(kind: s.lrScheduler, baseLearningRate: s.learningRate,
                                            warmupSteps: s.lrWarmupSteps, totalSteps: s.steps)
        var entries: [TrainingLogEntry] = []
        for index in firstStep..<max(firstStep, s.steps) {
            if isCancelled() {
                if index > firstStep { try save(index) }
                return entries
            }
            let started = Date()
            var picker = SplitMix64(seed: s.seed, 0x5AE, index)
            let batch = Tensor(uninitialized: [s.batchSize, 3, s.resolution, s.resolution])
            for row in 0..<s.batchSize {
                var image = images[picker.uniform(below: images.count)]
                // EXIF orientation 2 is exactly a left-right mirror.
                if s.randomFlip && picker.next() & 1 == 1 { image = EXIFOrientation.topRight.upright(image) }
                ImageTensor.write(image, into: batch[row])
            }
            var noise = TorchGenerator(seed: s.seed &* 0x9E37_79B9 &+ UInt64(index))
            let value = step.accumulate(batch, sample: noise.randn(latentShape))
            let rate = schedule.learningRate(atStep: index)
            let norm = step.applyGradients(learningRate: rate)
            let entry = TrainingLogEntry(step: index + 1, loss: value.loss, priorLoss: nil, lr: rate,
                                         gradNorm: norm, seconds: Date().timeIntervalSince(started))
            try log.append(entry)
            entries.append(entry)
            report(entry, value)
            if (index + 1) % s.checkpointingSteps == 0 && index + 1 < s.steps { try save(index + 1) }
        }
        var configuration = checkpoint.configurations.vae
        configuration.scalingFactor = s.scalingFactor
            ?? (s.decoderOnly ? configuration.scalingFactor : LatentScale.calibrate(step.vae, images: images, seed: s.seed))
        scaled(configuration.scalingFactor)
        try writeModel(from: model, vae: step, configuration: configuration, to: output)
        return entries
    }

    /// `output` gets the model folder's components, the VAE replaced by the trained one; each is
    /// assembled aside and renamed into place, model_index.json last.
    static func writeModel(from model: URL, vae step: VAETrainingStep, configuration: AutoencoderConfiguration, to output: URL) throws {
        let fm = FileManager.default
        let staging = output.appendingPathComponent(".vae-model.partial-\(getpid())")
        try? fm.removeItem(at: staging)
        try fm.createDirectory(at: staging, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: staging) }
        try RandomModelFolder.writeComponent("vae", file: "diffusion_pytorch_model.safetensors", tensors: step.parameters.namedValues,
                                             config: ConfigurationFile.encode(configuration), in: staging)
        for name in TrainedModelFolder.entries where name != "vae" && fm.fileExists(atPath: model.appendingPathComponent(name).path) {
            try fm.copyItem(at: model.appendingPathComponent(name), to: staging.appendingPathComponent(name))
        }
        try TrainedModelFolder.install(from: staging, into: output)
    }
}
