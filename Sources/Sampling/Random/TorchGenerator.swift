// A random generator that reproduces `torch.Generator("cpu")` draw for draw: the MT19937 engine,
// the 32/64-bit draws, uniform floats and doubles, integers in a range, and the cached second value
// of the scalar Box–Muller transform. The normal distribution itself is in TorchGenerator+Normal.swift.
// Follows ATen's CPUGeneratorImpl.cpp, core/DistributionsHelper.h and core/TransformationHelper.h.

/// PyTorch's CPU generator, reproduced exactly.
///
/// `TorchGenerator(seed: s)` is `torch.Generator("cpu").manual_seed(s)`; every draw method consumes
/// the engine's output in the order PyTorch's CPU kernels do, so a sequence of calls on one
/// generator gives PyTorch's values for the same sequence of calls (e.g. the initial latents, then
/// one noise tensor per ancestral step). A value type: copying a generator forks its stream.
public struct TorchGenerator: Sendable {
    /// The seed this generator was created with (all 64 bits, as `torch.Generator.initial_seed()`).
    public let seed: UInt64
    private var engine: MersenneTwister
    /// Box–Muller makes normals in pairs; the scalar path returns one and keeps the other here for
    /// the next scalar draw, as ATen's `next_double_normal_sample_` (a `manual_seed` clears it).
    var cachedNormal: Double?
    /// Which of PyTorch's two float Box–Muller kernels `randn` of ≥ 16 values reproduces.
    public var normalKernel: NormalKernel = .vectorized

    /// PyTorch's builds compute the float Box–Muller transform of `randn` (≥ 16 values) in one of two
    /// ways, which differ in the last bits; see TorchGenerator+Normal.swift.
    public enum NormalKernel: Sendable {
        /// x86 with AVX2 or AVX-512 (the usual case): `normal_fill_16_AVX2`.
        case vectorized
        /// Other CPUs, or `ATEN_CPU_CAPABILITY=default`: `normal_fill_16` with libm.
        case scalar
    }

    /// A generator in the state of `torch.Generator("cpu").manual_seed(seed)`. (PyTorch takes a negative
    /// seed as its two's complement: pass `UInt64(bitPattern: seed)`.)
    public init(seed: UInt64) {
        self.seed = seed
        self.engine = MersenneTwister(seed: seed)
        self.cachedNormal = nil
    }

    // MARK: Raw draws (CPUGeneratorImpl::random, random64)

    /// 32 random bits: one engine output.
    public mutating func random32() -> UInt32 { engine.next32() }

    /// 64 random bits from two engine outputs, the first one in the high half.
    public mutating func random64() -> UInt64 {
        let high = UInt64(engine.next32())
        let low = UInt64(engine.next32())
        return high << 32 | low
    }

    // MARK: Uniform (transformation::uniform_real)

    /// A float in [0, 1): the low 24 bits of one 32-bit draw, times 2⁻²⁴ (exact).
    /// This is `uniform_real_distribution<float>(0, 1)`, what `torch.rand` and the vectorised
    /// normal fill consume per element.
    public mutating func uniformFloat() -> Float {
        Float(random32() & 0x00ff_ffff) * 0x1p-24
    }

    /// A double in [0, 1): the low 53 bits of one 64-bit draw (two engine outputs), times 2⁻⁵³.
    public mutating func uniformDouble() -> Double {
        Double(random64() & 0x001f_ffff_ffff_ffff) * 0x1p-53
    }

    /// `torch.rand(count, generator: g)` in fp32: uniform floats in [from, to).
    /// ATen computes `x · (to − from) + from` in float; for [0, 1) that is the draw itself.
    public mutating func rand(count: Int, from: Float = 0, to: Float = 1) -> [Float] {
        (0..<count).map { _ in uniformFloat() * (to - from) + from }
    }

    // MARK: Integers (transformation::uniform_int_from_to)

    /// One integer of `torch.randint(low, high, ..., generator: g)` (int64 output): a 32-bit draw
    /// when the range is below 2³², else a 64-bit draw, reduced modulo the range.
    public mutating func randint(_ low: Int64, _ high: Int64) -> Int64 {
        precondition(low < high, "randint: empty range [\(low), \(high))")
        let range = UInt64(bitPattern: high &- low)
        let bits = range >= 1 << 32 ? random64() : UInt64(random32())
        return low &+ Int64(bitPattern: bits % range)
    }

    /// `torch.randint(low, high, (count,), generator: g)`.
    public mutating func randint(_ low: Int64, _ high: Int64, count: Int) -> [Int64] {
        (0..<count).map { _ in randint(low, high) }
    }
}
