// A1111's "Original" emphasis, applied to one chunk's text-encoder output: each token's vector is
// multiplied by its weight, then the whole chunk is rescaled so that its mean over every element is
// the mean it had before (A1111's comment: restoring the mean keeps strong weights from burning the
// image). Weights therefore act relative to each other: a prompt whose every token weighs 1.3 encodes
// as if unweighted. The arithmetic is torch's in float32 — the weights are cast to float32, as
// torch.asarray makes them — with the means accumulated in double (torch's float32 cascade sums
// differ from them in the last bits only).
// Golden test: Tests/SamplingTests/EmphasisWeightingTests.swift, fixture from A1111's sd_emphasis.
import Tensor

/// The emphasis arithmetic of A1111.
public enum EmphasisWeighting {
    /// Weights `hidden` ([…, T, C]: one chunk of T tokens) in place by `multipliers` (T of them), then
    /// restores its mean.
    public static func applyOriginal(to hidden: Tensor, multipliers: [Double]) {
        let channels = hidden.shape.last ?? 0, tokens = multipliers.count
        precondition(hidden.shape.count >= 2 && hidden.shape[hidden.shape.count - 2] == tokens && hidden.count == tokens * channels,
                     "\(tokens) multipliers for a chunk of shape \(hidden.shape)")
        guard multipliers.contains(where: { $0 != 1 }) else { return }
        let values = hidden.pointer
        var before = 0.0
        for i in 0..<hidden.count { before += Double(values[i]) }
        var after = 0.0
        for token in 0..<tokens {
            let weight = Float(multipliers[token])
            for c in 0..<channels {
                let i = token * channels + c
                values[i] *= weight
                after += Double(values[i])
            }
        }
        let count = Double(hidden.count)
        let scale = Float(before / count) / Float(after / count)
        for i in 0..<hidden.count { values[i] *= scale }
    }
}
