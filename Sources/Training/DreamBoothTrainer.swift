// A whole DreamBooth run, as diffusers' train_dreambooth.py structures it: class images for prior
// preservation (rendered by our own pipeline), the dataset, the optimizer steps with gradient
// accumulation and the learning-rate schedule, logs (train_log.jsonl and TensorBoard), checkpoints
// every `checkpointing_steps`, validation renders every `validation_steps`, and finally the trained
// model folder in `output_dir` — or, with `use_lora` (train_dreambooth_lora.py), the LoRA's files. With `train_data_dir` the same loop trains text to image on
// captioned images (train_text_to_image.py's data; see CaptionedImageDataset).
//
// Every random draw of optimizer step s, micro-batch m comes from a generator seeded by (seed, s, m),
// and epoch orders and crops from (seed, epoch): a run resumed from a checkpoint therefore continues
// with exactly the draws the uninterrupted run would have made.
//
// Data parallel (`group`, e.g. `mpirun -np N dbtrain`): train_batch_size is per rank, so a global
// batch holds N·B examples. Each rank takes its run of them (DataParallelSlice) and its rows of the
// draws made for the whole global batch, weights its gradients by its share of the examples, and the
// ranks sum gradients (one allreduce per trained network) and loss statistics before each optimizer
// step: N ranks train what one process with a batch of N·B trains, up to summation order. Class images
// are rendered once, each rank a run of them; rank 0 alone writes logs, checkpoints and the model.
import Foundation
import ImageIO
import Models
import Sampling
import Tensor
import Weights

/// What a run reports as it goes.
public enum TrainerEvent {
    case classImages(done: Int, total: Int)
    /// A prompt longer than CLIP's 75 tokens: the dropped text (as diffusers warns).
    case promptTruncated(prompt: String, dropped: String)
    case resumed(from: URL, step: Int)
    case started(steps: Int, examples: Int, parameters: Int)
    case step(TrainingLogEntry, total: Int)
    case checkpoint(URL)
    case validation([URL])
    case finished(URL)
}

public final class DreamBoothTrainer {
    public let configuration: TrainingConfiguration
    /// The network configurations of a single-file base model, which carries none (default: SD
    /// 1.5's, as for every SD 1.x checkpoint in the wild). Ignored for diffusers folders.
    public var singleFileConfigurations: ModelConfigurations?
    /// The processes training together (default: this one alone).
    public var group: any DataParallelGroup = SingleProcessGroup()

    public init(configuration: TrainingConfiguration, singleFileConfigurations: ModelConfigurations? = nil) {
        self.configuration = configuration
        self.singleFileConfigurations = singleFileConfigurations
    }

