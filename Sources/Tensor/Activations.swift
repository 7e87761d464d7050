// Point-wise activations and their gradients: SiLU (UNet, VAE), GELU exact and tanh-approximated,
// quick-GELU (CLIP ViT-L/14 text encoder), GEGLU (the UNet transformer's feed-forward); ReLU and the
// soft clamp m·tanh(x/m) of the tiny autoencoder (TAESD), forward only.
//
// References: torch.nn.functional.silu / gelu(approximate="none" | "tanh"); transformers'
// QuickGELUActivation (x·σ(1.702x)); diffusers' `GEGLU.forward`: `hidden, gate = proj(x).chunk(2, -1)`,
// `hidden * gelu(gate)` — the FIRST half is the value, the SECOND half goes through GELU.
//
// All loops run 8 lanes at a time with VectorMath.exp; a tensor whose size is not a multiple of 8
// finishes with one zero-padded vector, so there is exactly one kernel per function.
import Foundation

/// Elements per parallel chunk: below this, a loop runs inline on the calling thread.
let pointwiseGrain = 1 << 15

// MARK: - Loop drivers shared by the point-wise ops

/// Loads `count` (< 8) floats into the low lanes of a vector; the other lanes are 0.
@inline(__always)
func loadPartial(_ p: UnsafePointer<Float>, _ count: Int) -> SIMD8<Float> {
    var v = SIMD8<Float>()
    for i in 0..<count { v[i] = p[i] }
    return v
}

/// Stores the low `count` (< 8) lanes of `v`.
@inline(__always)
func storePartial(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
    for i in 0..<count { p[i] = v[i] }
}

/// y[i] = f(x[i]) over `count` floats, in parallel chunks. `x` and `y` may be the same memory.
@inline(__always)
func mapVectors(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int,
                _ f: (SIMD8<Float>) -> SIMD8<Float>) {
    ThreadPool.shared.parallelFor((count + 7) / 8, grain: pointwiseGrain / 8) { vectors in
        let start = vectors.lowerBound * 8, end = min(vectors.upperBound * 8, count)
        var i = start
        while i + 8 <= end {
            store8(f(load8(x + i)), y + i)
            i += 8
        }
        if i < end { storePartial(f(loadPartial(x + i, end - i)), y + i, end - i) }
    }
}

/// z[i] += f(x[i], g[i]) over `count` floats, in parallel chunks (the shape of every backward pass
/// of a point-wise function: gradInput += gradOutput · f′(input)).
@inline(__always)
func accumulateVectors(_ x: UnsafePointer<Float>, _ g: UnsafePointer<Float>, into z: UnsafeMutablePointer<Float>,
                       count: Int, _ f: (SIMD8<Float>, SIMD8<Float>) -> SIMD8<Float>) {
    ThreadPool.shared.parallelFor((count + 7) / 8, grain: pointwiseGrain / 8) { vectors in
        let start = vectors.lowerBound * 8, end = min(vectors.upperBound * 8, count)
        var i = start
        while i + 8 <= end {
            store8(load8(z + i) + f(load8(x + i), load8(g + i)), z + i)
            i += 8
        }
        if i < end {
            let n = end - i
            storePartial(loadPartial(z + i, n) + f(loadPartial(x + i, n), loadPartial(g + i, n)), z + i, n)
        }
    }
}

func checkSameCount(_ op: String, _ a: Tensor, _ b: Tensor, _ aName: String, _ bName: String) {
    precondition(a.count == b.count, "\(op): \(aName) \(a.shape) and \(bName) \(b.shape) differ in size")
}

// MARK: - SiLU

/// SiLU (swish): x·σ(x). Used after every GroupNorm in the UNet's and VAE's ResNet blocks.
public enum SiLU {
    /// x·σ(x) for one vector.
    @inline(__always)
    static func value(_ x: SIMD8<Float>) -> SIMD8<Float> { x * VectorMath.sigmoid(x) }

