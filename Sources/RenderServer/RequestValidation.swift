// Turns a `POST /v1/renders` body into a render the pipeline can run, or into the specific error
// that names what is wrong: malformed JSON, an unknown field, a field of the wrong type, a value out
// of the configured limits, an unknown sampler, an init image that does not decode.
import Foundation
import ImageIO
import RenderAPI
import Sampling
import Weights

/// A validated render: the pipeline's request plus the answer's format and reported parameters.
public struct RenderSpec: Sendable {
    public var request: RenderRequest
    public var parameters: RenderParameters
    public var format: ImageFormat
    public var quality: Int?
    /// The files of `request.loras`, in order (for the images' "Lora hashes").
    public var loraEntries: [LoRALibrary.Entry] = []
    /// Live previews every this many steps; 0: none.
    public var previewEvery = 0
    /// OpenAI's partial_images: this many full-size images of the first image's denoised estimate,
    /// at evenly spaced steps (0–3).
    public var partialImages = 0
}

/// Validation against the daemon's limits and the loaded model.
public struct RequestValidator: Sendable {
    public let configuration: ServerConfiguration
    /// The loaded model's default side (512 for SD 1.5) and text-encoder depth (for clip_skip).
    public let nativeSize: Int
    public let textEncoderLayers: Int
    /// The daemon's LoRA folder (nil without `--lora-dir`) and the loaded model's adaptable modules.
    public let loraLibrary: LoRALibrary?
    public let loraTargets: LoRATargets
    /// Whether the daemon has a TAESD decoder (`--taesd`) that requests may ask for.
    public let hasTinyDecoder: Bool
    /// Whether an image of (width, height) only fits the memory budget when the VAE decodes by tiles.
    public let decodeNeedsTiles: @Sendable (Int, Int) -> Bool

    public init(configuration: ServerConfiguration, nativeSize: Int, textEncoderLayers: Int,
                loraLibrary: LoRALibrary? = nil, loraTargets: LoRATargets = LoRATargets(weightShapes: [:]),
                hasTinyDecoder: Bool = false, decodeNeedsTiles: @escaping @Sendable (Int, Int) -> Bool = { _, _ in false }) {
        self.hasTinyDecoder = hasTinyDecoder
        self.decodeNeedsTiles = decodeNeedsTiles
        self.configuration = configuration
        self.nativeSize = nativeSize
        self.textEncoderLayers = textEncoderLayers
        self.loraLibrary = loraLibrary
        self.loraTargets = loraTargets
    }

    /// The largest |weight| a LoRA may be given.
    public static let maximumLoRAWeight = 10.0

    /// The request's LoRAs: the `loras` field's, then the prompt's `<lora:…>` tags, each loaded from
    /// the folder and checked against the model. Returns the prompt without its tags.
    private func resolveLoRAs(_ body: RenderRequestBody) throws(APIError) -> (prompt: String, uses: [LoRAUse], entries: [LoRALibrary.Entry], choices: [LoRAChoice]) {
        let tags: PromptLoRATags
        do { tags = try PromptLoRATags.parse(body.prompt) } catch {
            throw .invalid("prompt", "cannot read the LoRA tag \(error.tag); write <lora:name> or <lora:name:weight>", code: "invalid_lora")
        }
        let choices = (body.loras ?? []).map { (field: "loras", name: $0.name, weight: $0.weight ?? 1) }
            + tags.loras.map { (field: "prompt", name: $0.name, weight: $0.weight) }
        var uses: [LoRAUse] = [], entries: [LoRALibrary.Entry] = []
        for choice in choices {
            guard choice.weight.isFinite, abs(choice.weight) <= Self.maximumLoRAWeight else {
                throw .invalid(choice.field, "LoRA '\(choice.name)': weight must be a number from -\(Self.maximumLoRAWeight) to \(Self.maximumLoRAWeight), got \(choice.weight)")
            }
            guard let library = loraLibrary else {
                throw .invalid(choice.field, "LoRA '\(choice.name)' asked for, but dbrenderd has no LoRA folder (start it with --lora-dir DIR)", code: "unknown_lora")
            }
            do {
                let (weights, entry) = try library.weights(named: choice.name, targets: loraTargets)
                uses.append(LoRAUse(name: choice.name, weights: weights, weight: Float(choice.weight)))
                entries.append(entry)
            } catch {
                switch error {
                case let .unknown(name, available):
                    throw .invalid(choice.field, "no LoRA named '\(name)' in \(library.directory.path); available: \(available.isEmpty ? "none" : available.joined(separator: ", "))", code: "unknown_lora")
                case let .unusable(name, reason):
                    throw .invalid(choice.field, "LoRA '\(name)' cannot be used with this model: \(reason)", code: "invalid_lora")
                }
            }
        }
        return (tags.text, uses, entries, choices.map { LoRAChoice(name: $0.name, weight: $0.weight) })
    }

