// What can be wrong with a LoRA file, each case naming the file and the tensor or module involved, so
// that a render request that asks for it gets a 400 that says why.

/// Why a LoRA file cannot be used with a model.
public enum LoRAError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file itself: unreadable, truncated, corrupt header, unsupported dtype.
    case file(WeightsError)
    /// A tensor name of no LoRA layout dbrender reads.
    case unrecognisedTensor(file: String, tensor: String)
    /// A LoRA kind that dbrender does not apply (DoRA, LoHa/LoKr, SDXL's second text encoder).
    case unsupported(file: String, tensor: String, what: String)
    /// A module the model does not have, or cannot adapt (neither linear nor a convolution).
    case unknownModule(file: String, tensor: String)
    /// A module with one factor but not the other.
    case missingFactor(file: String, module: String, factor: String)
    /// Factors whose shapes do not fit the module's weight.
    case shapeMismatch(file: String, module: String, weight: [Int], down: [Int], up: [Int])
    /// A file with no LoRA tensor at all.
    case empty(file: String)
    /// Metadata that does not parse (peft's `lora_adapter_metadata`).
    case badMetadata(file: String, reason: String)

    public var description: String {
        switch self {
        case let .file(error): "\(error)"
        case let .unrecognisedTensor(file, tensor): "\(file): tensor '\(tensor)' is not part of a LoRA in any layout dbrender reads (peft, diffusers, kohya)"
        case let .unsupported(file, tensor, what): "\(file): '\(tensor)' belongs to \(what), which dbrender does not apply"
        case let .unknownModule(file, tensor): "\(file): '\(tensor)' adapts a module this model does not have (or that is neither linear nor a convolution)"
        case let .missingFactor(file, module, factor): "\(file): module '\(module)' has no \(factor) factor"
        case let .shapeMismatch(file, module, weight, down, up):
            "\(file): module '\(module)' has weight \(weight) but LoRA factors down \(down), up \(up)"
        case let .empty(file): "\(file) holds no LoRA tensors"
        case let .badMetadata(file, reason): "\(file): lora_adapter_metadata: \(reason)"
        }
    }
}