    /// d/dx x·σ(x) = σ(x)·(1 + x·(1 − σ(x))).
    @inline(__always)
    static func derivative(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let s = VectorMath.sigmoid(x)
        return s * (1 + x * (1 - s))
    }

    /// silu(x) as a new tensor of x's shape.
    public static func forward(_ x: Tensor) -> Tensor {
        let y = Tensor(uninitialized: x.shape)
        mapVectors(x.pointer, y.pointer, count: x.count, value)
        return y
    }

    /// x ← silu(x), for inference where the input is not needed again.
    public static func forwardInPlace(_ x: Tensor) {
        mapVectors(x.pointer, x.pointer, count: x.count, value)
    }

    /// gradInput += gradOutput · silu′(input). All three have the same shape.
    public static func backward(gradOutput: Tensor, input: Tensor, gradInput: Tensor) {
        checkSameCount("silu backward", gradOutput, input, "gradOutput", "input")
        checkSameCount("silu backward", gradInput, input, "gradInput", "input")
        accumulateVectors(input.pointer, gradOutput.pointer, into: gradInput.pointer, count: input.count) { x, g in
            g * derivative(x)
        }
    }
}

// MARK: - GELU

/// GELU x·Φ(x), exact (erf) or with PyTorch's tanh approximation.
public enum GELU {
    /// Which formula, as `torch.nn.functional.gelu(approximate:)`.
    public enum Approximation: Sendable {
        /// x·Φ(x) with the normal CDF through erf (`approximate="none"`, diffusers' GEGLU, CLIP "gelu").
        case none
        /// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (`approximate="tanh"`, "gelu_pytorch_tanh").
        case tanh
    }

    /// Φ(x), the standard normal CDF, to ~2e-7 relative error everywhere (also deep in the lower
    /// tail, where 1 + erf(x/√2) would cancel). Φ(x) = ½·erfc(−x/√2), and erfc(z) for z ≥ 0 is
    /// t·exp(−z² + P(t)), t = 1/(1 + z/2) — the Chebyshev fit of Numerical Recipes (erfcc), whose
    /// fractional error is below 1.2e-7; for z < 0, erfc(z) = 2 − erfc(−z).
    @inline(__always)
    static func normalCDF(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let z = x * -0.70710678118654752
        let a = z.replacing(with: -z, where: z .< 0)  // |z| (pointwiseMax is not vectorised)
        let t = 1 / (1 + 0.5 * a)
        var p = SIMD8<Float>(repeating: 0.17087277)
        p = p * t - 0.82215223
        p = p * t + 1.48851587
        p = p * t - 1.13520398
        p = p * t + 0.27886807
        p = p * t - 0.18628806
        p = p * t + 0.09678418
        p = p * t + 0.37409196
        p = p * t + 1.00002368
        p = p * t - 1.26551223
        let erfcAbs = t * VectorMath.exp(p - a * a)
        var erfc = erfcAbs
        erfc.replace(with: 2 - erfcAbs, where: z .< 0)
        return 0.5 * erfc
    }

    /// φ(x) = exp(−x²/2)/√(2π), the normal density.
    @inline(__always)
    static func normalPDF(_ x: SIMD8<Float>) -> SIMD8<Float> {
        0.3989422804014327 * VectorMath.exp(-0.5 * x * x)
    }

    /// For the tanh form: 1 + tanh(u) = 2σ(2u), so gelu = x·σ(2u) — no tanh, and no cancellation
    /// for negative x. Returns (σ(2u), du/dx).
    @inline(__always)
    static func tanhGate(_ x: SIMD8<Float>) -> (gate: SIMD8<Float>, slope: SIMD8<Float>) {
        let k: Float = 0.7978845608028654  // √(2/π)
        let x2 = x * x
        let u = k * x * (1 + 0.044715 * x2)
        return (VectorMath.sigmoid(2 * u), k * (1 + 3 * 0.044715 * x2))
    }

    @inline(__always)
    static func value(_ x: SIMD8<Float>, _ approximation: Approximation) -> SIMD8<Float> {
        switch approximation {
        case .none: return x * normalCDF(x)
        case .tanh: return x * tanhGate(x).gate
        }
    }

