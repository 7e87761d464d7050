// Numeric comparison for golden tests: the largest absolute and relative difference between tensors.
import Tensor

/// How far `actual` is from `expected`.
public struct Difference: CustomStringConvertible, Sendable {
    /// max |a − e|
    public let maxAbsolute: Float
    /// max |a − e| / max |e| — the error relative to the tensor's scale (robust near zeros).
    public let relativeToScale: Float
    /// Index of the worst element.
    public let worstIndex: Int
    public var description: String {
        "max|Δ| \(maxAbsolute) (relative to scale \(relativeToScale)) at \(worstIndex)"
    }
}

/// Compares two tensors of the same element count. A shape mismatch is reported as infinite error.
public func difference(_ actual: Tensor, _ expected: Tensor) -> Difference {
    guard actual.count == expected.count else {
        return Difference(maxAbsolute: .infinity, relativeToScale: .infinity, worstIndex: -1)
    }
    var worst: Float = 0, worstIndex = 0, scale: Float = 0
    for i in 0..<actual.count {
        let e = expected.pointer[i]
        let d = abs(actual.pointer[i] - e)
        scale = max(scale, abs(e))
        if !(d <= worst) { worst = d; worstIndex = i }  // NaN counts as worst
    }
    return Difference(maxAbsolute: worst, relativeToScale: worst / max(scale, 1e-30), worstIndex: worstIndex)
}