    /// Runs training to `max_train_steps`.
    /// - Parameters:
    ///   - resume: continue from the latest checkpoint in `output_dir` (or `resume_from_checkpoint`).
    ///   - isCancelled: polled between micro-batches; a cancelled run stops after saving a checkpoint.
    public func run(resume: Bool = false, isCancelled: () -> Bool = { false },
                    report: (TrainerEvent) -> Void = { _ in }) throws {
        let c = configuration
        let fm = FileManager.default
        let outputDir = URL(fileURLWithPath: c.outputDir)
        try fm.createDirectory(at: outputDir, withIntermediateDirectories: true)
        let pretrained = try ModelCheckpoint.open(URL(fileURLWithPath: c.pretrainedModelNameOrPath), configurations: singleFileConfigurations)

        let resumeFrom = try checkpointToResume(resume: resume, outputDir: outputDir)
        let resumedState = try resumeFrom.map(TrainingCheckpoint.state(in:))
        let seed = resumedState?.seed ?? c.seed.map { UInt64($0) } ?? UInt64.random(in: 0...UInt64(UInt32.max))

        if c.withPriorPreservation, let classDir = c.classDataDir, let classPrompts = c.classPrompts ?? c.classPrompt.map({ [$0] }) {
            // The sampling pipeline lives only for this: its weights are the pretrained ones.
            let generator = try ClassImageGenerator(pipeline: StableDiffusionPipeline(checkpoint: pretrained),
                                                    seed: seed, batchSize: c.sampleBatchSize)
            let directory = URL(fileURLWithPath: classDir)
            let missing = try generator.missingNumbers(in: directory, targetCount: c.numClassImages)
            group.barrier()  // every rank has counted before any rank writes
            let share = DataParallelSlice(rank: group.rank, size: group.size,
                                          perRank: max(1, (missing.count + group.size - 1) / group.size), globalCount: missing.count)
            _ = try generator.generate(prompts: classPrompts, captioned: c.classPrompts != nil, into: directory,
                                       numbers: (missing.lowerBound + share.examples.lowerBound)..<(missing.lowerBound + share.examples.upperBound),
                                       progress: { progress in
                                           if group.size == 1 { report(.classImages(done: progress.imagesDone, total: progress.imagesTotal)) }
                                       },
                                       isCancelled: isCancelled)
            group.barrier()  // every rank reads the whole folder
            if group.size > 1 && !missing.isEmpty { report(.classImages(done: missing.count, total: missing.count)) }
        }

        let tokenizer = try pretrained.tokenizer()
        // DreamBooth's instance (and class) images and prompts, or captioned images (train_data_dir).
        let dataset: any TrainingExamples = c.trainDataDir == nil
            ? try DreamBoothDataset(configuration: c, tokenizer: tokenizer, seed: seed)
            : try CaptionedImageDataset(configuration: c, tokenizer: tokenizer, seed: seed)
        for prompt in dataset.prompts where prompt.tokens.droppedTokenCount > 0 {
            report(.promptTruncated(prompt: prompt.text, dropped: prompt.tokens.droppedText))
        }
        let lora = c.useLora
            ? DreamBoothModels.LoRASettings(rank: c.rank, alpha: c.loraAlpha ?? Double(c.rank), unetTargets: c.loraTargetModules,
                                            textEncoderTargets: c.loraTextEncoderTargetModules, seed: seed &+ 0x4C6F_5241)
            : nil
        let models = try DreamBoothModels(checkpoint: pretrained, trainTextEncoder: c.trainTextEncoder, lora: lora)
        let schedulerConfiguration = try pretrained.schedulerConfiguration()
        let noising = try DDPMNoising(configuration: schedulerConfiguration)
        let step = DreamBoothStep(
            models: models, noising: noising,
            loss: DreamBoothLoss(priorPreservation: dataset.hasPriorPreservation, priorLossWeight: c.priorLossWeight,
                                 snrGamma: c.snrGamma, predictionType: noising.predictionType),
            optimizer: c.adamW, maxGradNorm: c.maxGradNorm)
        step.gradientCheckpointing = c.gradientCheckpointing
        if c.cacheLatents { step.latentCache = LatentCache() }
        let ema = c.useEma ? ExponentialMovingAverage(following: models.unetParameters, maximumDecay: c.emaDecay) : nil

        let globalBatchSize = c.trainBatchSize * group.size
        let batchesPerEpoch = (dataset.count + globalBatchSize - 1) / globalBatchSize
        let stepsPerEpoch = (batchesPerEpoch + c.gradientAccumulationSteps - 1) / c.gradientAccumulationSteps
        let totalSteps = c.maxTrainSteps ?? c.numTrainEpochs * stepsPerEpoch
        let schedule = c.learningRateSchedule(totalSteps: totalSteps)
        let textEncoderSchedule = c.textEncoderLearningRateSchedule(totalSteps: totalSteps)

        var globalStep = 0
        if let resumeFrom, let resumedState {
            try TrainingCheckpoint.restore(step, ema: ema, from: resumeFrom)
            globalStep = resumedState.globalStep
            report(.resumed(from: resumeFrom, step: globalStep))
        }
        let writer = group.isWriter
        let log = writer ? try TrainingLog(url: outputDir.appendingPathComponent("train_log.jsonl"), resumingAfter: globalStep) : nil
        let board = writer ? try TensorBoardWriter(directory: outputDir.appendingPathComponent(c.loggingDir).appendingPathComponent("dreambooth")) : nil
        report(.started(steps: totalSteps, examples: dataset.count,
                        parameters: models.arenas.reduce(0) { $0 + $1.entries.reduce(0) { $0 + $1.count } }))

        let latentChannels = models.unet.configuration.inChannels
        let latentSide = c.resolution / models.vae.configuration.downsamplingFactor
        var epoch = globalStep / stepsPerEpoch
        var skip = (globalStep % stepsPerEpoch) * c.gradientAccumulationSteps
        var micro = 0, lossSum = 0.0, priorSum = 0.0, started = Date()
        training: while globalStep < totalSteps {
            let batches = dataset.batches(epoch: epoch, batchSize: globalBatchSize)
            for (index, indices) in batches.enumerated() where index >= skip {
                // Every rank stops at the same micro-batch when any of them is asked to.
                if group.sum([isCancelled() ? 1 : 0])[0] > 0 {
                    if globalStep > 0 && writer { report(.checkpoint(try save(step, ema, globalStep, seed, outputDir))) }
                    group.barrier()
                    return
                }
                let slice = DataParallelSlice(rank: group.rank, size: group.size, perRank: c.trainBatchSize, globalCount: indices.count)
                let rows = (dataset.hasPriorPreservation ? 2 : 1) * indices.count
                let draws = noiseDraws(seed: seed, step: globalStep, micro: micro, count: rows,
                                       shape: [latentChannels, latentSide, latentSide], timesteps: noising.trainTimesteps)
                if !slice.examples.isEmpty {
                    let batch = try dataset.batch(Array(indices[slice.examples]), epoch: epoch)
                    let mine = group.size == 1 ? draws : draws.rows(slice.rows(priorPreservation: dataset.hasPriorPreservation))
                    let value = step.accumulate(batch, noise: mine, gradientScale: slice.weight / Double(c.gradientAccumulationSteps))
                    lossSum += slice.weight * value.loss
                    priorSum += slice.weight * (value.priorLoss ?? 0)
                }
                micro += 1
                // accelerate syncs after `gradient_accumulation_steps` micro-batches and at an epoch's end.
                guard micro == c.gradientAccumulationSteps || index == batches.count - 1 else { continue }
                if group.size > 1 {
                    for arena in step.models.arenas {
                        group.sum(UnsafeMutableBufferPointer(start: arena.gradients.base, count: arena.gradients.count))
                    }
                    let sums = group.sum([lossSum, priorSum])
                    (lossSum, priorSum) = (sums[0], sums[1])
                }
                let rate = schedule.learningRate(atStep: globalStep)
                let textEncoderRate = textEncoderSchedule.learningRate(atStep: globalStep)
                let norm = step.applyGradients(learningRate: rate, textEncoderLearningRate: textEncoderRate)
                ema?.update()
                globalStep += 1
                let entry = TrainingLogEntry(step: globalStep, loss: lossSum / Double(micro),
                                             priorLoss: dataset.hasPriorPreservation ? priorSum / Double(micro) : nil,
                                             lr: rate, gradNorm: norm, seconds: Date().timeIntervalSince(started))
                try log?.append(entry)
                try board?.addScalar("loss", Float(entry.loss), step: globalStep)
                try board?.addScalar("lr", Float(rate), step: globalStep)
                if c.textEncoderLr != nil { try board?.addScalar("lr_text_encoder", Float(textEncoderRate), step: globalStep) }
                try board?.addScalar("grad_norm", Float(norm), step: globalStep)
                if let prior = entry.priorLoss { try board?.addScalar("prior_loss", Float(prior), step: globalStep) }
                report(.step(entry, total: totalSteps))
                micro = 0; lossSum = 0; priorSum = 0

                if globalStep % c.checkpointingSteps == 0 && globalStep < totalSteps && writer {
                    report(.checkpoint(try save(step, ema, globalStep, seed, outputDir)))
                }
                if let prompt = c.validationPrompt, globalStep % c.validationSteps == 0, let board {
                    let images = try validate(prompt, models: models, tokenizer: tokenizer, scheduler: schedulerConfiguration,
                                              seed: seed, step: globalStep, outputDir: outputDir)
                    for (i, image) in images.enumerated() {
                        try board.addImage("validation/\(i)", png: image.png, width: image.width, height: image.height, step: globalStep)
                    }
                    report(.validation(images.map(\.url)))
                }
                started = Date()
                if globalStep >= totalSteps { break training }
            }
            skip = 0
            epoch += 1
        }
        guard writer else { return }
        if let unetLoRA = models.unetLoRA {
            _ = try LoRAFileWriter.write(unet: unetLoRA, textEncoder: models.textEncoderLoRA, unetTargets: c.loraTargetModules,
                                         textEncoderTargets: c.loraTextEncoderTargetModules, to: outputDir, dtype: c.savedDType ?? .f32)
        } else {
            try TrainedModelFolder.write(step, pretrained: pretrained, to: outputDir, dtype: c.savedDType ?? .f32,
                                         unetWeights: ema?.namedValues)
        }
        report(.finished(outputDir))
    }

