// The trainer's settings. Keys and defaults are those of diffusers' `train_dreambooth.py`, which
// DreamBooth users already know — plus, for text-to-image training on captioned images, the data keys
// of `train_text_to_image.py` (`train_data_dir`, `caption_column`, `random_flip`, `max_train_samples`;
// with `train_data_dir` the instance keys are not needed), each read from a YAML file and overridable on the command line with the
// same names (`--max_train_steps 400`, `--with_prior_preservation`). Unknown keys and wrongly typed
// values are errors that name the key: a typo must not silently train with a default.
import Foundation
import Weights
import Yams

/// What `dbtrain --config train.yaml` trains.
public struct TrainingConfiguration: Codable, Equatable, Sendable {
    // Model and data
    public var pretrainedModelNameOrPath: String
    /// Where the trained model folder, checkpoints and logs go. (diffusers' default is
    /// "text-inversion-model", a leftover of another script; ours names what it holds.)
    public var outputDir: String = "dreambooth-model"
    /// DreamBooth's subject photos and prompt ("" in text-to-image training, which takes `trainDataDir`).
    public var instanceDataDir: String
    public var instancePrompt: String
    /// Text-to-image training: a folder of images with captions (metadata.jsonl or .txt files).
    public var trainDataDir: String?
    /// The metadata.jsonl key of the caption.
    public var captionColumn = "text"
    /// Mirror training images left-right at random.
    public var randomFlip = false
    /// Use only the first this many examples of `trainDataDir`.
    public var maxTrainSamples: Int?
    /// Share of captions replaced by the empty prompt (kohya's `caption_dropout_rate`; SD itself was
    /// trained with 10 %): it teaches the unconditional prediction that classifier-free guidance uses.
    public var captionDropoutRate = 0.0
    public var classDataDir: String?
    public var classPrompt: String?
    /// Several class prompts instead of one (our extension: diffusers has `class_prompt` only): class
    /// image n is rendered from prompt n mod count and trained with it (a caption file beside the image
    /// records it). For a class that is asked for in many ways — with colours, on backgrounds —, so
    /// that prior preservation keeps all of them, not only the bare class prompt.
    public var classPrompts: [String]?
    public var withPriorPreservation = false
    public var priorLossWeight = 1.0
    public var numClassImages = 100
    public var resolution = 512
    public var centerCrop = false
    // Batches and steps
    public var trainBatchSize = 4
    public var sampleBatchSize = 4
    public var numTrainEpochs = 1
    public var maxTrainSteps: Int?
    public var gradientAccumulationSteps = 1
    public var gradientCheckpointing = false
    /// Keep each image's VAE posterior after its first encode (kohya's `cache_latents`): same bytes, less work.
    public var cacheLatents = false
    public var trainTextEncoder = false
    // Optimisation
    public var learningRate = 5e-6
    /// The text encoder's own rate (kohya's and diffusers' SDXL scripts' `text_encoder_lr`); nil: `learning_rate`.
    /// It follows the same schedule. A rate above the UNet's lets the token's meaning move while the
    /// UNet, which holds the prior, barely does.
    public var textEncoderLr: Double?
    public var scaleLr = false
    public var lrScheduler = "constant"
    public var lrWarmupSteps = 500
    public var lrNumCycles = 1
    public var lrPower = 1.0
    public var adamBeta1 = 0.9
    public var adamBeta2 = 0.999
    public var adamEpsilon = 1e-8
    public var adamWeightDecay = 1e-2
    public var maxGradNorm = 1.0
    public var offsetNoise = false
    public var snrGamma: Double?
    public var seed: Int?
    // Checkpoints, validation, logs
    public var checkpointingSteps = 500
    public var checkpointsTotalLimit: Int?
    public var resumeFromCheckpoint: String?
    public var validationPrompt: String?
    public var numValidationImages = 4
    public var validationSteps = 100
    public var loggingDir = "logs"
    /// How the written model folder stores its weights: "fp32", "fp16" or "bf16" (kohya's
    /// `save_precision`). Training itself is fp32; checkpoints keep fp32 so that resume is exact.
    public var savePrecision = "fp32"
    /// Keep an exponential moving average of the UNet and write it as the model (train_text_to_image.py's `use_ema`).
    public var useEma = false
    /// The average's largest decay (diffusers' EMAModel default).
    public var emaDecay = 0.9999
    // LoRA (train_dreambooth_lora.py): the base model frozen, low-rank factors trained instead.
    /// Train a LoRA instead of the whole UNet (and text encoder): writes pytorch_lora_weights.safetensors.
    public var useLora = false
    /// The factors' rank (`--rank`).
    public var rank = 4
    /// alpha; the update is scaled by alpha / rank. nil: alpha = rank, as train_dreambooth_lora.py sets it.
    public var loraAlpha: Double?
    /// The UNet modules adapted: every module whose path ends with one of these (diffusers' defaults).
    public var loraTargetModules = ["to_k", "to_q", "to_v", "to_out.0"]
    /// The text encoder's, when `train_text_encoder` is on.
    public var loraTextEncoderTargetModules = ["q_proj", "k_proj", "v_proj", "out_proj"]

