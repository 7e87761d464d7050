// dbrenderd's settings: where to listen, the request limits of DESIGN.md (all configurable, these
// are the defaults), queue and cache sizes, and the shutdown grace period. Read from a JSON config
// file (`--config`), then overridden by command-line flags.
import Foundation

/// Everything a running daemon is configured with.
public struct ServerConfiguration: Codable, Sendable, Equatable {
    /// Request limits.
    public struct Limits: Codable, Sendable, Equatable {
        public var minimumSide = 64
        public var maximumSide = 2048
        /// width × height may not exceed this (1024 × 1024).
        public var maximumPixels = 1024 * 1024
        public var maximumSteps = 500
        public var maximumCount = 16
        public var maximumGuidance = 50.0
        public var maximumPromptBytes = 8 * 1024
        public var maximumBodyBytes = 16 * 1024 * 1024
        public var maximumQueuedJobs = 64

        public init() {}

        enum CodingKeys: String, CodingKey {
            case minimumSide = "minimum_side", maximumSide = "maximum_side", maximumPixels = "maximum_pixels"
            case maximumSteps = "maximum_steps", maximumCount = "maximum_count", maximumGuidance = "maximum_guidance"
            case maximumPromptBytes = "maximum_prompt_bytes", maximumBodyBytes = "maximum_body_bytes"
            case maximumQueuedJobs = "maximum_queued_jobs"
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Limits.init()
            minimumSide = try c.decodeIfPresent(Int.self, forKey: .minimumSide) ?? d.minimumSide
            maximumSide = try c.decodeIfPresent(Int.self, forKey: .maximumSide) ?? d.maximumSide
            maximumPixels = try c.decodeIfPresent(Int.self, forKey: .maximumPixels) ?? d.maximumPixels
            maximumSteps = try c.decodeIfPresent(Int.self, forKey: .maximumSteps) ?? d.maximumSteps
            maximumCount = try c.decodeIfPresent(Int.self, forKey: .maximumCount) ?? d.maximumCount
            maximumGuidance = try c.decodeIfPresent(Double.self, forKey: .maximumGuidance) ?? d.maximumGuidance
            maximumPromptBytes = try c.decodeIfPresent(Int.self, forKey: .maximumPromptBytes) ?? d.maximumPromptBytes
            maximumBodyBytes = try c.decodeIfPresent(Int.self, forKey: .maximumBodyBytes) ?? d.maximumBodyBytes
            maximumQueuedJobs = try c.decodeIfPresent(Int.self, forKey: .maximumQueuedJobs) ?? d.maximumQueuedJobs
        }
    }