    private func save(_ step: DreamBoothStep, _ ema: ExponentialMovingAverage?, _ globalStep: Int, _ seed: UInt64,
                      _ outputDir: URL) throws -> URL {
        try TrainingCheckpoint.save(step, ema: ema, state: TrainerState(globalStep: globalStep, seed: seed), in: outputDir,
                                    totalLimit: configuration.checkpointsTotalLimit)
    }

    /// The checkpoint to continue from: `resume_from_checkpoint` (a path, a `checkpoint-N` name in
    /// output_dir, or "latest"), or with `resume` the latest one; nil to start afresh.
    func checkpointToResume(resume: Bool, outputDir: URL) throws -> URL? {
        let request = configuration.resumeFromCheckpoint ?? (resume ? "latest" : nil)
        guard let request else { return nil }
        if request == "latest" { return TrainingCheckpoint.list(in: outputDir).last?.url }
        let candidates = [URL(fileURLWithPath: request), outputDir.appendingPathComponent(request)]
        guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0.appendingPathComponent(TrainingCheckpoint.stateFileName).path) }) else {
            throw CheckpointError.notFound(path: request)
        }
        return found
    }

    /// The draws of micro-batch `micro` of optimizer step `step`: a generator of its own, so that
    /// they do not depend on what ran before (resuming reproduces them).
    func noiseDraws(seed: UInt64, step: Int, micro: Int, count: Int, shape: [Int], timesteps: Int) -> DreamBoothNoise {
        var generator = TorchGenerator(seed: seed &* 0x9E37_79B9 &+ UInt64(step) &* 1_000_003 &+ UInt64(micro))
        let latentSample = generator.randn([count] + shape)
        let noise = generator.randn([count] + shape)
        if configuration.offsetNoise {
            // train_dreambooth.py: noise + 0.1 · randn(N, C, 1, 1), one offset per sample and channel.
            let offsets = generator.randn([count, shape[0]])
            let plane = shape[1] * shape[2]
            for i in 0..<noise.count { noise.pointer[i] += 0.1 * offsets.pointer[i / plane] }
        }
        let steps = (0..<count).map { _ in Int(generator.random64() % UInt64(timesteps)) }
        return DreamBoothNoise(latentSample: latentSample, noise: noise, timesteps: steps)
    }

    /// Renders the validation prompt with the weights as they are now (diffusers' log_validation:
    /// DPM-Solver++, 25 steps), into `<output_dir>/validation/step-<N>-<i>.png` (and TensorBoard).
    func validate(_ prompt: String, models: DreamBoothModels, tokenizer: CLIPTokenizer, scheduler: SchedulerConfiguration,
                  seed: UInt64, step: Int, outputDir: URL) throws -> [(url: URL, png: [UInt8], width: Int, height: Int)] {
        let pipeline = StableDiffusionPipeline(text: TextConditioner(tokenizer: tokenizer, encoder: models.textEncoder),
                                               unet: models.unet, vae: models.vae, schedulerConfiguration: scheduler)
        var request = RenderRequest(prompt: prompt, seed: seed)
        request.steps = 25
        request.sampler = "dpmpp_2m"
        request.count = configuration.numValidationImages
        request.loras = models.loraUses  // a LoRA run renders through the LoRA being trained
        let folder = outputDir.appendingPathComponent("validation")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return try pipeline.render(request).enumerated().map { i, rendered in
            let infotext = GenerationParameters(prompt: prompt, steps: 25, sampler: "dpmpp_2m", cfgScale: 7.5, seed: rendered.seed,
                                                width: rendered.image.width, height: rendered.image.height,
                                                modelName: "step \(step)").infotext
            let data = try ImageFile.encode(rendered.image, format: .png, parameters: infotext)
            let url = folder.appendingPathComponent("step-\(step)-\(i).png")
            try data.write(to: url, options: .atomic)
            return (url, [UInt8](data), rendered.image.width, rendered.image.height)
        }
    }
}
