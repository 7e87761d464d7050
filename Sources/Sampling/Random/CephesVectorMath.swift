// log and sin/cos exactly as PyTorch's vectorised normal kernel computes them on x86 CPUs with AVX2
// or AVX-512: ATen's `avx_mathfun.h` (Pommier's Cephes-based `log256_ps` / `sincos256_ps`), as the
// PyTorch wheels' compiler builds it — with every multiply that feeds only an add fused into an FMA
// (GCC contracts the intrinsics, which are plain vector arithmetic, at -mfma). Which products fuse
// was established against torch 2.13's `randn` (all of 3 × 4096 values bit-equal), and is spelled out
// at each `addingProduct` below. Scalar code, one lane at a time: each lane of the AVX code is
// independent, so this reproduces it exactly.

/// Cephes single-precision log and sincos, bit-compatible with PyTorch's AVX2 `normal_fill`.
enum CephesVectorMath {
    // Constants are C double literals stored into float arrays: rounded double → float.
    private static let sqrtHalf = Float(0.707106781186547524 as Double)
    private static let logP: [Float] = [
        7.0376836292E-2, -1.1514610310E-1, 1.1676998740E-1, -1.2420140846E-1, 1.4249322787E-1,
        -1.6668057665E-1, 2.0000714765E-1, -2.4999993993E-1, 3.3333331174E-1,
    ].map { (value: Double) in Float(value) }
    private static let logQ1 = Float(-2.12194440e-4 as Double)
    private static let logQ2 = Float(0.693359375 as Double)

    /// Natural log for x in (0, ∞) (the Box–Muller input is in (0, 1]).
    static func log(_ input: Float) -> Float {
        if input <= 0 { return .nan }
        let minNormal = Float(bitPattern: 0x0080_0000)
        let clamped = max(input, minNormal)
        // x = m · 2^e with m in [0.5, 1).
        var e = Float(Int32(clamped.bitPattern >> 23) - 0x7f) + 1
        var x = Float(bitPattern: (clamped.bitPattern & ~0x7f80_0000) | (0.5 as Float).bitPattern)
        // If m < √½: e −= 1, x = 2m − 1; else x = m − 1.
        let below = x < sqrtHalf
        let doubled: Float = below ? x : 0
        x = x - 1
        e = e - (below ? 1 : 0)
        x = x + doubled

        let z = x * x
        var y = logP[0]
        for p in logP.dropFirst() { y = p.addingProduct(y, x) }  // y·x + p fused
        y = y * x
        y = (e * logQ1).addingProduct(y, z)                       // y·z fused with + e·q1
        y = y.addingProduct(-z, 0.5)                              // y − z·½ (exact either way)
        x = x + y
        return x.addingProduct(e, logQ2)                          // x + e·q2 fused
    }

    private static let minusDP1 = Float(-0.78515625 as Double)
    private static let minusDP2 = Float(-2.4187564849853515625e-4 as Double)
    private static let minusDP3 = Float(-3.77489497744594108e-8 as Double)
    private static let sinP: [Float] = [-1.9515295891E-4, 8.3321608736E-3, -1.6666654611E-1].map { (v: Double) in Float(v) }
    private static let cosP: [Float] = [2.443315711809948E-005, -1.388731625493765E-003, 4.166664568298827E-002].map { (v: Double) in Float(v) }
    private static let fourOverPi = Float(1.27323954473516 as Double)

    /// sin and cos of x ≥ 0 (Box–Muller's θ is in [0, 2π)).
    static func sincos(_ input: Float) -> (sin: Float, cos: Float) {
        var x = abs(input)
        // Octant j (rounded up to even) and the reduction x − j·π/4 in three exact-ish parts.
        var j = Int32(x * fourOverPi)                              // truncation, as cvttps
        j = (j + 1) & ~1
        let y = Float(j)
        let flipSin = (j & 4) != 0
        let sinUsesSinPolynomial = (j & 2) == 0
        x = x.addingProduct(y, minusDP1)
        x = x.addingProduct(y, minusDP2)
        x = x.addingProduct(y, minusDP3)
        let flipCos = (~(j - 2) & 4) != 0

        let z = x * x
        // cos polynomial on [−π/4, π/4]: 1 − z/2 + z²·(c0·z² + c1·z + c2).
        var c = cosP[1].addingProduct(cosP[0], z)
        c = cosP[2].addingProduct(c, z)
        c = c * z
        c = (-(z * 0.5)).addingProduct(c, z)                      // c·z fused with − z·½
        c = c + 1
        // sin polynomial: x + x·z·(s0·z² + s1·z + s2).
        var s = sinP[1].addingProduct(sinP[0], z)
        s = sinP[2].addingProduct(s, z)
        s = s * z
        s = x.addingProduct(s, x)                                 // s·x + x fused

        let sine = sinUsesSinPolynomial ? s : c
        let cosine = sinUsesSinPolynomial ? c : s
        let signedSine = (input.sign == .minus) != flipSin ? -sine : sine
        return (signedSine, flipCos ? -cosine : cosine)
    }
}