    public init(pretrainedModelNameOrPath: String, instanceDataDir: String, instancePrompt: String) {
        self.pretrainedModelNameOrPath = pretrainedModelNameOrPath
        self.instanceDataDir = instanceDataDir
        self.instancePrompt = instancePrompt
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case pretrainedModelNameOrPath = "pretrained_model_name_or_path", outputDir = "output_dir"
        case instanceDataDir = "instance_data_dir", instancePrompt = "instance_prompt"
        case trainDataDir = "train_data_dir", captionColumn = "caption_column", randomFlip = "random_flip"
        case maxTrainSamples = "max_train_samples", captionDropoutRate = "caption_dropout_rate"
        case classDataDir = "class_data_dir", classPrompt = "class_prompt", classPrompts = "class_prompts"
        case withPriorPreservation = "with_prior_preservation", priorLossWeight = "prior_loss_weight"
        case numClassImages = "num_class_images", resolution, centerCrop = "center_crop"
        case trainBatchSize = "train_batch_size", sampleBatchSize = "sample_batch_size"
        case numTrainEpochs = "num_train_epochs", maxTrainSteps = "max_train_steps"
        case gradientAccumulationSteps = "gradient_accumulation_steps", gradientCheckpointing = "gradient_checkpointing", cacheLatents = "cache_latents"
        case trainTextEncoder = "train_text_encoder", learningRate = "learning_rate", textEncoderLr = "text_encoder_lr"
        case scaleLr = "scale_lr"
        case lrScheduler = "lr_scheduler", lrWarmupSteps = "lr_warmup_steps", lrNumCycles = "lr_num_cycles"
        case lrPower = "lr_power", adamBeta1 = "adam_beta1", adamBeta2 = "adam_beta2", adamEpsilon = "adam_epsilon"
        case adamWeightDecay = "adam_weight_decay", maxGradNorm = "max_grad_norm", offsetNoise = "offset_noise"
        case snrGamma = "snr_gamma", seed, checkpointingSteps = "checkpointing_steps"
        case checkpointsTotalLimit = "checkpoints_total_limit", resumeFromCheckpoint = "resume_from_checkpoint"
        case validationPrompt = "validation_prompt", numValidationImages = "num_validation_images"
        case validationSteps = "validation_steps", loggingDir = "logging_dir", savePrecision = "save_precision"
        case useEma = "use_ema", emaDecay = "ema_decay"
        case useLora = "use_lora", rank, loraAlpha = "lora_alpha", loraTargetModules = "lora_target_modules"
        case loraTextEncoderTargetModules = "lora_text_encoder_target_modules"
    }

