// GenerationParameters: what produced an image — prompt, sampler settings, seed, size, model — as the typed
// view of A1111's infotext, the text that image viewers and web UIs read from the `parameters` metadata.
// The text format itself (quoting, line structure) is in Infotext.swift.

/// The settings that produced an image, convertible to and from A1111's infotext.
public struct GenerationParameters: Sendable, Equatable {
    /// The positive prompt; may span several lines.
    public var prompt: String
    /// The negative prompt; empty when there was none (the infotext then has no "Negative prompt:" line).
    public var negativePrompt: String
    /// Number of denoising steps.
    public var steps: Int
    /// Our sampler name (`euler_a`, …); a sampler we do not have keeps A1111's display name.
    public var sampler: String
    /// Classifier-free guidance scale ("CFG scale").
    public var cfgScale: Double
    /// The seed of this image (for image *i* of a request, `seed + i`).
    public var seed: UInt64
    /// Image width in pixels.
    public var width: Int
    /// Image height in pixels.
    public var height: Int
    /// A1111's short model hash (first 10 hex digits of the weights file's SHA-256), if known.
    public var modelHash: String?
    /// The model's name, if known.
    public var modelName: String?
    /// Any further infotext fields, in order ("Denoising strength", "Clip skip", "Version", …).
    public var extra: [Infotext.Field]

    /// Creates parameters; `extra` fields are written after the standard ones.
    public init(prompt: String, negativePrompt: String = "", steps: Int, sampler: String, cfgScale: Double,
                seed: UInt64, width: Int, height: Int, modelHash: String? = nil, modelName: String? = nil,
                extra: [Infotext.Field] = []) {
        self.prompt = prompt
        self.negativePrompt = negativePrompt
        self.steps = steps
        self.sampler = sampler
        self.cfgScale = cfgScale
        self.seed = seed
        self.width = width
        self.height = height
        self.modelHash = modelHash
        self.modelName = modelName
        self.extra = extra
    }
}

/// Why an infotext could not be read as `GenerationParameters`.
public enum InfotextError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A field every A1111 infotext carries ("Steps", "Sampler", "CFG scale", "Seed", "Size") is absent.
    case missingField(String)
    /// A field's value does not parse (e.g. "Size: big").
    case invalidValue(field: String, value: String)

    /// A one-line explanation naming the field.
    public var description: String {
        switch self {
        case .missingField(let key): "infotext has no \"\(key)\" field"
        case .invalidValue(let key, let value): "infotext field \"\(key)\" has an invalid value \"\(value)\""
        }
    }
}

extension GenerationParameters {
    /// The infotext A1111's `create_infotext` would write for these parameters: the prompt, a
    /// "Negative prompt: …" line if there is one, then "Steps: 30, Sampler: Euler a, CFG scale: 7.5,
    /// Seed: 42, Size: 512x512, Model hash: …, Model: …" followed by the extra fields.
    public var infotext: String {
        var fields: [Infotext.Field] = [
            .init("Steps", String(steps)),
            .init("Sampler", SamplerDisplayNames.displayName(of: sampler)),
            // Python's str(float) and Swift's description both print the shortest round-tripping form
            // ("7.5", "7.0"), so the text matches A1111's byte for byte.
            .init("CFG scale", String(cfgScale)),
            .init("Seed", String(seed)),
            .init("Size", "\(width)x\(height)"),
        ]
        if let modelHash { fields.append(.init("Model hash", modelHash)) }
        if let modelName { fields.append(.init("Model", modelName)) }
        fields += extra
        return Infotext(prompt: prompt, negativePrompt: negativePrompt, fields: fields).text
    }

    /// Reads an infotext as A1111's `parse_generation_parameters` does, then types the standard fields.
    /// Fields it does not know go to `extra`, in order. Both sampler spellings are understood:
    /// "Sampler: DPM++ 2M Karras" and A1111 ≥ 1.9's "Sampler: DPM++ 2M, Schedule type: Karras".
    public init(infotext text: String) throws(InfotextError) {
        let parsed = Infotext(parsing: text)
        var remaining = parsed.fields

        // A1111 keeps fields in a dict, so a repeated key means its last value.
        func take(_ key: String) -> String? {
            guard let index = remaining.lastIndex(where: { $0.key == key }) else { return nil }
            let value = remaining[index].value
            remaining.removeAll { $0.key == key }
            return value
        }
        func require(_ key: String) throws(InfotextError) -> String {
            guard let value = take(key) else { throw .missingField(key) }
            return value
        }

        let stepsText = try require("Steps")
        guard let steps = Int(stepsText), steps >= 0 else { throw .invalidValue(field: "Steps", value: stepsText) }
        let samplerText = try require("Sampler")
        let scheduleType = remaining.last { $0.key == "Schedule type" }?.value
        let sampler: String
        if let name = SamplerDisplayNames.name(ofDisplayName: samplerText, scheduleType: scheduleType) {
            sampler = name
            // The schedule is now part of the sampler name (dpmpp_2m_karras); keep it only if it was not used.
            if name != SamplerDisplayNames.name(ofDisplayName: samplerText) { _ = take("Schedule type") }
        } else {
            sampler = samplerText
        }
        let cfgText = try require("CFG scale")
        guard let cfgScale = Double(cfgText), cfgScale.isFinite else {
            throw .invalidValue(field: "CFG scale", value: cfgText)
        }
        let seedText = try require("Seed")
        guard let seed = UInt64(seedText) else { throw .invalidValue(field: "Seed", value: seedText) }
        let sizeText = try require("Size")
        let sizeParts = sizeText.split(separator: "x", omittingEmptySubsequences: false)
        guard sizeParts.count == 2, sizeParts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) }),
              let width = Int(sizeParts[0]), let height = Int(sizeParts[1]) else {
            throw .invalidValue(field: "Size", value: sizeText)
        }
        let modelHash = take("Model hash")
        let modelName = take("Model")

        self.init(prompt: parsed.prompt, negativePrompt: parsed.negativePrompt, steps: steps, sampler: sampler,
                  cfgScale: cfgScale, seed: seed, width: width, height: height, modelHash: modelHash,
                  modelName: modelName, extra: remaining)
    }
}

private extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
