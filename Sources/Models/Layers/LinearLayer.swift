// A fully connected layer with its parameters (`torch.nn.Linear`), loaded by diffusers key.
import Tensor
import Weights

/// `nn.Linear(in, out, bias)` with weight [out, in].
public struct LinearLayer: Sendable {
    public let weight: Tensor  // [out, in]
    public let bias: Tensor?  // [out]

    /// Loads `<prefix>.weight` and (when `bias`) `<prefix>.bias`. `initializer` overrides PyTorch's
    /// default for the weight (transformers initialises CLIP's layers from normal distributions).
    public init(_ source: ParameterSource, _ prefix: String, in inFeatures: Int, out outFeatures: Int,
                bias: Bool = true, initializer: ParameterInitializer? = nil) throws {
        weight = try source.parameter("\(prefix).weight", shape: [outFeatures, inFeatures],
                                      initializer: initializer ?? .uniformFanIn(inFeatures))
        self.bias = bias
            ? try source.parameter("\(prefix).bias", shape: [outFeatures], initializer: initializer == nil ? .uniformFanIn(inFeatures) : .zeros)
            : nil
    }

    /// x [..., in] → [..., out]
    public func callAsFunction(_ x: Tensor) -> Tensor {
        Linear.forward(x, weight: weight, bias: bias)
    }
}

extension LinearLayer {
    /// As `callAsFunction`, and the pullback: dx = dy·W; dW += dyᵀ·x; db += Σ dy.
    public func forwardWithPullback(_ x: Tensor, arena: ParameterArena?) -> (Tensor, Pullback) {
        let y = self(x)
        return (y, { dy in
            let dx = x.zerosLike()
            Linear.backward(gradOutput: dy, input: x, weight: weight, gradInput: dx,
                            gradWeight: arena?.gradient(of: weight), gradBias: bias.flatMap { arena?.gradient(of: $0) })
            return dx
        })
    }
}