    /// Decodes and checks a request body. `randomSeed` supplies the seed when the body has none.
    public func validate(_ body: Data, randomSeed: () -> UInt64 = { UInt64.random(in: 0..<(1 << 32)) }) throws(APIError) -> RenderSpec {
        let limits = configuration.limits
        guard body.count <= limits.maximumBodyBytes else {
            throw APIError(status: 413, code: "body_too_large", message: "the body has \(body.count) bytes; the limit is \(limits.maximumBodyBytes)")
        }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: body) } catch {
            throw APIError(status: 400, code: "malformed_json", message: "the body is not valid JSON")
        }
        guard let fields = object as? [String: Any] else {
            throw APIError(status: 400, code: "malformed_json", message: "the body must be a JSON object")
        }
        if let unknown = fields.keys.sorted().first(where: { !RenderRequestBody.fieldNames.contains($0) }) {
            throw .invalid(unknown, "unknown field '\(unknown)'; known fields: \(RenderRequestBody.fieldNames.sorted().joined(separator: ", "))", code: "unknown_field")
        }
        guard fields["prompt"] != nil, !(fields["prompt"] is NSNull) else {
            throw .invalid("prompt", "a prompt is required", code: "missing_field")
        }
        let decoded: RenderRequestBody
        do { decoded = try JSONDecoder().decode(RenderRequestBody.self, from: body) } catch let DecodingError.typeMismatch(type, context) {
            let field = context.codingPath.first?.stringValue ?? "body"
            throw .invalid(field, "'\(field)' must be \(Self.describe(type))", code: "invalid_type")
        } catch let DecodingError.dataCorrupted(context) {
            let field = context.codingPath.first?.stringValue ?? "body"
            throw .invalid(field, "'\(field)' has an invalid value (\(context.debugDescription))", code: "invalid_type")
        } catch let DecodingError.keyNotFound(key, context) {
            let field = context.codingPath.first?.stringValue ?? key.stringValue
            throw .invalid(field, "'\(field)' entries need a '\(key.stringValue)'", code: "missing_field")
        } catch let DecodingError.valueNotFound(_, context) {
            let field = context.codingPath.first?.stringValue ?? "body"
            throw .invalid(field, "'\(field)' must not be null", code: "invalid_type")
        } catch {
            throw APIError(status: 400, code: "malformed_json", message: "\(error)")
        }
        return try check(decoded, decodedInitImage: nil, seed: decoded.seed ?? randomSeed())
    }

    /// Checks a request that is already decoded — what the A1111 and OpenAI routes translate theirs
    /// into — against the same limits and defaults as a body on our route. `decodedInitImage` is
    /// `body.initImage` already decoded by the caller (A1111's img2img reads it to resize it), so
    /// that it is not decoded twice.
    public func validate(_ body: RenderRequestBody, decodedInitImage: RGBImage? = nil,
                         randomSeed: () -> UInt64 = { UInt64.random(in: 0..<(1 << 32)) }) throws(APIError) -> RenderSpec {
        try check(body, decodedInitImage: decodedInitImage, seed: body.seed ?? randomSeed())
    }

    private func check(_ body: RenderRequestBody, decodedInitImage: RGBImage?, seed: UInt64) throws(APIError) -> RenderSpec {
        let limits = configuration.limits
        for (field, text) in [("prompt", body.prompt), ("negative_prompt", body.negativePrompt ?? "")] {
            guard text.utf8.count <= limits.maximumPromptBytes else {
                throw .invalid(field, "\(field) has \(text.utf8.count) bytes; the limit is \(limits.maximumPromptBytes)", code: "too_long")
            }
        }
        let steps = body.steps ?? configuration.defaultSteps
        guard (1...limits.maximumSteps).contains(steps) else { throw .invalid("steps", "steps must be 1 to \(limits.maximumSteps), got \(steps)") }
        let count = body.count ?? 1
        guard (1...limits.maximumCount).contains(count) else { throw .invalid("count", "count must be 1 to \(limits.maximumCount), got \(count)") }
        let guidance = body.guidanceScale ?? configuration.defaultGuidance
        guard guidance.isFinite, guidance >= 0, guidance <= limits.maximumGuidance else {
            throw .invalid("guidance_scale", "guidance_scale must be a finite number from 0 to \(limits.maximumGuidance)")
        }
        let sampler = body.sampler ?? configuration.defaultSampler
        guard SchedulerFactory.samplerNames.contains(sampler) else {
            throw .invalid("sampler", "unknown sampler '\(sampler)'; use one of \(SchedulerFactory.samplerNames.joined(separator: ", "))", code: "unknown_sampler")
        }
        guard let format = ImageFormat(rawValue: body.format ?? "png"), format.canEncode else {
            throw .invalid("format", "format must be \"png\", \"webp\" or \"jpeg\"")
        }
        if let quality = body.quality {
            guard format != .png else { throw .invalid("quality", "quality applies to webp and jpeg (png is lossless)") }
            guard (0...100).contains(quality) else { throw .invalid("quality", "quality must be 0 to 100, got \(quality)") }
        }
        let clipSkip = body.clipSkip ?? 1
        guard (1...textEncoderLayers).contains(clipSkip) else { throw .invalid("clip_skip", "clip_skip must be 1 to \(textEncoderLayers)") }

        let loras = try resolveLoRAs(body)
        let syntax = try promptSyntax(body, prompt: loras.prompt)
        let previewEvery = body.previewEvery ?? 0
        guard (0...limits.maximumSteps).contains(previewEvery) else {
            throw .invalid("preview_every", "preview_every must be 0 (off) to \(limits.maximumSteps) steps, got \(previewEvery)")
        }
        var request = RenderRequest(prompt: loras.prompt, seed: seed)
        request.loras = loras.uses
        if let name = body.decoder {
            guard let decoder = ImageDecoder(rawValue: name) else {
                throw .invalid("decoder", "decoder must be \"vae\" or \"taesd\", got \"\(name)\"")
            }
            guard decoder != .taesd || hasTinyDecoder else {
                throw .invalid("decoder", "decoder \"taesd\" needs a TAESD model: start dbrenderd with --taesd PATH", code: "no_taesd")
            }
            request.decoder = decoder
        }
        request.negativePrompt = body.negativePrompt ?? ""
        request.steps = steps
        request.count = count
        request.guidanceScale = Float(guidance)
        request.sampler = sampler
        request.clipSkip = clipSkip
        request.promptSyntax = syntax
        if let eta = body.eta {
            guard sampler == "ddim" else { throw .invalid("eta", "eta applies to the ddim sampler only") }
            guard (0...1).contains(eta) else { throw .invalid("eta", "eta must be 0 to 1, got \(eta)") }
            request.eta = eta
        }
        var width = body.width ?? nativeSize, height = body.height ?? nativeSize
        if let encoded = body.initImage {
            if let decodedInitImage {
                guard decodedInitImage.width * decodedInitImage.height <= limits.maximumPixels else {
                    throw .invalid("init_image", "init_image has \(decodedInitImage.width)×\(decodedInitImage.height) pixels; the limit is \(limits.maximumPixels)",
                                   code: "invalid_image")
                }
                request.initImage = decodedInitImage
            } else {
                guard let data = Data(base64Encoded: encoded, options: .ignoreUnknownCharacters) else {
                    throw .invalid("init_image", "init_image is not base64", code: "invalid_image")
                }
                do {
                    request.initImage = try ImageFile.decode(data, source: "init_image", maxPixels: limits.maximumPixels).image
                } catch {
                    throw .invalid("init_image", "init_image does not decode: \(error)", code: "invalid_image")
                }
            }
            guard body.width == nil && body.height == nil else {
                throw .invalid(body.width != nil ? "width" : "height", "the init image's size is the output size; do not give width or height")
            }
            width = request.initImage!.width
            height = request.initImage!.height
            let strength = body.strength ?? 0.8
            guard strength > 0 && strength <= 1 else { throw .invalid("strength", "strength must be in (0, 1], got \(strength)") }
            guard Int(Double(steps) * strength) >= 1 else {
                throw .invalid("strength", "strength \(strength) × \(steps) steps leaves no step to run")
            }
            request.strength = strength
        } else if body.strength != nil {
            throw .invalid("strength", "strength needs an init_image")
        }
        let sizeField = request.initImage == nil ? nil : "init_image"
        for (field, value) in [("width", width), ("height", height)] {
            guard value % 8 == 0, (limits.minimumSide...limits.maximumSide).contains(value) else {
                throw .invalid(sizeField ?? field, "\(field) must be a multiple of 8 from \(limits.minimumSide) to \(limits.maximumSide), got \(value)", code: "invalid_size")
            }
        }
        guard width * height <= limits.maximumPixels else {
            throw .invalid(sizeField ?? "width", "\(width)×\(height) exceeds the limit of \(limits.maximumPixels) pixels", code: "invalid_size")
        }
        request.width = width
        request.height = height
        // The reported prompt keeps its <lora:…> tags, as A1111's infotext does.
        var parameters = RenderParameters(
            prompt: body.prompt, negativePrompt: request.negativePrompt, steps: steps, guidanceScale: guidance,
            sampler: sampler, seed: seed, width: width, height: height, count: count, format: format.rawValue,
            quality: body.quality, clipSkip: clipSkip, strength: request.initImage == nil ? nil : request.strength,
            loras: loras.choices.isEmpty ? nil : loras.choices, promptSyntax: syntax.rawValue)
        parameters.decoder = request.decoder == .taesd ? request.decoder.rawValue : nil
        // Absent, the VAE tiles where the image would not fit the memory budget otherwise (the
        // parameters say so); an explicit choice is the request's.
        request.vaeTiling = body.vaeTiling ?? (request.decoder == .vae && decodeNeedsTiles(width, height))
        parameters.vaeTiling = request.vaeTiling ? true : nil
        return RenderSpec(request: request, parameters: parameters, format: format, quality: body.quality, loraEntries: loras.entries,
                          previewEvery: previewEvery)
    }

    /// The request's prompt syntax, its prompts checked against it (a weight that is not a number is
    /// refused here rather than failing the render later).
    /// `prompt` is the text the encoder will see (the LoRA tags taken out).
    private func promptSyntax(_ body: RenderRequestBody, prompt: String) throws(APIError) -> PromptSyntax {
        let name = body.promptSyntax ?? PromptSyntax.a1111.rawValue
        guard let syntax = PromptSyntax(rawValue: name) else {
            let names = PromptSyntax.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " or ")
            throw .invalid("prompt_syntax", "prompt_syntax must be \(names), got \"\(name)\"")
        }
        for (field, text) in [("prompt", prompt), ("negative_prompt", body.negativePrompt ?? "")] {
            do { _ = try syntax.parse(text) } catch {
                throw .invalid(field, "\(field): \(error)", code: "invalid_prompt")
            }
        }
        return syntax
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is UInt64.Type: "an integer"
        case is Double.Type: "a number"
        default: "of type \(type)"
        }
    }
}
