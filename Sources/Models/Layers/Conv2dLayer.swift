// A convolution with its parameters (`torch.nn.Conv2d`, groups = 1), loaded by diffusers key.
import Tensor
import Weights

/// `nn.Conv2d(in, out, kernel, stride, padding)` with weight [out, in, k, k] and bias [out].
public struct Conv2dLayer: Sendable {
    public let weight: Tensor  // [Co, Ci, k, k]
    public let bias: Tensor?  // [Co]
    public let stride: Int
    public let padding: Int
    /// The module's path (the weights' key prefix): the name LoRAs adapt a 1×1 convolution by.
    public let module: String

    /// Loads `<prefix>.weight` and `<prefix>.bias`.
    public init(_ source: ParameterSource, _ prefix: String, in inChannels: Int, out outChannels: Int,
                kernel: Int, stride: Int = 1, padding: Int = 0, bias: Bool = true) throws {
        module = prefix
        let fanIn = inChannels * kernel * kernel
        weight = try source.parameter("\(prefix).weight", shape: [outChannels, inChannels, kernel, kernel], initializer: .uniformFanIn(fanIn))
        self.bias = bias ? try source.parameter("\(prefix).bias", shape: [outChannels], initializer: .uniformFanIn(fanIn)) : nil
        self.stride = stride
        self.padding = padding
    }

    public var outChannels: Int { weight.shape[0] }

    /// x [N, Ci, H, W] → [N, Co, Ho, Wo], plus the LoRAs of `RowAdapters.current` that adapt this module,
    /// plus the epilogue's per-sample channel offsets and residual (added as the output is written).
    public func callAsFunction(_ x: Tensor, epilogue: ConvolutionEpilogue = .none) -> Tensor {
        let y = Conv2D.forward(x, weight: weight, bias: bias, stride: stride, padding: padding, epilogue: epilogue)
        if weight.shape[2] == 1 && weight.shape[3] == 1 && stride == 1 && padding == 0 {
            RowAdapters.current?.apply(module: module, input: x, output: y, inFeatures: weight.shape[1],
                                       outFeatures: weight.shape[0], channelsFirst: true)
        } else {
            RowAdapters.current?.applyConvolution(module: module, input: x, output: y, stride: stride, padding: padding)
        }
        return y
    }
}

extension Conv2dLayer {
    /// As `callAsFunction`, and the pullback (input, weight and bias gradients).
    /// With `RowAdapters.current` set, a 1×1 convolution's LoRA part too. The epilogue's terms are
    /// the caller's: their gradients are the output gradient itself (residual) or its per-channel sums.
    public func forwardWithPullback(_ x: Tensor, arena: ParameterArena?, epilogue: ConvolutionEpilogue = .none) -> (Tensor, Pullback) {
        let y = self(x, epilogue: epilogue)
        let pointwise = weight.shape[2] == 1 && weight.shape[3] == 1 && stride == 1 && padding == 0
        let adapters = pointwise ? RowAdapters.current : nil
        return (y, { dy in
            let dx = x.zerosLike()
            Conv2D.backward(gradOutput: dy, input: x, weight: weight, stride: stride, padding: padding, gradInput: dx,
                            gradWeight: arena?.gradient(of: weight), gradBias: bias.flatMap { arena?.gradient(of: $0) })
            adapters?.pullback(module: module, input: x, gradOutput: dy, gradInput: dx, inFeatures: weight.shape[1],
                               outFeatures: weight.shape[0], channelsFirst: true, arena: arena)
            return dx
        })
    }
}