    /// Every key the configuration accepts.
    public static var keys: [String] { CodingKeys.allCases.map(\.rawValue) }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try c.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        pretrainedModelNameOrPath = try c.decode(String.self, forKey: .pretrainedModelNameOrPath)
        trainDataDir = try c.decodeIfPresent(String.self, forKey: .trainDataDir)
        // DreamBooth needs its two instance keys; text-to-image training has captions instead.
        instanceDataDir = trainDataDir == nil ? try c.decode(String.self, forKey: .instanceDataDir)
            : try value(.instanceDataDir, "")
        instancePrompt = trainDataDir == nil ? try c.decode(String.self, forKey: .instancePrompt)
            : try value(.instancePrompt, "")
        captionColumn = try value(.captionColumn, captionColumn)
        randomFlip = try value(.randomFlip, randomFlip)
        maxTrainSamples = try c.decodeIfPresent(Int.self, forKey: .maxTrainSamples)
        captionDropoutRate = try value(.captionDropoutRate, captionDropoutRate)
        outputDir = try value(.outputDir, outputDir)
        classDataDir = try c.decodeIfPresent(String.self, forKey: .classDataDir)
        classPrompt = try c.decodeIfPresent(String.self, forKey: .classPrompt)
        // A YAML list, or one prompt (as on the command line).
        if let list = try? c.decodeIfPresent([String].self, forKey: .classPrompts) {
            classPrompts = list
        } else {
            classPrompts = try c.decodeIfPresent(String.self, forKey: .classPrompts).map { [$0] }
        }
        withPriorPreservation = try value(.withPriorPreservation, withPriorPreservation)
        priorLossWeight = try value(.priorLossWeight, priorLossWeight)
        numClassImages = try value(.numClassImages, numClassImages)
        resolution = try value(.resolution, resolution)
        centerCrop = try value(.centerCrop, centerCrop)
        trainBatchSize = try value(.trainBatchSize, trainBatchSize)
        sampleBatchSize = try value(.sampleBatchSize, sampleBatchSize)
        numTrainEpochs = try value(.numTrainEpochs, numTrainEpochs)
        maxTrainSteps = try c.decodeIfPresent(Int.self, forKey: .maxTrainSteps)
        gradientAccumulationSteps = try value(.gradientAccumulationSteps, gradientAccumulationSteps)
        gradientCheckpointing = try value(.gradientCheckpointing, gradientCheckpointing)
        cacheLatents = try value(.cacheLatents, cacheLatents)
        trainTextEncoder = try value(.trainTextEncoder, trainTextEncoder)
        learningRate = try value(.learningRate, learningRate)
        textEncoderLr = try c.decodeIfPresent(Double.self, forKey: .textEncoderLr)
        scaleLr = try value(.scaleLr, scaleLr)
        lrScheduler = try value(.lrScheduler, lrScheduler)
        lrWarmupSteps = try value(.lrWarmupSteps, lrWarmupSteps)
        lrNumCycles = try value(.lrNumCycles, lrNumCycles)
        lrPower = try value(.lrPower, lrPower)
        adamBeta1 = try value(.adamBeta1, adamBeta1)
        adamBeta2 = try value(.adamBeta2, adamBeta2)
        adamEpsilon = try value(.adamEpsilon, adamEpsilon)
        adamWeightDecay = try value(.adamWeightDecay, adamWeightDecay)
        maxGradNorm = try value(.maxGradNorm, maxGradNorm)
        offsetNoise = try value(.offsetNoise, offsetNoise)
        snrGamma = try c.decodeIfPresent(Double.self, forKey: .snrGamma)
        seed = try c.decodeIfPresent(Int.self, forKey: .seed)
        checkpointingSteps = try value(.checkpointingSteps, checkpointingSteps)
        checkpointsTotalLimit = try c.decodeIfPresent(Int.self, forKey: .checkpointsTotalLimit)
        resumeFromCheckpoint = try c.decodeIfPresent(String.self, forKey: .resumeFromCheckpoint)
        validationPrompt = try c.decodeIfPresent(String.self, forKey: .validationPrompt)
        numValidationImages = try value(.numValidationImages, numValidationImages)
        validationSteps = try value(.validationSteps, validationSteps)
        loggingDir = try value(.loggingDir, loggingDir)
        savePrecision = try value(.savePrecision, savePrecision)
        useEma = try value(.useEma, useEma)
        emaDecay = try value(.emaDecay, emaDecay)
        useLora = try value(.useLora, useLora)
        rank = try value(.rank, rank)
        loraAlpha = try c.decodeIfPresent(Double.self, forKey: .loraAlpha)
        // A YAML list or a comma-separated string (as on the command line).
        func modules(_ key: CodingKeys, _ fallback: [String]) throws -> [String] {
            if let list = try? c.decodeIfPresent([String].self, forKey: key) { return list }
            guard let text = try c.decodeIfPresent(String.self, forKey: key) else { return fallback }
            return text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        loraTargetModules = try modules(.loraTargetModules, loraTargetModules)
        loraTextEncoderTargetModules = try modules(.loraTextEncoderTargetModules, loraTextEncoderTargetModules)
    }
}

