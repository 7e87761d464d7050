// Vectorised elementary functions on SIMD8<Float> (one AVX2 register), and unaligned loads/stores.
//
// Why our own exp: libm's expf is scalar, and attention at 4096 tokens needs 134 M exponentials per
// head group — scalar calls would cost more than the matrix products. The method is the classic one
// (Cephes expf): split x = n·ln2 + r with |r| ≤ ln2/2, a degree-6 polynomial for e^r, and 2^n built
// from the float's exponent bits. Relative error below 1e-7 over the whole range (tested).

/// Loads 8 floats from `pointer` (no alignment needed).
@inline(__always)
public func load8(_ pointer: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self)
}

/// Stores 8 floats at `pointer` (no alignment needed).
@inline(__always)
public func store8(_ value: SIMD8<Float>, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: SIMD8<Float>.self)
}

/// Elementary functions for 8 lanes at once.
public enum VectorMath {
    /// e^x for each lane. Returns 0 below −87.3 (and for −inf), +inf above 88.7, NaN for NaN.
    ///
    /// Written with comparisons, blends and bit casts only: the generic `rounded()`, integer
    /// conversion and `clamped` of SIMD types compile to scalar library calls, 20× slower.
    @inline(__always)
    public static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let upper = SIMD8<Float>(repeating: 88.72283)
        let lower = SIMD8<Float>(repeating: -87.33654)
        var c = x.replacing(with: upper, where: x .> upper)
        c = c.replacing(with: lower, where: c .< lower)
        // n = round(x / ln2): adding 1.5·2²³ pushes the fraction out of the mantissa (round to
        // nearest even), and the low mantissa bits of t then hold n itself.
        let magic = SIMD8<Float>(repeating: 12_582_912)
        let t = (c * 1.442695041) + magic
        let n = t - magic
        // r = x − n·ln2, with ln2 split in two parts so that n·ln2_hi is exact.
        var r = c.addingProduct(n, SIMD8(repeating: -0.693359375))
        r = r.addingProduct(n, SIMD8(repeating: 2.12194440e-4))
        // e^r ≈ 1 + r + r²·P(r), P of degree 5 (Cephes expf coefficients).
        var p = SIMD8<Float>(repeating: 1.3981999507e-3).addingProduct(r, SIMD8(repeating: 1.9875691500e-4))
        p = SIMD8<Float>(repeating: 8.3334519073e-3).addingProduct(p, r)
        p = SIMD8<Float>(repeating: 4.1665795894e-2).addingProduct(p, r)
        p = SIMD8<Float>(repeating: 1.6666665459e-1).addingProduct(p, r)
        p = SIMD8<Float>(repeating: 5.0000001201e-1).addingProduct(p, r)
        let er = r.addingProduct(p, r * r) + 1
        // 2^n from exponent bits. n reaches 128 at the top of the range, past the largest
        // exponent, so 2^n is built as 2^(n/2) · 2^(n − n/2).
        let ni = unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000
        let half = ni &>> 1
        let scaleA = unsafeBitCast((half &+ 127) &<< 23, to: SIMD8<Float>.self)
        let scaleB = unsafeBitCast(((ni &- half) &+ 127) &<< 23, to: SIMD8<Float>.self)
        var result = er * scaleA * scaleB
        result.replace(with: 0, where: x .< lower)
        result.replace(with: .infinity, where: x .> upper)
        result.replace(with: x, where: x .!= x)
        return result
    }

    /// 1 / (1 + e^−x) for each lane.
    @inline(__always)
    public static func sigmoid(_ x: SIMD8<Float>) -> SIMD8<Float> {
        1 / (1 + exp(-x))
    }

    /// tanh(x) = 2σ(2x) − 1 (accurate to a few ulp except very near 0, where |error| < 1e-7).
    @inline(__always)
    public static func tanh(_ x: SIMD8<Float>) -> SIMD8<Float> {
        2 * sigmoid(2 * x) - 1
    }
}
