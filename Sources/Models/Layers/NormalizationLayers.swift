// GroupNorm and LayerNorm with their affine parameters, loaded by diffusers key.
import Tensor
import Weights

/// `nn.GroupNorm(groups, channels, eps)`, optionally followed by a fused SiLU.
public struct GroupNormLayer: Sendable {
    public let weight: Tensor  // [C]
    public let bias: Tensor  // [C]
    public let groups: Int
    public let eps: Float

    public init(_ source: ParameterSource, _ prefix: String, groups: Int, channels: Int, eps: Float) throws {
        weight = try source.parameter("\(prefix).weight", shape: [channels], initializer: .ones)
        bias = try source.parameter("\(prefix).bias", shape: [channels], initializer: .zeros)
        self.groups = groups
        self.eps = eps
    }

    /// x [N, C, ...] → same shape; `activation: .silu` applies SiLU in the same pass.
    public func callAsFunction(_ x: Tensor, activation: GroupNorm.Activation = .none) -> Tensor {
        GroupNorm.forward(x, groups: groups, weight: weight, bias: bias, eps: eps, activation: activation).output
    }
}

/// `nn.LayerNorm(features, eps)` over the last dimension.
public struct LayerNormLayer: Sendable {
    public let weight: Tensor  // [C]
    public let bias: Tensor  // [C]
    public let eps: Float

    public init(_ source: ParameterSource, _ prefix: String, features: Int, eps: Float) throws {
        weight = try source.parameter("\(prefix).weight", shape: [features], initializer: .ones)
        bias = try source.parameter("\(prefix).bias", shape: [features], initializer: .zeros)
        self.eps = eps
    }

    /// x [..., C] → same shape
    public func callAsFunction(_ x: Tensor) -> Tensor {
        LayerNorm.forward(x, weight: weight, bias: bias, eps: eps).output
    }
}

extension GroupNormLayer {
    /// As `callAsFunction` (with the fused activation), and the pullback.
    public func forwardWithPullback(_ x: Tensor, activation: GroupNorm.Activation = .none,
                                    arena: ParameterArena?) -> (Tensor, Pullback) {
        let (y, cache) = GroupNorm.forward(x, groups: groups, weight: weight, bias: bias, eps: eps, activation: activation)
        return (y, { dy in
            let dx = x.zerosLike()
            GroupNorm.backward(gradOutput: dy, input: x, weight: weight, bias: bias, cache: cache, gradInput: dx,
                               gradWeight: arena?.gradient(of: weight), gradBias: arena?.gradient(of: bias))
            return dx
        })
    }
}

extension LayerNormLayer {
    /// As `callAsFunction`, and the pullback.
    public func forwardWithPullback(_ x: Tensor, arena: ParameterArena?) -> (Tensor, Pullback) {
        let (y, cache) = LayerNorm.forward(x, weight: weight, bias: bias, eps: eps)
        return (y, { dy in
            let dx = x.zerosLike()
            LayerNorm.backward(gradOutput: dy, input: x, weight: weight, cache: cache, gradInput: dx,
                               gradWeight: arena?.gradient(of: weight), gradBias: arena?.gradient(of: bias))
            return dx
        })
    }
}