/// A configuration that cannot be used, naming the key (and the file) at fault.
public struct TrainingConfigurationError: Error, Equatable, CustomStringConvertible {
    public let key: String?
    public let message: String
    public init(key: String?, _ message: String) { self.key = key; self.message = message }
    public var description: String { key.map { "\($0): \(message)" } ?? message }
}

extension TrainingConfiguration {
    /// Reads YAML text (a mapping of the keys above), applies command-line `overrides`, checks the
    /// result. `source` names the file in errors.
    public static func load(yaml: String, overrides: [String] = [], source: String = "configuration") throws -> TrainingConfiguration {
        var settings: [String: Any] = [:]
        let parsed: Any?
        do { parsed = try Yams.load(yaml: yaml) } catch {
            throw TrainingConfigurationError(key: nil, "\(source) is not valid YAML: \(error)")
        }
        if let parsed {
            guard let mapping = parsed as? [String: Any] else {
                throw TrainingConfigurationError(key: nil, "\(source) must be a mapping of settings (key: value)")
            }
            settings = mapping
        }
        for (key, value) in try parseOverrides(overrides) { settings[key] = value }
        for key in settings.keys.sorted() where !keys.contains(key) {
            throw TrainingConfigurationError(key: key, "unknown setting\(suggestion(for: key)) in \(source)")
        }
        settings = settings.filter { !($0.value is NSNull) }
        let configuration: TrainingConfiguration
        do {
            let json = try JSONSerialization.data(withJSONObject: settings.mapValues(jsonCompatible))
            configuration = try JSONDecoder().decode(TrainingConfiguration.self, from: json)
        } catch let error as DecodingError {
            throw Self.describe(error, source: source)
        }
        try configuration.validate()
        return configuration
    }

    /// Reads a YAML file; see `load(yaml:overrides:source:)`.
    public static func load(file: URL, overrides: [String] = []) throws -> TrainingConfiguration {
        let text: String
        do { text = try String(contentsOf: file, encoding: .utf8) } catch {
            throw TrainingConfigurationError(key: nil, "cannot read \(file.path): \(error.localizedDescription)")
        }
        return try load(yaml: text, overrides: overrides, source: file.path)
    }

