// A convolution with its parameters (`torch.nn.Conv2d`, groups = 1), loaded by diffusers key.
import Tensor
import Weights

/// `nn.Conv2d(in, out, kernel, stride, padding)` with weight [out, in, k, k] and bias [out].
public struct Conv2dLayer: Sendable {
    public let weight: Tensor  // [Co, Ci, k, k]
    public let bias: Tensor?  // [Co]
    public let stride: Int
    public let padding: Int

    /// Loads `<prefix>.weight` and `<prefix>.bias`.
    public init(_ source: ParameterSource, _ prefix: String, in inChannels: Int, out outChannels: Int,
                kernel: Int, stride: Int = 1, padding: Int = 0, bias: Bool = true) throws {
        let fanIn = inChannels * kernel * kernel
        weight = try source.parameter("\(prefix).weight", shape: [outChannels, inChannels, kernel, kernel], initializer: .uniformFanIn(fanIn))
        self.bias = bias ? try source.parameter("\(prefix).bias", shape: [outChannels], initializer: .uniformFanIn(fanIn)) : nil
        self.stride = stride
        self.padding = padding
    }

    public var outChannels: Int { weight.shape[0] }

    /// x [N, Ci, H, W] → [N, Co, Ho, Wo]
    public func callAsFunction(_ x: Tensor) -> Tensor {
        Conv2D.forward(x, weight: weight, bias: bias, stride: stride, padding: padding)
    }
}

extension Conv2dLayer {
    /// As `callAsFunction`, and the pullback (input, weight and bias gradients).
    public func forwardWithPullback(_ x: Tensor, arena: ParameterArena?) -> (Tensor, Pullback) {
        let y = self(x)
        return (y, { dy in
            let dx = x.zerosLike()
            Conv2D.backward(gradOutput: dy, input: x, weight: weight, stride: stride, padding: padding, gradInput: dx,
                            gradWeight: arena?.gradient(of: weight), gradBias: bias.flatMap { arena?.gradient(of: $0) })
            return dx
        })
    }
}
