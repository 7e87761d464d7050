// A model's `scheduler/scheduler_config.json`, read as diffusers' `SchedulerMixin.from_config` reads
// it: every key is optional; a key present in the file wins, and a key absent takes the default of the
// scheduler class that is being built (which differs between classes: `timestep_spacing` is "leading"
// for DDIM/PNDM and "linspace" for the Euler, Heun, LMS and DPM-Solver classes). So this type stores
// only what the file says, and each scheduler resolves its own defaults (see `resolved(_:...)`).
// Keys a scheduler class does not take are ignored by it, as `from_config` ignores them.
import Foundation
import Models

/// The values of a diffusers `scheduler_config.json`; `nil` means "absent from the file".
public struct SchedulerConfiguration: Codable, Equatable, Sendable {
    /// `_class_name`: the scheduler the model was saved with (informational; samplers pick the class).
    public var className: String?
    public var numTrainTimesteps: Int?
    public var betaStart: Double?
    public var betaEnd: Double?
    /// "linear", "scaled_linear", "squaredcos_cap_v2" (and "exp" for Heun).
    public var betaSchedule: String?
    /// Explicit betas; when present they replace `beta_start`/`beta_end`/`beta_schedule`.
    public var trainedBetas: [Double]?
    public var stepsOffset: Int?
    /// "leading", "trailing" or "linspace".
    public var timestepSpacing: String?
    /// "epsilon", "v_prediction" or "sample".
    public var predictionType: String?
    public var setAlphaToOne: Bool?
    public var clipSample: Bool?
    public var clipSampleRange: Double?
    public var thresholding: Bool?
    public var skipPrkSteps: Bool?
    public var useKarrasSigmas: Bool?
    public var useExponentialSigmas: Bool?
    public var useBetaSigmas: Bool?
    public var useLuLambdas: Bool?
    public var useFlowSigmas: Bool?
    public var sigmaMin: Double?
    public var sigmaMax: Double?
    /// "zero" or "sigma_min".
    public var finalSigmasType: String?
    public var lowerOrderFinal: Bool?
    public var eulerAtFinal: Bool?
    /// "linear" (the only one supported) or "log_linear".
    public var interpolationType: String?
    /// "discrete" (the only one supported) or "continuous".
    public var timestepType: String?
    public var rescaleBetasZeroSnr: Bool?
    /// DPM-Solver: "midpoint" or "heun".
    public var solverType: String?
    /// DPM-Solver; the sampler name fixes it (`dpmpp_2m` is "dpmsolver++"), so the file's value is ignored.
    public var algorithmType: String?
    /// DPM-Solver; fixed to 2 by the sampler name, so the file's value is ignored.
    public var solverOrder: Int?
    /// DPM-Solver: timesteps whose log-SNR is below this are not used (default −∞: all are).
    public var lambdaMinClipped: Double?
    /// DPM-Solver "learned"/"learned_range" (models with predicted variance; not SD 1.x).
    public var varianceType: String?
    public var useDynamicShifting: Bool?
    /// LCMScheduler: the distillation schedule's step count (default 50), the most steps it renders.
    public var originalInferenceSteps: Int?
    /// LCMScheduler: the factor on t in the boundary-condition scalings (default 10).
    public var timestepScaling: Double?

    enum CodingKeys: String, CodingKey {
        case className = "_class_name"
        case numTrainTimesteps = "num_train_timesteps"
        case betaStart = "beta_start"
        case betaEnd = "beta_end"
        case betaSchedule = "beta_schedule"
        case trainedBetas = "trained_betas"
        case stepsOffset = "steps_offset"
        case timestepSpacing = "timestep_spacing"
        case predictionType = "prediction_type"
        case setAlphaToOne = "set_alpha_to_one"
        case clipSample = "clip_sample"
        case clipSampleRange = "clip_sample_range"
        case thresholding
        case skipPrkSteps = "skip_prk_steps"
        case useKarrasSigmas = "use_karras_sigmas"
        case useExponentialSigmas = "use_exponential_sigmas"
        case useBetaSigmas = "use_beta_sigmas"
        case useLuLambdas = "use_lu_lambdas"
        case useFlowSigmas = "use_flow_sigmas"
        case sigmaMin = "sigma_min"
        case sigmaMax = "sigma_max"
        case finalSigmasType = "final_sigmas_type"
        case lowerOrderFinal = "lower_order_final"
        case eulerAtFinal = "euler_at_final"
        case interpolationType = "interpolation_type"
        case timestepType = "timestep_type"
        case rescaleBetasZeroSnr = "rescale_betas_zero_snr"
        case solverType = "solver_type"
        case algorithmType = "algorithm_type"
        case solverOrder = "solver_order"
        case lambdaMinClipped = "lambda_min_clipped"
        case varianceType = "variance_type"
        case useDynamicShifting = "use_dynamic_shifting"
        case originalInferenceSteps = "original_inference_steps"
        case timestepScaling = "timestep_scaling"
    }