    @inline(__always)
    static func derivative(_ x: SIMD8<Float>, _ approximation: Approximation) -> SIMD8<Float> {
        switch approximation {
        case .none:
            return normalCDF(x) + x * normalPDF(x)
        case .tanh:
            // d/dx x·σ(2u) = σ(2u) + x·σ(2u)(1 − σ(2u))·2u′
            let (s, slope) = tanhGate(x)
            return s + x * s * (1 - s) * 2 * slope
        }
    }

    /// gelu(x) as a new tensor of x's shape.
    public static func forward(_ x: Tensor, approximation: Approximation = .none) -> Tensor {
        let y = Tensor(uninitialized: x.shape)
        forward(x.pointer, into: y.pointer, count: x.count, approximation: approximation)
        return y
    }

    /// x ← gelu(x), for inference.
    public static func forwardInPlace(_ x: Tensor, approximation: Approximation = .none) {
        forward(x.pointer, into: x.pointer, count: x.count, approximation: approximation)
    }

    /// gradInput += gradOutput · gelu′(input). All three have the same shape.
    public static func backward(gradOutput: Tensor, input: Tensor, gradInput: Tensor, approximation: Approximation = .none) {
        checkSameCount("gelu backward", gradOutput, input, "gradOutput", "input")
        checkSameCount("gelu backward", gradInput, input, "gradInput", "input")
        // One specialised loop per formula, so that the switch is not inside the hot loop.
        switch approximation {
        case .none:
            accumulateVectors(input.pointer, gradOutput.pointer, into: gradInput.pointer, count: input.count) { x, g in
                g * derivative(x, .none)
            }
        case .tanh:
            accumulateVectors(input.pointer, gradOutput.pointer, into: gradInput.pointer, count: input.count) { x, g in
                g * derivative(x, .tanh)
            }
        }
    }

    private static func forward(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int,
                                approximation: Approximation) {
        switch approximation {
        case .none: mapVectors(x, y, count: count) { value($0, .none) }
        case .tanh: mapVectors(x, y, count: count) { value($0, .tanh) }
        }
    }
}

// MARK: - Quick GELU

/// CLIP's quick GELU x·σ(1.702x) (OpenAI CLIP, `hidden_act: "quick_gelu"` in SD 1.x's text encoder).
public enum QuickGELU {
    @inline(__always)
    static func value(_ x: SIMD8<Float>) -> SIMD8<Float> { x * VectorMath.sigmoid(1.702 * x) }

    /// quickGELU(x) as a new tensor of x's shape.
    public static func forward(_ x: Tensor) -> Tensor {
        let y = Tensor(uninitialized: x.shape)
        mapVectors(x.pointer, y.pointer, count: x.count, value)
        return y
    }

    /// x ← quickGELU(x), for inference.
    public static func forwardInPlace(_ x: Tensor) {
        mapVectors(x.pointer, x.pointer, count: x.count, value)
    }

    /// gradInput += gradOutput · (σ(1.702x) + 1.702·x·σ(1.702x)(1 − σ(1.702x))).
    public static func backward(gradOutput: Tensor, input: Tensor, gradInput: Tensor) {
        checkSameCount("quick_gelu backward", gradOutput, input, "gradOutput", "input")
        checkSameCount("quick_gelu backward", gradInput, input, "gradInput", "input")
        accumulateVectors(input.pointer, gradOutput.pointer, into: gradInput.pointer, count: input.count) { x, g in
            let s = VectorMath.sigmoid(1.702 * x)
            return g * (s + 1.702 * x * s * (1 - s))
        }
    }
}

// MARK: - GEGLU

