// A LoRA as one render request uses it: the file's updates and the request's weight (A1111's
// `<lora:name:0.8>`, diffusers' adapter weight). The update applied to a module is
// weight · scale · B·A, scale being the file's alpha / rank.
import Models
import Weights

/// One LoRA of a render request.
public struct LoRAUse: Sendable {
    /// How the request named it (the file name without `.safetensors`).
    public let name: String
    public let weights: LoRAWeights
    /// The request's multiplier (1 = as trained).
    public let weight: Float

    public init(name: String, weights: LoRAWeights, weight: Float) {
        self.name = name
        self.weights = weights
        self.weight = weight
    }

    /// This LoRA's updates of `component`, as a row adapter (nil when it adapts nothing there).
    func adapter(for component: LoRAComponent) -> RowAdapters.Adapter? {
        guard let updates = weights.updates[component], !updates.isEmpty else { return nil }
        return RowAdapters.Adapter(updates: updates, weight: weight)
    }
}

extension Array where Element == LoRAUse {
    /// The row adapters of these LoRAs for `component`, in request order.
    func adapters(for component: LoRAComponent) -> [RowAdapters.Adapter] { compactMap { $0.adapter(for: component) } }
}
