// The render flags a prompt-file line may start with — the command line's own render flags, spelled the
// same (`--seed 7 --steps 40 a photo of sks dog`), parsed the same way (an integer as Int(_:), a number as
// Double(_:)), and mapped to the same JSON fields.
import RenderAPI

/// A flag that sets one field of a render.
public enum RenderFlag: String, CaseIterable, Sendable {
    case negativePrompt = "negative-prompt"
    case steps
    case guidance
    case sampler
    case seed
    case width
    case height
    case count
    case format
    case quality
    case clipSkip = "clip-skip"
    /// `--prompt-syntax a1111|plain`.
    case promptSyntax = "prompt-syntax"
    case initImage = "init-image"
    case strength
    /// `--lora NAME[:WEIGHT]`: a LoRA of the daemon's folder; repeat for several.
    case lora
    /// `--decoder vae|taesd`.
    case decoder

    /// `--name`, as typed.
    public var spelling: String { "--" + rawValue }

    /// Sets this flag's field of `spec` from its text value.
    /// - Parameter directory: what a relative `--init-image` path is relative to (a prompt file's folder).
    /// - Throws: a reason to show the user (the caller adds file and line).
    public func apply(_ value: String, to spec: inout RenderSpec, relativeTo directory: String? = nil) throws(FlagValueError) {
        switch self {
        case .negativePrompt: spec.request.negativePrompt = value
        case .steps: spec.request.steps = try integer(value)
        case .guidance: spec.request.guidanceScale = try number(value)
        case .sampler: spec.request.sampler = value
        case .seed:
            guard let seed = UInt64(value) else { throw FlagValueError("\(spelling) needs a whole number from 0 to \(UInt64.max), got \"\(value)\"") }
            spec.request.seed = seed
        case .width: spec.request.width = try integer(value)
        case .height: spec.request.height = try integer(value)
        case .count: spec.request.count = try integer(value)
        case .format: spec.request.format = value
        case .quality: spec.request.quality = try integer(value)
        case .clipSkip: spec.request.clipSkip = try integer(value)
        case .promptSyntax: spec.request.promptSyntax = value
        case .initImage:
            if let directory, !value.hasPrefix("/") {
                spec.initImagePath = directory + "/" + value
            } else {
                spec.initImagePath = value
            }
            // Base64 from an earlier source (a JSON line's init_image) would win over the file otherwise.
            spec.request.initImage = nil
        case .strength: spec.request.strength = try number(value)
        case .decoder: spec.request.decoder = value
        case .lora:
            let parts = value.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard !parts[0].isEmpty, parts.count == 1 || Double(parts[1]) != nil else {
                throw FlagValueError("\(spelling) needs NAME or NAME:WEIGHT, got \"\(value)\"")
            }
            spec.request.loras = (spec.request.loras ?? []) + [LoRAChoice(name: parts[0], weight: parts.count == 2 ? Double(parts[1]) : nil)]
        }
    }

    private func integer(_ value: String) throws(FlagValueError) -> Int {
        guard let parsed = Int(value) else { throw FlagValueError("\(spelling) needs a whole number, got \"\(value)\"") }
        return parsed
    }

    private func number(_ value: String) throws(FlagValueError) -> Double {
        guard let parsed = Double(value), parsed.isFinite else { throw FlagValueError("\(spelling) needs a number, got \"\(value)\"") }
        return parsed
    }
}

/// Why a flag's value was rejected, as one line.
public struct FlagValueError: Error, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
