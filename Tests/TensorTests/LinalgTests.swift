// Golden and gradient tests for the matrix-product family: MatMul, Linear, Conv2D, Softmax,
// Attention. Fixtures: Tests/Fixtures/make_linalg_fixtures.py → linalg.safetensors.
//
// Tolerances: outputs and gradients are fp32 sums of at most a few hundred products, so they agree
// with PyTorch to ~1e-6 of the tensor's scale; we allow 2e-5 (BLAS may sum in any order).
// Finite differences: central differences with ε = 1e-2 in fp32 are accurate to ~1e-3 relative;
// we allow a ratio of 2e-2 (see checkGradients for the definition). Measured over 40 seeds
// (DBRENDER_FD_SURVEY=40): at most 0.011 (attention, ε = 1e-3), every other check below 0.004.
import Testing
@testable import Tensor
import TestSupport

private let fixture = try! Fixtures.open("linalg")
private let goldenTolerance: Float = 2e-5
private let finiteDifferenceTolerance = 2e-2

/// Expects `actual` within the golden tolerance of the fixture tensor `name`.
private func expectClose(_ actual: Tensor, _ name: String, tolerance: Float = goldenTolerance,
                         sourceLocation: SourceLocation = #_sourceLocation) {
    let expected = fixture[name]
    #expect(actual.count == expected.count, "\(name): \(actual.shape) vs \(expected.shape)", sourceLocation: sourceLocation)
    let d = difference(actual, expected)
    #expect(d.relativeToScale <= tolerance, "\(name): \(d)", sourceLocation: sourceLocation)
}

private func zerosLike(_ t: Tensor) -> Tensor { Tensor(zeros: t.shape) }

@Suite("MatMul")
struct MatMulTests {
    @Test("forward and backward match PyTorch", arguments: ["batched", "shared", "transposed"])
    func golden(_ name: String) {
        let p = "matmul.\(name)"
        let a = fixture["\(p).a"], b = fixture["\(p).b"], transposed = name == "transposed"
        expectClose(MatMul.forward(a, b, transposeB: transposed), "\(p).y")
        let ga = zerosLike(a), gb = zerosLike(b)
        MatMul.backward(gradOutput: fixture["\(p).gy"], a: a, b: b, transposeB: transposed, gradA: ga, gradB: gb)
        expectClose(ga, "\(p).grad_a")
        expectClose(gb, "\(p).grad_b")
    }

    @Test("backward agrees with finite differences", arguments: ["batched", "shared", "transposed"])
    func finiteDifferences(_ name: String) {
        let p = "matmul.\(name)"
        let a = fixture["\(p).a"].copy(), b = fixture["\(p).b"].copy(), transposed = name == "transposed"
        let result = checkGradients(
            inputs: [a, b],
            forward: { MatMul.forward(a, b, transposeB: transposed) },
            backward: { gy in
                let ga = zerosLike(a), gb = zerosLike(b)
                MatMul.backward(gradOutput: gy, a: a, b: b, transposeB: transposed, gradA: ga, gradB: gb)
                return [ga, gb]
            })
        #expect(result.worstRatio < finiteDifferenceTolerance, "\(result)")
    }

    @Test("backward adds into existing gradients")
    func accumulates() {
        let a = fixture["matmul.shared.a"], b = fixture["matmul.shared.b"], gy = fixture["matmul.shared.gy"]
        let ga = zerosLike(a), gb = zerosLike(b)
        MatMul.backward(gradOutput: gy, a: a, b: b, gradA: ga, gradB: gb)
        MatMul.backward(gradOutput: gy, a: a, b: b, gradA: ga, gradB: gb)
        let twice = Tensor(shape: ga.shape, values: fixture["matmul.shared.grad_a"].scalars.map { 2 * $0 })
        #expect(difference(ga, twice).relativeToScale <= goldenTolerance)
    }
}

