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

/// How the numeric derivative is formed.
public enum FiniteDifferenceStencil: Sendable {
    /// (L(x+ε) − L(x−ε)) / 2ε: truncation error O(ε²).
    case central
    /// (8(L(x+ε) − L(x−ε)) − (L(x+2ε) − L(x−2ε))) / 12ε: truncation error O(ε⁴), so a larger ε
    /// (less fp32 rounding noise relative to the difference) can be used — for deep blocks whose
    /// normalisations curve the loss.
    case fivePoint
}

/// Checks `backward` against finite differences of `forward`, at one seed (the coordinates and the
/// output weights g it draws).
///
/// Bounds are chosen from the distribution of `worstRatio` over many seeds, not from one run:
/// `DBRENDER_FD_SURVEY=N swift test -c release --filter …` re-runs every check at seeds 1…N and
/// prints the median and the maximum per call site (the figures each test's bound cites).
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
    seed: UInt64 = 7,
    stencil: FiniteDifferenceStencil = .central,
    fileID: String = #fileID, line: Int = #line
) -> GradientCheckResult {
    if let survey = ProcessInfo.processInfo.environment["DBRENDER_FD_SURVEY"].flatMap(Int.init), survey > 0 {
        let ratios = (1...UInt64(survey)).map {
            gradientCheck(inputs: inputs, forward: forward, backward: backward, epsilon: epsilon, samples: samples,
                          absoluteTolerance: absoluteTolerance, seed: $0, stencil: stencil).worstRatio
        }.sorted()
        print("FD survey \(fileID):\(line) \(stencil) ε \(epsilon): \(survey) seeds, median \(ratios[survey / 2]), max \(ratios.last!)")
    }
    return gradientCheck(inputs: inputs, forward: forward, backward: backward, epsilon: epsilon, samples: samples,
                         absoluteTolerance: absoluteTolerance, seed: seed, stencil: stencil)
}

private func gradientCheck(
    inputs: [Tensor],
    forward: () -> Tensor,
    backward: (Tensor) -> [Tensor],
    epsilon: Float,
    samples: Int,
    absoluteTolerance: Double,
    seed: UInt64,
    stencil: FiniteDifferenceStencil) -> GradientCheckResult {
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
            func shiftedLoss(_ offset: Float) -> Double {
                x.pointer[j] = saved + offset
                defer { x.pointer[j] = saved }
                return loss()
            }
            let numeric: Double
            switch stencil {
            case .central:
                numeric = (shiftedLoss(epsilon) - shiftedLoss(-epsilon)) / (2 * Double(epsilon))
            case .fivePoint:
                let near = shiftedLoss(epsilon) - shiftedLoss(-epsilon), far = shiftedLoss(2 * epsilon) - shiftedLoss(-2 * epsilon)
                numeric = (8 * near - far) / (12 * Double(epsilon))
            }
            let analytic = Double(grads[k].pointer[j])
            let ratio = abs(analytic - numeric) / (absoluteTolerance + abs(numeric))
            if ratio > worst.worstRatio || ratio.isNaN {
                worst = GradientCheckResult(worstRatio: ratio, worstInput: k, worstIndex: j, analytic: analytic, numeric: numeric)
            }
        }
    }
    return worst
}
