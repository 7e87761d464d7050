// The UNet's time conditioning: diffusers' `get_timestep_embedding` (sinusoidal features of the
// timestep, cos first when flip_sin_to_cos) followed by TimestepEmbedding (linear → SiLU → linear).
import Foundation
import Tensor
import Weights

/// Sinusoidal features + a two-layer MLP.
public struct TimestepEmbedding: Sendable {
    public let linear1: LinearLayer
    public let linear2: LinearLayer
    public let channels: Int
    public let flipSinToCos: Bool
    public let frequencyShift: Float

    public init(_ source: ParameterSource, _ prefix: String, channels: Int, embeddingChannels: Int,
                flipSinToCos: Bool, frequencyShift: Int) throws {
        linear1 = try LinearLayer(source, "\(prefix).linear_1", in: channels, out: embeddingChannels)
        linear2 = try LinearLayer(source, "\(prefix).linear_2", in: embeddingChannels, out: embeddingChannels)
        self.channels = channels
        self.flipSinToCos = flipSinToCos
        self.frequencyShift = Float(frequencyShift)
    }

    /// One timestep per sample (they may differ: the daemon batches requests at different steps)
    /// → [B, embeddingChannels].
    public func callAsFunction(_ timesteps: [Float]) -> Tensor {
        let h = linear1(Self.sinusoidalFeatures(timesteps, channels: channels, flipSinToCos: flipSinToCos, frequencyShift: frequencyShift))
        SiLU.forwardInPlace(h)
        return linear2(h)
    }

    /// emb[i, j] = sin(t_i · f_j) and cos(t_i · f_j), f_j = exp(−ln(10000) · j / (half − shift)).
    /// Computed in fp32 as PyTorch does (arange, exp, product and sin/cos all in float32).
    public static func sinusoidalFeatures(_ timesteps: [Float], channels: Int, flipSinToCos: Bool, frequencyShift: Float) -> Tensor {
        let half = channels / 2
        let out = Tensor(zeros: [timesteps.count, channels])
        let scale = -Float(Foundation.log(10000.0))
        for (i, t) in timesteps.enumerated() {
            let row = out.pointer + i * channels
            for j in 0..<half {
                let exponent = scale * Float(j) / (Float(half) - frequencyShift)
                let angle = t * Foundation.exp(exponent)
                let (sinValue, cosValue) = (Foundation.sin(angle), Foundation.cos(angle))
                row[j] = flipSinToCos ? cosValue : sinValue
                row[half + j] = flipSinToCos ? sinValue : cosValue
            }
        }
        return out
    }
}

extension TimestepEmbedding {
    /// As `callAsFunction`, and the pullback into the two linear layers (timesteps have no gradient).
    public func forwardWithPullback(_ timesteps: [Float], arena: ParameterArena?) -> (Tensor, (Tensor) -> Void) {
        let features = Self.sinusoidalFeatures(timesteps, channels: channels, flipSinToCos: flipSinToCos, frequencyShift: frequencyShift)
        let (h, pullback1) = linear1.forwardWithPullback(features, arena: arena)
        let activated = SiLU.forward(h)
        let (y, pullback2) = linear2.forwardWithPullback(activated, arena: arena)
        return (y, { dy in
            let dh = h.zerosLike()
            SiLU.backward(gradOutput: pullback2(dy), input: h, gradInput: dh)
            _ = pullback1(dh)
        })
    }
}