    /// A configuration with every key absent: each scheduler takes its own diffusers defaults.
    public init() {}

    /// What SD 1.x ships in `scheduler/scheduler_config.json` (a PNDMScheduler config, no
    /// `timestep_spacing`): the stand-in for checkpoints that carry no scheduler configuration
    /// (single-file `.safetensors`/`.ckpt`; see `CheckpointCompanions`). Parsed from the same text
    /// that model folders written by dbrender carry, so the two cannot drift apart.
    public static let stableDiffusion1: SchedulerConfiguration = {
        do { return try decode(Data(RandomModelFolder.schedulerConfig.utf8), path: "SD 1.x default") } catch {
            preconditionFailure("the built-in SD 1.x scheduler configuration does not parse: \(error)")
        }
    }()

    /// Parses a `scheduler_config.json`. Python's `json` writes −∞ (DPM-Solver's default
    /// `lambda_min_clipped`) as `-Infinity`, which only JSON5 accepts, so the file is read as JSON5.
    public init(contentsOf url: URL) throws(SchedulerError) {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw .unreadableConfiguration(path: url.path, reason: error.localizedDescription)
        }
        self = try Self.decode(data, path: url.path)
    }

    /// Parses configuration JSON (JSON5 accepted); `path` only labels errors.
    public static func decode(_ data: Data, path: String = "<memory>") throws(SchedulerError) -> SchedulerConfiguration {
        let decoder = JSONDecoder()
        decoder.allowsJSON5 = true
        do { return try decoder.decode(SchedulerConfiguration.self, from: data) } catch {
            throw .unreadableConfiguration(path: path, reason: "\(error)")
        }
    }

}

// MARK: Values with a fixed set of choices

/// How betas grow over the training timesteps (`beta_schedule`).
public enum BetaSchedule: String, Sendable, CaseIterable {
    case linear
    /// Linear in √β, then squared: SD 1.x.
    case scaledLinear = "scaled_linear"
    /// Glide's cosine schedule, capped at β = 0.999.
    case squaredcosCapV2 = "squaredcos_cap_v2"
    /// ᾱ(t) = exp(−12 t) (HeunDiscreteScheduler only).
    case exp
}

/// How inference timesteps are spread over the training timesteps (`timestep_spacing`).
public enum TimestepSpacing: String, Sendable, CaseIterable {
    case leading, trailing, linspace
}

/// What the model predicts (`prediction_type`).
public enum PredictionType: String, Sendable, CaseIterable {
    case epsilon
    case vPrediction = "v_prediction"
    case sample
}

/// The last sigma of Euler and DPM-Solver schedules (`final_sigmas_type`).
public enum FinalSigmasType: String, Sendable, CaseIterable {
    case zero
    case sigmaMin = "sigma_min"
}

extension SchedulerConfiguration {
    /// The value of an enumerated key: the file's when present, else `fallback` (the scheduler's
    /// diffusers default). A value outside `allowed` is an error naming the key and the value.
    func resolved<Value: RawRepresentable & Equatable>(
        _ raw: String?, key: String, default fallback: Value, allowed: [Value], scheduler: String
    ) throws(SchedulerError) -> Value where Value.RawValue == String {
        guard let raw else { return fallback }
        guard let value = Value(rawValue: raw), allowed.contains(value) else {
            throw .unsupportedValue(key: key, value: raw, scheduler: scheduler)
        }
        return value
    }

    /// Rejects a boolean option we do not implement when the file turns it on.
    func requireOff(_ flag: Bool?, key: String, scheduler: String) throws(SchedulerError) {
        if flag == true { throw .unsupportedValue(key: key, value: "true", scheduler: scheduler) }
    }
}