/// GEGLU as in diffusers: the last dimension [2·D] splits into value a = x[..., :D] and gate
/// b = x[..., D:]; the output [..., D] is a · gelu(b) with exact GELU.
public enum GEGLU {
    /// x [..., 2·D] → a · gelu(b) [..., D].
    public static func forward(_ x: Tensor) -> Tensor {
        let (rows, d) = halves(x)
        let y = Tensor(uninitialized: Array(x.shape.dropLast()) + [d])  // [..., D]
        let xp = x.pointer, yp = y.pointer
        ThreadPool.shared.parallelFor(rows, grain: max(1, pointwiseGrain / max(d, 1))) { range in
            for r in range {
                let a = xp + r * 2 * d, b = a + d, out = yp + r * d
                var j = 0
                while j + 8 <= d {
                    store8(load8(a + j) * GELU.value(load8(b + j), .none), out + j)
                    j += 8
                }
                if j < d {
                    let n = d - j
                    storePartial(loadPartial(a + j, n) * GELU.value(loadPartial(b + j, n), .none), out + j, n)
                }
            }
        }
        return y
    }

    /// Adds the gradient for `input` [..., 2·D] given `gradOutput` [..., D]:
    /// ∂a += g · gelu(b), ∂b += g · a · gelu′(b).
    public static func backward(gradOutput: Tensor, input: Tensor, gradInput: Tensor) {
        let (rows, d) = halves(input)
        precondition(gradOutput.count == rows * d, "geglu backward: gradOutput \(gradOutput.shape) for input \(input.shape)")
        checkSameCount("geglu backward", gradInput, input, "gradInput", "input")
        let xp = input.pointer, gp = gradOutput.pointer, gxp = gradInput.pointer
        // One vector step: (∂a, ∂b) for value a, gate b and output gradient g.
        @inline(__always) func step(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ g: SIMD8<Float>) -> (SIMD8<Float>, SIMD8<Float>) {
            (g * GELU.value(b, .none), g * a * GELU.derivative(b, .none))
        }
        ThreadPool.shared.parallelFor(rows, grain: max(1, pointwiseGrain / max(d, 1))) { range in
            for r in range {
                let a = xp + r * 2 * d, b = a + d, g = gp + r * d
                let ga = gxp + r * 2 * d, gb = ga + d
                var j = 0
                while j + 8 <= d {
                    let (da, db) = step(load8(a + j), load8(b + j), load8(g + j))
                    store8(load8(ga + j) + da, ga + j)
                    store8(load8(gb + j) + db, gb + j)
                    j += 8
                }
                if j < d {
                    let n = d - j
                    let (da, db) = step(loadPartial(a + j, n), loadPartial(b + j, n), loadPartial(g + j, n))
                    storePartial(loadPartial(ga + j, n) + da, ga + j, n)
                    storePartial(loadPartial(gb + j, n) + db, gb + j, n)
                }
            }
        }
    }

    /// (rows, D) for an input [..., 2·D].
    private static func halves(_ x: Tensor) -> (rows: Int, d: Int) {
        precondition(x.rank >= 1 && x.shape[x.rank - 1] % 2 == 0,
                     "geglu: last dimension of \(x.shape) must be even (value and gate halves)")
        let d = x.shape[x.rank - 1] / 2
        return (d == 0 ? 0 : x.count / (2 * d), d)
    }
}

// MARK: - ReLU and the soft clamp (TAESD)

/// max(x, 0): the tiny autoencoder's only non-linearity. Inference only.
public enum ReLU {
    /// x ← max(x, 0).
    public static func forwardInPlace(_ x: Tensor) {
        mapVectors(x.pointer, x.pointer, count: x.count) { $0.replacing(with: 0, where: $0 .< 0) }
    }
}

/// m·tanh(x/m): values near 0 pass almost unchanged, large ones saturate at ±m (TAESD's decoder
/// input, m = 3). Inference only.
public enum SoftClamp {
    /// A new tensor m·tanh(x/m) of x's shape.
    public static func forward(_ x: Tensor, limit m: Float) -> Tensor {
        let y = Tensor(uninitialized: x.shape)
        mapVectors(x.pointer, y.pointer, count: x.count) { m * VectorMath.tanh($0 / m) }
        return y
    }
}
