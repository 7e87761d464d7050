// MT19937, the 32-bit Mersenne Twister, seeded the way PyTorch's CPU generator seeds it.
// Follows ATen's `at::mt19937` (aten/src/ATen/core/MT19937RNGEngine.h): the textbook MT19937 of
// Matsumoto & Nishimura, whose `init_with_uint32` keeps only the low 32 bits of the 64-bit seed.

/// The MT19937 engine behind `torch.Generator("cpu")`.
///
/// Its output stream is the standard MT19937 stream (identical to C++'s `std::mt19937`) for the
/// seed `seed & 0xffff_ffff`: PyTorch accepts 64-bit seeds but the engine only sees their low half,
/// so seeds 5 and 2³² + 5 draw the same numbers.
public struct MersenneTwister: Sendable {
    private static let stateSize = 624
    private static let shift = 397
    private static let matrixA: UInt32 = 0x9908_b0df
    private static let upperMask: UInt32 = 0x8000_0000
    private static let lowerMask: UInt32 = 0x7fff_ffff

    /// The 624-word state; regenerated in one block every 624 draws.
    private var state: [UInt32]
    /// Index of the next word of `state` to temper and return.
    private var next: Int

    /// An engine seeded with the low 32 bits of `seed`.
    public init(seed: UInt64) {
        var state = [UInt32](repeating: 0, count: Self.stateSize)
        state[0] = UInt32(truncatingIfNeeded: seed)
        for j in 1..<Self.stateSize {
            let previous = state[j - 1]
            state[j] = 1_812_433_253 &* (previous ^ (previous >> 30)) &+ UInt32(j)
        }
        self.state = state
        // ATen starts with `left_ = 1`: the first draw regenerates the whole block.
        self.next = Self.stateSize
    }

    /// The next 32 random bits.
    public mutating func next32() -> UInt32 {
        if next == Self.stateSize { regenerate() }
        var y = state[next]
        next += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9d2c_5680
        y ^= (y << 15) & 0xefc6_0000
        y ^= y >> 18
        return y
    }

    /// The "twist": replaces all 624 words at once.
    private mutating func regenerate() {
        let n = Self.stateSize, m = Self.shift
        state.withUnsafeMutableBufferPointer { s in
            for k in 0..<n {
                let bits = (s[k] & Self.upperMask) | (s[(k + 1) % n] & Self.lowerMask)
                let twisted = (bits >> 1) ^ ((s[(k + 1) % n] & 1) != 0 ? Self.matrixA : 0)
                s[k] = s[(k + m) % n] ^ twisted
            }
        }
        next = 0
    }
}
