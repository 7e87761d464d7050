// A fully connected layer with its parameters (`torch.nn.Linear`), loaded by diffusers key.
import Tensor
import Weights

/// `nn.Linear(in, out, bias)` with weight [out, in].
public struct LinearLayer: Sendable {
    public let weight: Tensor  // [out, in]
    public let bias: Tensor?  // [out]
    /// The module's path (the weights' key prefix): the name LoRAs adapt it by.
    public let module: String

    /// Loads `<prefix>.weight` and (when `bias`) `<prefix>.bias`. `initializer` overrides PyTorch's
    /// default for the weight (transformers initialises CLIP's layers from normal distributions).
    public init(_ source: ParameterSource, _ prefix: String, in inFeatures: Int, out outFeatures: Int,
                bias: Bool = true, initializer: ParameterInitializer? = nil) throws {
        module = prefix
        weight = try source.parameter("\(prefix).weight", shape: [outFeatures, inFeatures],
                                      initializer: initializer ?? .uniformFanIn(inFeatures))
        self.bias = bias
            ? try source.parameter("\(prefix).bias", shape: [outFeatures], initializer: initializer == nil ? .uniformFanIn(inFeatures) : .zeros)
            : nil
    }

    /// x [..., in] → [..., out], plus the LoRAs of `RowAdapters.current` that adapt this module.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let y = Linear.forward(x, weight: weight, bias: bias)
        RowAdapters.current?.apply(module: module, input: x, output: y, inFeatures: weight.shape[1],
                                   outFeatures: weight.shape[0], channelsFirst: false)
        return y
    }
}

extension LinearLayer {
    /// As `callAsFunction`, and the pullback: dx = dy·W; dW += dyᵀ·x; db += Σ dy.
    /// With `RowAdapters.current` set, the LoRAs' part too (dx, and the gradients of factors in `arena`).
    public func forwardWithPullback(_ x: Tensor, arena: ParameterArena?) -> (Tensor, Pullback) {
        let y = self(x)
        let adapters = RowAdapters.current  // the pullback runs after the forward call's scope has ended
        return (y, { dy in
            let dx = x.zerosLike()
            Linear.backward(gradOutput: dy, input: x, weight: weight, gradInput: dx,
                            gradWeight: arena?.gradient(of: weight), gradBias: bias.flatMap { arena?.gradient(of: $0) })
            adapters?.pullback(module: module, input: x, gradOutput: dy, gradInput: dx, inFeatures: weight.shape[1],
                               outFeatures: weight.shape[0], channelsFirst: false, arena: arena)
            return dx
        })
    }
}