@Suite("Linear")
struct LinearTests {
    @Test("forward and backward match PyTorch")
    func golden() {
        let x = fixture["linear.x"], w = fixture["linear.w"], b = fixture["linear.b"]
        expectClose(Linear.forward(x, weight: w, bias: b), "linear.y")
        let gx = zerosLike(x), gw = zerosLike(w), gb = zerosLike(b)
        Linear.backward(gradOutput: fixture["linear.gy"], input: x, weight: w, gradInput: gx, gradWeight: gw, gradBias: gb)
        expectClose(gx, "linear.grad_x")
        expectClose(gw, "linear.grad_w")
        expectClose(gb, "linear.grad_b")
    }

    @Test("backward agrees with finite differences")
    func finiteDifferences() {
        let x = fixture["linear.x"].copy(), w = fixture["linear.w"].copy(), b = fixture["linear.b"].copy()
        let result = checkGradients(
            inputs: [x, w, b],
            forward: { Linear.forward(x, weight: w, bias: b) },
            backward: { gy in
                let gx = zerosLike(x), gw = zerosLike(w), gb = zerosLike(b)
                Linear.backward(gradOutput: gy, input: x, weight: w, gradInput: gx, gradWeight: gw, gradBias: gb)
                return [gx, gw, gb]
            })
        #expect(result.worstRatio < finiteDifferenceTolerance, "\(result)")
    }
}

@Suite("Conv2D")
struct Conv2DTests {
    static let cases = ["k3s1p1", "k3s2p1", "k3s1p0", "k1s1p0", "k3s2p0"]

    private func config(_ name: String) -> (stride: Int, padding: Int) {
        let c = fixture["conv.\(name).config"].scalars
        return (Int(c[0]), Int(c[1]))
    }

    @Test("forward and backward match PyTorch", arguments: cases)
    func golden(_ name: String) {
        let p = "conv.\(name)", (stride, padding) = config(name)
        let x = fixture["\(p).x"], w = fixture["\(p).w"], b = fixture["\(p).b"]
        expectClose(Conv2D.forward(x, weight: w, bias: b, stride: stride, padding: padding), "\(p).y")
        let gx = zerosLike(x), gw = zerosLike(w), gb = zerosLike(b)
        Conv2D.backward(gradOutput: fixture["\(p).gy"], input: x, weight: w, stride: stride, padding: padding,
                        gradInput: gx, gradWeight: gw, gradBias: gb)
        expectClose(gx, "\(p).grad_x")
        expectClose(gw, "\(p).grad_w")
        expectClose(gb, "\(p).grad_b")
    }

    @Test("backward agrees with finite differences", arguments: cases)
    func finiteDifferences(_ name: String) {
        let p = "conv.\(name)", (stride, padding) = config(name)
        let x = fixture["\(p).x"].copy(), w = fixture["\(p).w"].copy(), b = fixture["\(p).b"].copy()
        let result = checkGradients(
            inputs: [x, w, b],
            forward: { Conv2D.forward(x, weight: w, bias: b, stride: stride, padding: padding) },
            backward: { gy in
                let gx = zerosLike(x), gw = zerosLike(w), gb = zerosLike(b)
                Conv2D.backward(gradOutput: gy, input: x, weight: w, stride: stride, padding: padding,
                                gradInput: gx, gradWeight: gw, gradBias: gb)
                return [gx, gw, gb]
            })
        #expect(result.worstRatio < finiteDifferenceTolerance, "\(result)")
    }

