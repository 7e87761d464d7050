// Finite-difference gradient checker, used by every backward-pass test (as ggml's MODE_GRAD and
// candle's grad_tests): the analytic gradient of L = Σ f(x) ⊙ g, for a fixed random g, must match
// central differences (L(x + εe_j) − L(x − εe_j)) / 2ε at sampled coordinates j.
import Foundation
import Tensor

/// Result of a gradient check: the worst disagreement over all checked coordinates.
public struct GradientCheckResult: CustomStringConvertible, Sendable {
    /// max over checked coordinates of |analytic − numeric| / (atol + |numeric|).
    public let worstRatio: Double
    public let worstInput: Int
    public let worstIndex: Int
    public let analytic: Double
    public let numeric: Double
    public var description: String {
        "input \(worstInput)[\(worstIndex)]: analytic \(analytic) vs numeric \(numeric) (ratio \(worstRatio))"
    }
}

/// A tiny deterministic generator for test data (not torch-compatible; for that see Sampling).
public struct TestRandom: Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed &* 0x9E3779B97F4A7C15 | 1 }
    /// Uniform in [0, 1).
    public mutating func uniform() -> Float {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return Float(state >> 40) / Float(1 << 24)
    }
    /// Approximately standard normal (Box–Muller).
    public mutating func normal() -> Float {
        let u1 = max(uniform(), 1e-7), u2 = uniform()
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
    /// A tensor of normal values times `scale`.
    public mutating func tensor(_ shape: [Int], scale: Float = 1) -> Tensor {
        let t = Tensor(zeros: shape)
        for i in 0..<t.count { t.pointer[i] = normal() * scale }
        return t
    }
}

/// Checks `backward` against central differences of `forward`.
///
/// - Parameters:
///   - inputs: the tensors to differentiate with respect to (perturbed in place, then restored).
///   - forward: computes the output from the current values of `inputs`.
///   - backward: given the output gradient, returns one gradient per input (same shapes).
///   - epsilon: the finite-difference step. fp32 forward passes need ~1e-2 to stay above rounding.
///   - samples: coordinates checked per input (all when the input is smaller).
///   - absoluteTolerance: added to |numeric| in the ratio's denominator, so near-zero gradients
///     are judged on an absolute scale.
public func checkGradients(
    inputs: [Tensor],
    forward: () -> Tensor,
    backward: (Tensor) -> [Tensor],
    epsilon: Float = 1e-2,
    samples: Int = 24,
    absoluteTolerance: Double = 1e-2,
    seed: UInt64 = 7
) -> GradientCheckResult {
    var random = TestRandom(seed: seed)
    let output = forward()
    let gradOutput = random.tensor(output.shape)
    let grads = backward(gradOutput)
    precondition(grads.count == inputs.count, "backward returned \(grads.count) gradients for \(inputs.count) inputs")

    func loss() -> Double {
        let y = forward()
        var s = 0.0
        for i in 0..<y.count { s += Double(y.pointer[i]) * Double(gradOutput.pointer[i]) }
        return s
    }

    var worst = GradientCheckResult(worstRatio: 0, worstInput: -1, worstIndex: -1, analytic: 0, numeric: 0)
    for (k, x) in inputs.enumerated() {
        precondition(grads[k].count == x.count, "gradient \(k) has shape \(grads[k].shape), input \(x.shape)")
        let indices: [Int] = x.count <= samples
            ? Array(0..<x.count)
            : (0..<samples).map { _ in Int(random.uniform() * Float(x.count)) % x.count }
        for j in indices {
            let saved = x.pointer[j]
            x.pointer[j] = saved + epsilon
            let plus = loss()
            x.pointer[j] = saved - epsilon
            let minus = loss()
            x.pointer[j] = saved
            let numeric = (plus - minus) / (2 * Double(epsilon))
            let analytic = Double(grads[k].pointer[j])
            let ratio = abs(analytic - numeric) / (absoluteTolerance + abs(numeric))
            if ratio > worst.worstRatio || ratio.isNaN {
                worst = GradientCheckResult(worstRatio: ratio, worstInput: k, worstIndex: j, analytic: analytic, numeric: numeric)
            }
        }
    }
    return worst
}