    /// `--key value`, `--key=value`, or a bare `--key` (true) for a boolean setting. Values are YAML
    /// scalars, typed as they would be in the file.
    static func parseOverrides(_ arguments: [String]) throws -> [(String, Any)] {
        var result: [(String, Any)] = []
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            guard argument.hasPrefix("--"), argument.count > 2 else {
                throw TrainingConfigurationError(key: nil, "expected --setting value, found '\(argument)'")
            }
            var key = String(argument.dropFirst(2))
            var text: String?
            if let equals = key.firstIndex(of: "=") {
                text = String(key[key.index(after: equals)...])
                key = String(key[..<equals])
            } else if i + 1 < arguments.count, !arguments[i + 1].hasPrefix("--") {
                text = arguments[i + 1]
                i += 1
            }
            key = key.replacingOccurrences(of: "-", with: "_")
            guard keys.contains(key) else {
                throw TrainingConfigurationError(key: key, "unknown setting\(suggestion(for: key)) on the command line")
            }
            let value: Any
            if let text {
                value = (try? Yams.load(yaml: text)).flatMap { $0 } ?? text
            } else {
                value = true
            }
            result.append((key, value))
            i += 1
        }
        return result
    }

    static func jsonCompatible(_ value: Any) -> Any {
        // YAML may read a date-like or other exotic scalar; the settings only hold plain values.
        switch value {
        case is String, is Bool, is Int, is Double, is NSNull: return value
        case let list as [Any]: return list.map(jsonCompatible)
        default: return "\(value)"
        }
    }

    static func suggestion(for key: String) -> String {
        let close = keys.min { editDistance($0, key) < editDistance($1, key) }
        guard let close, editDistance(close, key) <= 3 else { return "" }
        return " (did you mean \(close)?)"
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in 1...max(b.count, 1) where !b.isEmpty {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return row[b.count]
    }

    static func describe(_ error: DecodingError, source: String) -> TrainingConfigurationError {
        switch error {
        case let .keyNotFound(key, _):
            return TrainingConfigurationError(key: key.stringValue, "required, missing from \(source)")
        case let .typeMismatch(type, context), let .valueNotFound(type, context):
            let key = context.codingPath.first?.stringValue
            return TrainingConfigurationError(key: key, "expected \(Self.typeName(type)) in \(source)")
        case let .dataCorrupted(context):
            return TrainingConfigurationError(key: context.codingPath.first?.stringValue, context.debugDescription)
        @unknown default:
            return TrainingConfigurationError(key: nil, "\(error)")
        }
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Bool.Type: "true or false"
        case is Int.Type: "a whole number"
        case is Double.Type: "a number"
        case is String.Type: "text"
        default: "\(type)"
        }
    }

    /// Checks what the types cannot: ranges, names, and settings that need each other.
    public func validate() throws {
        func fail(_ key: CodingKeys, _ message: String) -> TrainingConfigurationError {
            TrainingConfigurationError(key: key.rawValue, message)
        }
        if trainDataDir != nil {
            if withPriorPreservation { throw fail(.withPriorPreservation, "is DreamBooth's; text-to-image training (train_data_dir) has none") }
            if !instanceDataDir.isEmpty { throw fail(.instanceDataDir, "give either instance_data_dir (DreamBooth) or train_data_dir (captioned images), not both") }
            if let maxTrainSamples, maxTrainSamples < 1 { throw fail(.maxTrainSamples, "must be at least 1 (got \(maxTrainSamples))") }
            guard (0...1).contains(captionDropoutRate) else { throw fail(.captionDropoutRate, "must be in [0, 1] (got \(captionDropoutRate))") }
        } else if randomFlip {
            throw fail(.randomFlip, "applies to train_data_dir (train_dreambooth.py has no flip)")
        } else if captionDropoutRate != 0 {
            throw fail(.captionDropoutRate, "applies to train_data_dir (DreamBooth's prompts are fixed)")
        }
        if withPriorPreservation {
            if classDataDir == nil { throw fail(.classDataDir, "required with with_prior_preservation") }
            switch (classPrompt, classPrompts) {
            case (nil, nil): throw fail(.classPrompt, "required with with_prior_preservation (or class_prompts)")
            case (.some, .some): throw fail(.classPrompts, "give class_prompt or class_prompts, not both")
            case let (nil, prompts?):
                if prompts.isEmpty { throw fail(.classPrompts, "names no prompt") }
                if let empty = prompts.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
                    throw fail(.classPrompts, "prompt \(empty + 1) is empty")
                }
            default: break
            }
        }
        guard resolution >= 64, resolution % 8 == 0 else { throw fail(.resolution, "must be a multiple of 8, at least 64 (got \(resolution))") }
        for (key, value) in [(CodingKeys.trainBatchSize, trainBatchSize), (.sampleBatchSize, sampleBatchSize),
                             (.numTrainEpochs, numTrainEpochs), (.gradientAccumulationSteps, gradientAccumulationSteps),
                             (.checkpointingSteps, checkpointingSteps), (.validationSteps, validationSteps),
                             (.numValidationImages, numValidationImages), (.lrNumCycles, lrNumCycles)] where value < 1 {
            throw fail(key, "must be at least 1 (got \(value))")
        }
        if let maxTrainSteps, maxTrainSteps < 1 { throw fail(.maxTrainSteps, "must be at least 1 (got \(maxTrainSteps))") }
        if let checkpointsTotalLimit, checkpointsTotalLimit < 1 { throw fail(.checkpointsTotalLimit, "must be at least 1 (got \(checkpointsTotalLimit))") }
        guard numClassImages >= 0 else { throw fail(.numClassImages, "must not be negative") }
        guard lrWarmupSteps >= 0 else { throw fail(.lrWarmupSteps, "must not be negative") }
        guard learningRate > 0, learningRate.isFinite else { throw fail(.learningRate, "must be a positive number") }
        if let textEncoderLr {
            guard textEncoderLr > 0, textEncoderLr.isFinite else { throw fail(.textEncoderLr, "must be a positive number") }
            guard trainTextEncoder else { throw fail(.textEncoderLr, "needs train_text_encoder: true") }
            if lrScheduler == "polynomial", textEncoderLr <= LearningRateSchedule.polynomialEnd {
                throw fail(.textEncoderLr, "must exceed polynomial's end rate \(LearningRateSchedule.polynomialEnd)")
            }
        }
        guard LearningRateSchedule.Kind(rawValue: lrScheduler) != nil else {
            throw fail(.lrScheduler, "unknown schedule '\(lrScheduler)' (one of \(LearningRateSchedule.Kind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        if lrScheduler == "polynomial", learningRate <= LearningRateSchedule.polynomialEnd {
            throw fail(.learningRate, "must exceed polynomial's end rate \(LearningRateSchedule.polynomialEnd)")
        }
        guard (0..<1).contains(adamBeta1) else { throw fail(.adamBeta1, "must be in [0, 1)") }
        guard (0..<1).contains(adamBeta2) else { throw fail(.adamBeta2, "must be in [0, 1)") }
        guard adamEpsilon > 0 else { throw fail(.adamEpsilon, "must be positive") }
        guard adamWeightDecay >= 0 else { throw fail(.adamWeightDecay, "must not be negative") }
        guard maxGradNorm > 0 else { throw fail(.maxGradNorm, "must be positive") }
        guard priorLossWeight >= 0 else { throw fail(.priorLossWeight, "must not be negative") }
        if let snrGamma, !(snrGamma > 0) { throw fail(.snrGamma, "must be positive") }
        if let seed, seed < 0 { throw fail(.seed, "must not be negative") }
        guard (0..<1).contains(emaDecay) else { throw fail(.emaDecay, "must be in [0, 1) (got \(emaDecay))") }
        guard savedDType != nil else { throw fail(.savePrecision, "unknown precision '\(savePrecision)' (one of fp32, fp16, bf16)") }
        if useLora {
            guard rank >= 1 else { throw fail(.rank, "must be at least 1 (got \(rank))") }
            if let loraAlpha, !(loraAlpha > 0 && loraAlpha.isFinite) { throw fail(.loraAlpha, "must be a positive number") }
            guard !loraTargetModules.isEmpty else { throw fail(.loraTargetModules, "names no module") }
            if trainTextEncoder && loraTextEncoderTargetModules.isEmpty { throw fail(.loraTextEncoderTargetModules, "names no module") }
            if useEma { throw fail(.useEma, "is not supported with use_lora") }
        }
    }

    /// The learning-rate schedule over `totalSteps` optimizer steps.
    public func learningRateSchedule(totalSteps: Int) -> LearningRateSchedule {
        schedule(from: learningRate, totalSteps: totalSteps)
    }

    /// The text encoder's schedule: `text_encoder_lr` (else `learning_rate`) on the same curve.
    public func textEncoderLearningRateSchedule(totalSteps: Int) -> LearningRateSchedule {
        schedule(from: textEncoderLr ?? learningRate, totalSteps: totalSteps)
    }

    private func schedule(from base: Double, totalSteps: Int) -> LearningRateSchedule {
        var rate = base
        // diffusers' scale_lr: lr × accumulation × batch × processes (1 here).
        if scaleLr { rate *= Double(gradientAccumulationSteps * trainBatchSize) }
        return LearningRateSchedule(kind: LearningRateSchedule.Kind(rawValue: lrScheduler) ?? .constant,
                                    baseLearningRate: rate, warmupSteps: lrWarmupSteps, totalSteps: totalSteps,
                                    cycles: Double(lrNumCycles), power: lrPower)
    }

    /// The safetensors dtype of `save_precision`; nil when it names none.
    public var savedDType: SafetensorsDType? {
        ["fp32": SafetensorsDType.f32, "fp16": .f16, "bf16": .bf16][savePrecision]
    }

    public var adamW: AdamWHyperparameters {
        AdamWHyperparameters(beta1: adamBeta1, beta2: adamBeta2, epsilon: adamEpsilon, weightDecay: adamWeightDecay)
    }
}