    @Test("tiled unfolding gives the same result as one block")
    func tilingIsInvisible() {
        // A 48×40 input with 64 channels, with a budget of 10 output rows per column block (and a
        // ragged last block); compare with one block and with a direct evaluation of a few outputs.
        var random = TestRandom(seed: 3)
        let x = random.tensor([1, 64, 48, 40]), w = random.tensor([8, 64, 3, 3], scale: 0.1)
        let budget = 10 * 64 * 9 * 40
        let y = Conv2D.forward(x, weight: w, bias: nil, stride: 1, padding: 1, columnBudget: budget)
        #expect(Conv2D.rowsPerColumnBlock(Conv2D.Geometry(input: x.shape, weight: w.shape, stride: 1, padding: 1), budget: budget) == 10)
        #expect(difference(y, Conv2D.forward(x, weight: w, bias: nil, stride: 1, padding: 1, method: .im2col)).maxAbsolute < 1e-5)
        for (co, oy, ox) in [(0, 0, 0), (3, 17, 39), (7, 47, 20), (5, 30, 1)] {
            var sum: Double = 0
            for ci in 0..<64 {
                for ky in 0..<3 {
                    for kx in 0..<3 {
                        let iy = oy - 1 + ky, ix = ox - 1 + kx
                        guard iy >= 0, iy < 48, ix >= 0, ix < 40 else { continue }
                        sum += Double(x[[0, ci, iy, ix]]) * Double(w[[co, ci, ky, kx]])
                    }
                }
            }
            #expect(abs(Double(y[[0, co, oy, ox]]) - sum) < 1e-4, "output (\(co), \(oy), \(ox))")
        }
    }
}

@Suite("Softmax")
struct SoftmaxTests {
    @Test("forward and backward match PyTorch")
    func golden() {
        let x = fixture["softmax.x"]
        let y = Softmax.forward(x)
        expectClose(y, "softmax.y")
        let gx = zerosLike(x)
        Softmax.backward(gradOutput: fixture["softmax.gy"], output: y, gradInput: gx)
        expectClose(gx, "softmax.grad_x")
    }

    @Test("backward agrees with finite differences")
    func finiteDifferences() {
        let x = fixture["softmax.x"].copy()
        let result = checkGradients(
            inputs: [x],
            forward: { Softmax.forward(x) },
            backward: { gy in
                let gx = zerosLike(x)
                Softmax.backward(gradOutput: gy, output: Softmax.forward(x), gradInput: gx)
                return [gx]
            }, epsilon: 1e-3)
        #expect(result.worstRatio < finiteDifferenceTolerance, "\(result)")
    }

    @Test("large logits do not overflow, fully masked rows give zeros")
    func extremes() {
        let x = Tensor(shape: [2, 3], values: [1000, 1001, 999, -.infinity, -.infinity, -.infinity])
        let y = Softmax.forward(x).scalars
        #expect(abs(y[0] + y[1] + y[2] - 1) < 1e-6)
        #expect(y[1] > y[0] && y[0] > y[2])
        #expect(y[3...].allSatisfy { $0 == 0 })
    }
}

@Suite("Attention")
struct AttentionTests {
    static let cases = ["cross", "self_causal", "self_long"]

    private func config(_ name: String) -> (heads: Int, causal: Bool) {
        let c = fixture["attention.\(name).config"].scalars
        return (Int(c[0]), c[1] != 0)
    }

    @Test("fused forward (and the strip and naive forwards) and backward match PyTorch's SDPA", arguments: cases)
    func golden(_ name: String) {
        let p = "attention.\(name)", (heads, causal) = config(name)
        let q = fixture["\(p).q"], k = fixture["\(p).k"], v = fixture["\(p).v"]
        let (y, lse) = Attention.forward(query: q, key: k, value: v, heads: heads, causal: causal)
        expectClose(y, "\(p).y")
        expectClose(Attention.naiveForward(query: q, key: k, value: v, heads: heads, causal: causal), "\(p).y")
        expectClose(Attention.stripForward(query: q, key: k, value: v, heads: heads, causal: causal).output, "\(p).y")
        let gq = zerosLike(q), gk = zerosLike(k), gv = zerosLike(v)
        Attention.backward(gradOutput: fixture["\(p).gy"], query: q, key: k, value: v, output: y, logSumExp: lse,
                           heads: heads, causal: causal, gradQuery: gq, gradKey: gk, gradValue: gv)
        expectClose(gq, "\(p).grad_q")
        expectClose(gk, "\(p).grad_k")
        expectClose(gv, "\(p).grad_v")
    }

