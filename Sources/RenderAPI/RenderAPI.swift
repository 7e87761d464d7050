// The HTTP/JSON contract between dbrenderd and its clients (DESIGN.md "Interfaces"): request and
// response bodies, stream events and errors, as Codable values with the wire's snake_case names.
// Shared by the daemon and the `dbrender` client; depends on nothing but Foundation, so that the
// client links neither models nor tensors.
import Foundation

/// Body of `POST /v1/renders`. Absent fields take the daemon's documented defaults.
public struct RenderRequestBody: Codable, Sendable, Equatable {
    public var prompt: String
    public var negativePrompt: String?
    public var steps: Int?
    public var guidanceScale: Double?
    public var sampler: String?
    /// Image i uses seed + i; absent: a random seed, reported in the answer.
    public var seed: UInt64?
    public var width: Int?
    public var height: Int?
    public var count: Int?
    /// "png" or "webp".
    public var format: String?
    /// WebP quality 0–100; absent: lossless.
    public var quality: Int?
    /// As A1111 defines it (1 = last layer).
    public var clipSkip: Int?
    /// Image-to-image: the starting image (PNG, JPEG or WebP), base64.
    public var initImage: String?
    /// Image-to-image strength, 0–1.
    public var strength: Double?
    /// LoRAs of the daemon's `--lora-dir` to apply (besides any `<lora:name:weight>` in the prompt).
    public var loras: [LoRAChoice]?
    /// "a1111" (the default: `(x:1.3)`, `[x]`, BREAK…) or "plain" (the text as written, unweighted).
    public var promptSyntax: String?
    /// DDIM's η, 0 (deterministic, the default) to 1; other samplers take none.
    public var eta: Double?
    /// Live previews: every this many steps the stream's progress event carries a small preview of
    /// the first image (and GET /v1/renders/{id} the latest one); absent or 0: none.
    public var previewEvery: Int?
    /// What turns the final latents into pixels: "vae" (the model's own, the default) or "taesd" (the
    /// daemon's `--taesd`: about 20× less work, softer detail).
    public var decoder: String?
    /// The VAE works by overlapping tiles on images larger than it was trained at (diffusers'
    /// `enable_tiling()`): large images fit in memory; absent: false.
    public var vaeTiling: Bool?

    public init(prompt: String) { self.prompt = prompt }

    enum CodingKeys: String, CodingKey {
        case prompt, negativePrompt = "negative_prompt", steps, guidanceScale = "guidance_scale", sampler, seed
        case width, height, count, format, quality, clipSkip = "clip_skip", initImage = "init_image", strength, loras
        case promptSyntax = "prompt_syntax", previewEvery = "preview_every", eta, decoder, vaeTiling = "vae_tiling"
    }

    /// Every field name the API accepts (unknown names are rejected, so a typo is not silently ignored).
    public static let fieldNames: Set<String> = Set([CodingKeys.prompt, .negativePrompt, .steps, .guidanceScale, .sampler, .seed,
        .width, .height, .count, .format, .quality, .clipSkip, .initImage, .strength, .loras, .promptSyntax, .previewEvery, .eta, .decoder, .vaeTiling].map(\.rawValue))
}

/// One LoRA of a request: its name in the daemon's LoRA folder and its weight (absent: 1).
public struct LoRAChoice: Codable, Sendable, Equatable {
    public var name: String
    public var weight: Double?
    public init(name: String, weight: Double? = nil) { self.name = name; self.weight = weight }
}

/// `GET /v1/loras`: the LoRAs of the daemon's folder (empty without `--lora-dir`).
public struct LoRAsBody: Codable, Sendable, Equatable {
    public struct LoRA: Codable, Sendable, Equatable {
        public var name: String
        public var path: String
        public var sizeBytes: Int
        enum CodingKeys: String, CodingKey { case name, path, sizeBytes = "size_bytes" }
        public init(name: String, path: String, sizeBytes: Int) { self.name = name; self.path = path; self.sizeBytes = sizeBytes }
    }
    public var loras: [LoRA]
    public init(loras: [LoRA]) { self.loras = loras }
}

/// The parameters a render actually used (defaults filled in, seed chosen).
public struct RenderParameters: Codable, Sendable, Equatable {
    public var prompt: String
    public var negativePrompt: String
    public var steps: Int
    public var guidanceScale: Double
    public var sampler: String
    public var seed: UInt64
    public var width: Int
    public var height: Int
    public var count: Int
    public var format: String
    public var quality: Int?
    public var clipSkip: Int
    public var strength: Double?
    /// Every LoRA applied (the `loras` field's, then the prompt's tags), weights filled in; nil when none.
    public var loras: [LoRAChoice]?
    /// "a1111" or "plain".
    public var promptSyntax: String
    /// "taesd" when the request asked for TAESD; nil for the model's VAE.
    public var decoder: String?
    /// true when the request asked for a tiled VAE; nil otherwise.
    public var vaeTiling: Bool?

