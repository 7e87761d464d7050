// The errors a user can cause when choosing a sampler or loading a scheduler configuration. Each
// names what was wrong (the sampler name, the config key and its value, the file) so that the daemon
// can hand it back as a field-level API error.
import Foundation

/// Why a scheduler could not be made.
public enum SchedulerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A sampler name that is not one of `validNames`.
    case unknownSampler(name: String, validNames: [String])
    /// A configuration key whose value this scheduler does not support (`beta_schedule: "foo"`,
    /// `thresholding: true`, …). `scheduler` is the diffusers class that reads the key.
    case unsupportedValue(key: String, value: String, scheduler: String)
    /// A step count outside 1…`maximum` (the number of training timesteps).
    case invalidStepCount(steps: Int, maximum: Int)
    /// An img2img strength outside 0…1.
    case invalidStrength(Double)
    /// `scheduler_config.json` could not be read or parsed.
    case unreadableConfiguration(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unknownSampler(name, validNames):
            "unknown sampler '\(name)'; valid samplers: \(validNames.joined(separator: ", "))"
        case let .unsupportedValue(key, value, scheduler):
            "\(scheduler) does not support \(key) = \(value)"
        case let .invalidStepCount(steps, maximum):
            "steps must be between 1 and \(maximum), got \(steps)"
        case let .invalidStrength(strength):
            "strength must be between 0 and 1, got \(strength)"
        case let .unreadableConfiguration(path, reason):
            "cannot read scheduler configuration \(path): \(reason)"
        }
    }
}