    @Test("backward agrees with finite differences", arguments: cases)
    func finiteDifferences(_ name: String) {
        let p = "attention.\(name)", (heads, causal) = config(name)
        let q = fixture["\(p).q"].copy(), k = fixture["\(p).k"].copy(), v = fixture["\(p).v"].copy()
        let result = checkGradients(
            inputs: [q, k, v],
            forward: { Attention.forward(query: q, key: k, value: v, heads: heads, causal: causal).output },
            backward: { gy in
                let (y, lse) = Attention.forward(query: q, key: k, value: v, heads: heads, causal: causal)
                let gq = zerosLike(q), gk = zerosLike(k), gv = zerosLike(v)
                Attention.backward(gradOutput: gy, query: q, key: k, value: v, output: y, logSumExp: lse,
                                   heads: heads, causal: causal, gradQuery: gq, gradKey: gk, gradValue: gv)
                return [gq, gk, gv]
            })
        #expect(result.worstRatio < finiteDifferenceTolerance, "\(result)")
    }

    @Test("long sequences: tiled equals materialised")
    func longSequence() {
        // 300 query rows span ten 32-row blocks plus a ragged one.
        var random = TestRandom(seed: 11)
        let q = random.tensor([2, 300, 32]), k = random.tensor([2, 250, 32]), v = random.tensor([2, 250, 32])
        let tiled = Attention.forward(query: q, key: k, value: v, heads: 4).output
        let naive = Attention.naiveForward(query: q, key: k, value: v, heads: 4)
        #expect(difference(tiled, naive).relativeToScale < 1e-5)
    }

    @Test("per-row key lengths: each row gives, byte for byte, its attention over its own keys alone")
    func keyLengths() {
        // Contexts of one, two and a fraction of a 77-token chunk, padded to 154 with values that would
        // dominate any softmax they entered.
        var random = TestRandom(seed: 12)
        let lengths = [77, 154, 10]
        let q = random.tensor([3, 40, 32]), k = random.tensor([3, 154, 32]), v = random.tensor([3, 154, 32])
        for (b, length) in lengths.enumerated() {
            for t in length..<154 {
                for c in 0..<32 { k[[b, t, c]] = 50; v[[b, t, c]] = 1e6 }
            }
        }
        let batched = Attention.forward(query: q, key: k, value: v, heads: 4, keyLengths: lengths).output
        for (b, length) in lengths.enumerated() {
            let alone = Attention.forward(query: q.slice(b..<(b + 1)).copy(), key: k[b].slice(0..<length).copy().reshaped([1, length, 32]),
                                          value: v[b].slice(0..<length).copy().reshaped([1, length, 32]), heads: 4).output
            let row = batched.slice(b..<(b + 1))
            #expect((0..<alone.count).allSatisfy { row.pointer[$0] == alone.pointer[$0] }, "row \(b) (\(length) keys)")
        }
    }
}

@Suite("Transpose")
struct TransposeTests {
    @Test("forward and backward match PyTorch (tiles with ragged edges)")
    func golden() {
        let x = fixture["transpose.x"]
        expectClose(Transpose.forward(x), "transpose.y", tolerance: 0)
        let gx = zerosLike(x)
        Transpose.backward(gradOutput: fixture["transpose.gy"], gradInput: gx)
        expectClose(gx, "transpose.grad_x", tolerance: 0)
    }
}

@Suite("NearestResize")
struct NearestResizeTests {
    @Test("9×17 → 17×33 matches F.interpolate(mode='nearest'), forward and backward")
    func golden() {
        let x = fixture["resize.x"]
        expectClose(NearestResize.forward(x, height: 17, width: 33), "resize.y", tolerance: 0)
        let gx = zerosLike(x)
        NearestResize.backward(gradOutput: fixture["resize.gy"], gradInput: gx)
        expectClose(gx, "resize.grad_x")
    }

    @Test("backward agrees with finite differences")
    func finiteDifferences() {
        let x = fixture["resize.x"].copy()
        let result = checkGradients(
            inputs: [x], forward: { NearestResize.forward(x, height: 17, width: 33) },
            backward: { gy in
                let gx = zerosLike(x)
                NearestResize.backward(gradOutput: gy, gradInput: gx)
                return [gx]
            })
        #expect(result.worstRatio < finiteDifferenceTolerance, "\(result)")
    }
}
