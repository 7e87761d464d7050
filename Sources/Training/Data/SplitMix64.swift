// The trainer's own seeded random numbers for data order and random crops. diffusers draws those from
// torch's global generator, whose state depends on everything else the script does before (model
// initialisation, dropout, noise); reproducing that stream is neither possible nor useful, so we promise
// only what matters: the same seed gives the same order and the same crops, on every machine and with
// every Swift version (no use of the standard library's unspecified `random(in:using:)` algorithms).

/// SplitMix64 (Steele, Lea & Flood 2014): a tiny, well-mixed 64-bit generator. Not cryptographic.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose stream depends only on `seed`.
    public init(seed: UInt64) { state = seed }

    /// A generator for one purpose derived from a seed and a few integers (epoch, example index, …):
    /// each component is mixed in turn, so (1, 2) and (2, 1) give unrelated streams.
    public init(seed: UInt64, _ components: Int...) {
        var mixer = SplitMix64(seed: seed)
        var value = mixer.next()
        for component in components {
            mixer = SplitMix64(seed: value ^ UInt64(bitPattern: Int64(component)) &* 0x9E37_79B9_7F4A_7C15)
            value = mixer.next()
        }
        state = value
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform integer in `0..<bound` (bound ≥ 1), without modulo bias: Lemire's multiply-and-shift
    /// with rejection of the few low products that would favour small values.
    public mutating func uniform(below bound: Int) -> Int {
        precondition(bound >= 1, "uniform(below: \(bound))")
        let range = UInt64(bound)
        var product = next().multipliedFullWidth(by: range)
        if product.low < range {
            let threshold = (0 &- range) % range
            while product.low < threshold { product = next().multipliedFullWidth(by: range) }
        }
        return Int(product.high)
    }

    /// A uniform double in [0, 1): the top 53 bits of the next draw, so every value is exactly representable.
    public mutating func unitInterval() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// A uniformly random permutation of `0..<count` (Fisher–Yates, from the last position down).
    public mutating func permutation(_ count: Int) -> [Int] {
        var order = Array(0..<count)
        var i = count - 1
        while i > 0 {
            order.swapAt(i, uniform(below: i + 1))
            i -= 1
        }
        return order
    }
}