    public var limits = Limits()
    /// Defaults for absent request fields.
    public var defaultSteps = 30
    public var defaultGuidance = 7.5
    public var defaultSampler = "euler_a"
    /// Mode of a socket file the daemon creates (0660: owner and group).
    public var socketMode: UInt16 = 0o660
    /// Seconds in-flight renders get to finish after SIGTERM.
    public var shutdownGracePeriod = 30.0
    /// Text-embedding cache bound.
    public var embeddingCacheBytes = 64 * 1024 * 1024
    /// Most UNet rows (2 per guided image) one batched step may hold.
    public var maximumBatchRows = 8
    /// Finished jobs kept for `GET /v1/renders/{id}`.
    public var retainedFinishedJobs = 64
    /// The folder of LoRAs requests may name (`--lora-dir` overrides); nil: none.
    public var loraDirectory: String?
    /// This daemon's name in a fleet (`--instance` overrides): render ids start with it, so that a
    /// load balancer can send a job's GET and DELETE to the daemon that owns it (deploy/nginx/).
    public var instance: String?
    /// TAESD weights (`--taesd` overrides): requests may choose it as their decoder, and previews use it.
    public var taesd: String?
    /// Bytes a render's working tensors may take (UNet rows per call, tiled decodes follow from it);
    /// nil: half of what the process may use (its cgroup's limit included), less the weights.
    public var memoryBudgetBytes: Int?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case limits, defaultSteps = "default_steps", defaultGuidance = "default_guidance", defaultSampler = "default_sampler"
        case socketMode = "socket_mode", shutdownGracePeriod = "shutdown_grace_period"
        case embeddingCacheBytes = "embedding_cache_bytes", maximumBatchRows = "maximum_batch_rows"
        case retainedFinishedJobs = "retained_finished_jobs", loraDirectory = "lora_dir", instance, taesd
        case memoryBudgetBytes = "memory_budget_bytes"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ServerConfiguration()
        limits = try c.decodeIfPresent(Limits.self, forKey: .limits) ?? d.limits
        defaultSteps = try c.decodeIfPresent(Int.self, forKey: .defaultSteps) ?? d.defaultSteps
        defaultGuidance = try c.decodeIfPresent(Double.self, forKey: .defaultGuidance) ?? d.defaultGuidance
        defaultSampler = try c.decodeIfPresent(String.self, forKey: .defaultSampler) ?? d.defaultSampler
        socketMode = try c.decodeIfPresent(UInt16.self, forKey: .socketMode) ?? d.socketMode
        shutdownGracePeriod = try c.decodeIfPresent(Double.self, forKey: .shutdownGracePeriod) ?? d.shutdownGracePeriod
        embeddingCacheBytes = try c.decodeIfPresent(Int.self, forKey: .embeddingCacheBytes) ?? d.embeddingCacheBytes
        maximumBatchRows = try c.decodeIfPresent(Int.self, forKey: .maximumBatchRows) ?? d.maximumBatchRows
        retainedFinishedJobs = try c.decodeIfPresent(Int.self, forKey: .retainedFinishedJobs) ?? d.retainedFinishedJobs
        loraDirectory = try c.decodeIfPresent(String.self, forKey: .loraDirectory)
        instance = try c.decodeIfPresent(String.self, forKey: .instance)
        taesd = try c.decodeIfPresent(String.self, forKey: .taesd)
        memoryBudgetBytes = try c.decodeIfPresent(Int.self, forKey: .memoryBudgetBytes)
        if let bytes = memoryBudgetBytes, bytes < 0 {
            throw DecodingError.dataCorruptedError(forKey: .memoryBudgetBytes, in: c, debugDescription: "memory_budget_bytes must not be negative")
        }
        if let instance, let problem = Self.problem(withInstanceName: instance) {
            throw DecodingError.dataCorruptedError(forKey: .instance, in: c, debugDescription: problem)
        }
    }

    /// Why `name` cannot name an instance, or nil when it can: 1–32 letters, digits, `-` or `_`.
    /// Render ids are `<instance>.r_<random>`, and the random part never holds a dot, so the
    /// instance is everything before the first dot (a systemd template's `%i` fits too).
    public static func problem(withInstanceName name: String) -> String? {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
        guard (1...32).contains(name.count), name.allSatisfy(allowed.contains) else {
            return "instance name '\(name)' must be 1 to 32 letters, digits, '-' or '_'"
        }
        return nil
    }

    /// Reads a JSON config file; unknown keys are errors (a misspelt limit must not be ignored).
    public static func load(_ url: URL) throws -> ServerConfiguration {
        let data = try Data(contentsOf: url)
        if let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] {
            let known = Set(["limits", "default_steps", "default_guidance", "default_sampler", "socket_mode",
                             "shutdown_grace_period", "embedding_cache_bytes", "maximum_batch_rows", "retained_finished_jobs", "lora_dir", "instance", "taesd", "memory_budget_bytes"])
            if let unknown = object.keys.first(where: { !known.contains($0) }) {
                throw ConfigurationFileError(file: url.path, message: "unknown key '\(unknown)'")
            }
        }
        do { return try JSONDecoder().decode(ServerConfiguration.self, from: data) } catch {
            throw ConfigurationFileError(file: url.path, message: "\(error)")
        }
    }
}

/// A daemon config file that cannot be used.
public struct ConfigurationFileError: Error, CustomStringConvertible {
    public let file: String
    public let message: String
    public var description: String { "\(file): \(message)" }
}