    public init(prompt: String, negativePrompt: String, steps: Int, guidanceScale: Double, sampler: String, seed: UInt64,
                width: Int, height: Int, count: Int, format: String, quality: Int?, clipSkip: Int, strength: Double?,
                loras: [LoRAChoice]? = nil, promptSyntax: String = "a1111") {
        self.loras = loras
        self.promptSyntax = promptSyntax
        self.prompt = prompt; self.negativePrompt = negativePrompt; self.steps = steps; self.guidanceScale = guidanceScale
        self.sampler = sampler; self.seed = seed; self.width = width; self.height = height; self.count = count
        self.format = format; self.quality = quality; self.clipSkip = clipSkip; self.strength = strength
    }

    enum CodingKeys: String, CodingKey {
        case prompt, negativePrompt = "negative_prompt", steps, guidanceScale = "guidance_scale", sampler, seed
        case width, height, count, format, quality, clipSkip = "clip_skip", strength, loras
        case promptSyntax = "prompt_syntax", decoder, vaeTiling = "vae_tiling"
    }
}

/// One encoded image of an answer.
public struct RenderedImageBody: Codable, Sendable, Equatable {
    public var seed: UInt64
    public var format: String
    /// The encoded file, base64.
    public var data: String

    public init(seed: UInt64, format: String, data: String) { self.seed = seed; self.format = format; self.data = data }
}

/// The plain JSON answer of `POST /v1/renders`.
public struct RenderResponseBody: Codable, Sendable, Equatable {
    public var id: String
    public var images: [RenderedImageBody]
    public var parameters: RenderParameters

    public init(id: String, images: [RenderedImageBody], parameters: RenderParameters) {
        self.id = id; self.images = images; self.parameters = parameters
    }
}

/// `{"error": {"code", "message", "field"?}}`
public struct ErrorBody: Codable, Sendable, Equatable, Error {
    public struct Detail: Codable, Sendable, Equatable {
        /// Stable machine-readable code, e.g. "invalid_field", "queue_full", "not_found".
        public var code: String
        public var message: String
        /// The request field at fault, when one is.
        public var field: String?
        public init(code: String, message: String, field: String? = nil) {
            self.code = code; self.message = message; self.field = field
        }
    }
    public var error: Detail

    public init(code: String, message: String, field: String? = nil) {
        error = Detail(code: code, message: message, field: field)
    }
}

/// One line of an `application/x-ndjson` render stream. Every event carries its type and the job id.
public struct StreamEvent: Codable, Sendable, Equatable {
    /// queued, started, progress, image, done, error
    public var event: String
    public var id: String
    /// queued: jobs ahead of this one.
    public var position: Int?
    /// progress: steps done and in all.
    public var step: Int?
    public var steps: Int?
    /// image: index in the request, and the image.
    public var index: Int?
    public var image: RenderedImageBody?
    /// done: the parameters used.
    public var parameters: RenderParameters?
    /// error: what went wrong.
    public var error: ErrorBody.Detail?
    /// progress, with `preview_every`: a preview of the first image at this step (PNG, latent size).
    public var preview: RenderedImageBody?

    public init(event: String, id: String) { self.event = event; self.id = id }
}

/// `GET /v1/renders/{id}`
public struct JobStatusBody: Codable, Sendable, Equatable {
    /// queued, running, done, failed, cancelled
    public var status: String
    public var id: String
    public var position: Int?
    public var step: Int?
    public var steps: Int?
    public var parameters: RenderParameters?
    public var images: [RenderedImageBody]?
    public var error: ErrorBody.Detail?
    /// While running, with `preview_every`: the latest preview of the first image.
    public var preview: RenderedImageBody?

    public init(status: String, id: String) { self.status = status; self.id = id }
}

/// `GET /v1/samplers`
public struct SamplersBody: Codable, Sendable, Equatable {
    public struct Sampler: Codable, Sendable, Equatable {
        public var name: String
        public var displayName: String
        enum CodingKeys: String, CodingKey { case name, displayName = "display_name" }
        public init(name: String, displayName: String) { self.name = name; self.displayName = displayName }
    }
    public var samplers: [Sampler]
    public var defaultSampler: String
    enum CodingKeys: String, CodingKey { case samplers, defaultSampler = "default" }
    public init(samplers: [Sampler], defaultSampler: String) { self.samplers = samplers; self.defaultSampler = defaultSampler }
}

/// JSON coding as the API writes it: compact, keys sorted (stable output for logs and tests).
public enum APIJSON {
    public static func encode<T: Encodable>(_ value: T) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        try JSONDecoder().decode(type, from: data)
    }
}
