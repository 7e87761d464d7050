// Golden and gradient tests for the point-wise op families: GroupNorm (plain and fused with SiLU),
// LayerNorm, the activations (SiLU, GELU exact and tanh, quick-GELU, GEGLU), nearest 2× upsampling,
// and the element-wise ops (add with broadcasts, accumulate, multiply, scale, concat, split/chunk).
// Fixtures: Tests/Fixtures/make_pointwise_fixtures.py → pointwise.safetensors (PyTorch autograd).
//
// Tolerances, relative to each tensor's largest magnitude (see `difference`):
// - normalisations and activations: 1e-5. They are fp32 sums over at most 240 values and
//   exp/erfc approximations good to a few ulp, so a few 1e-7 is expected; PyTorch sums in its own
//   order and uses its own exp, so we leave an order of magnitude of headroom.
// - arithmetic (add, multiply, scale, 2×2 block sums): 1e-6 — one or two roundings per element.
// - pure data movement (upsampling forward, concat, split): exact.
// Finite differences: central differences with ε = 1e-2 in fp32 are good to ~1e-3 relative; a
// ratio (see checkGradients) below 2e-2 passes.
import Foundation
import Testing
@testable import Tensor
import TestSupport

private let fixture = try! Fixtures.open("pointwise")
private let normTolerance: Float = 1e-5
private let arithmeticTolerance: Float = 1e-6
/// Worst ratio over 40 seeds (DBRENDER_FD_SURVEY=40): 0.006 (group norm); most checks below 0.003.
private let finiteDifferenceTolerance = 2e-2

/// Expects `actual` within `tolerance` (relative to scale) of the fixture tensor `name`.
private func expectClose(_ actual: Tensor, _ name: String, tolerance: Float,
                         sourceLocation: SourceLocation = #_sourceLocation) {
    let expected = fixture[name]
    #expect(actual.shape == expected.shape, "\(name): \(actual.shape) vs \(expected.shape)", sourceLocation: sourceLocation)
    let d = difference(actual, expected)
    #expect(d.relativeToScale <= tolerance, "\(name): \(d)", sourceLocation: sourceLocation)
}

private func zerosLike(_ t: Tensor) -> Tensor { Tensor(zeros: t.shape) }

/// Expects the finite-difference check of `backward` to pass.
private func expectGradients(_ inputs: [Tensor], forward: @escaping () -> Tensor, backward: @escaping (Tensor) -> [Tensor],
                             sourceLocation: SourceLocation = #_sourceLocation) {
    let result = checkGradients(inputs: inputs, forward: forward, backward: backward,
                                fileID: sourceLocation.fileID, line: sourceLocation.line)
    #expect(result.worstRatio < finiteDifferenceTolerance, "\(result)", sourceLocation: sourceLocation)
}

// MARK: - GroupNorm

@Suite("GroupNorm")
struct GroupNormTests {
    /// (fixture prefix, groups, eps, activation)
    static let cases: [(String, Int, Float, GroupNorm.Activation)] = [
        ("groupnorm", 4, 1e-5, .none), ("groupnorm_silu", 4, 1e-6, .silu), ("groupnorm_3d", 3, 1e-5, .none),
    ]

    private func parameters(_ p: String) -> (x: Tensor, weight: Tensor?, bias: Tensor?) {
        (fixture["\(p).x"].copy(), fixture.has("\(p).weight") ? fixture["\(p).weight"].copy() : nil,
         fixture.has("\(p).bias") ? fixture["\(p).bias"].copy() : nil)
    }

    @Test("forward and backward match PyTorch", arguments: cases)
    func golden(_ p: String, groups: Int, eps: Float, activation: GroupNorm.Activation) {
        let (x, weight, bias) = parameters(p)
        let (y, cache) = GroupNorm.forward(x, groups: groups, weight: weight, bias: bias, eps: eps, activation: activation)
        expectClose(y, "\(p).y", tolerance: normTolerance)
        let gx = zerosLike(x), gw = weight.map(zerosLike), gb = bias.map(zerosLike)
        GroupNorm.backward(gradOutput: fixture["\(p).gy"], input: x, weight: weight, bias: bias, cache: cache,
                           gradInput: gx, gradWeight: gw, gradBias: gb)
        expectClose(gx, "\(p).gx", tolerance: normTolerance)
        if let gw { expectClose(gw, "\(p).gweight", tolerance: normTolerance) }
        if let gb { expectClose(gb, "\(p).gbias", tolerance: normTolerance) }
    }

    @Test("backward agrees with finite differences", arguments: cases)
    func finiteDifferences(_ p: String, groups: Int, eps: Float, activation: GroupNorm.Activation) {
        let (x, weight, bias) = parameters(p)
        let inputs = [x] + [weight, bias].compactMap { $0 }
        expectGradients(inputs, forward: {
            GroupNorm.forward(x, groups: groups, weight: weight, bias: bias, eps: eps, activation: activation).output
        }, backward: { gy in
            let cache = GroupNorm.forward(x, groups: groups, weight: weight, bias: bias, eps: eps, activation: activation).cache
            let gx = zerosLike(x), gw = weight.map(zerosLike), gb = bias.map(zerosLike)
            GroupNorm.backward(gradOutput: gy, input: x, weight: weight, bias: bias, cache: cache,
                               gradInput: gx, gradWeight: gw, gradBias: gb)
            return [gx] + [gw, gb].compactMap { $0 }
        })
    }

    /// 40 960 values per group with mean 100 and σ 1: a naive Float Σx² − nμ² would lose every digit
    /// of the variance. Against a Double reference the output must agree to 1e-6 of its scale (fp32
    /// rounding of the inputs' offset from the mean alone is ~1e-7 here).
    @Test("large groups with a large mean match a Double reference", arguments: [GroupNorm.Activation.none, .silu])
    func largeGroupAccuracy(_ activation: GroupNorm.Activation) {
        var random = TestRandom(seed: 11)
        let shape = [1, 320, 64, 64], groups = 32, eps: Float = 1e-5
        let x = random.tensor(shape)  // [1, 320, 64, 64]
        for i in 0..<x.count { x.pointer[i] += 100 }
        let weight = random.tensor([320], scale: 0.5), bias = random.tensor([320], scale: 0.5)
        let (y, cache) = GroupNorm.forward(x, groups: groups, weight: weight, bias: bias, eps: eps, activation: activation)

        let groupSize = x.count / groups, spatial = 64 * 64
        let expected = Tensor(zeros: shape)
        for g in 0..<groups {
            let values = (0..<groupSize).map { Double(x.pointer[g * groupSize + $0]) }
            let mean = values.reduce(0, +) / Double(groupSize)
            let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(groupSize)
            let rstd = 1 / (variance + Double(eps)).squareRoot()
            #expect(abs(Double(cache.mean.pointer[g]) - mean) <= 1e-6 * abs(mean), "group \(g) mean")
            #expect(abs(Double(cache.rstd.pointer[g]) - rstd) <= 1e-6 * rstd, "group \(g) rstd")
            for (i, v) in values.enumerated() {
                let c = (g * groupSize + i) / spatial
                var out = (v - mean) * rstd * Double(weight.pointer[c]) + Double(bias.pointer[c])
                if activation == .silu { out = out / (1 + Foundation.exp(-out)) }
                expected.pointer[g * groupSize + i] = Float(out)
            }
        }
        let d = difference(y, expected)
        #expect(d.relativeToScale <= 1e-6, "\(d)")
    }

    @Test("parallel backward (several groups per thread) equals per-sample calls, and adds")
    func parallelBackward() {
        var random = TestRandom(seed: 5)
        let x = random.tensor([2, 8, 64, 64], scale: 2)  // 16 384 values per group: one task per chunk
        let weight = random.tensor([8]), bias = random.tensor([8]), gy = random.tensor([2, 8, 64, 64])
        let (_, cache) = GroupNorm.forward(x, groups: 2, weight: weight, bias: bias, activation: .silu)
        let gx = zerosLike(x), gw = zerosLike(weight), gb = zerosLike(bias)
        GroupNorm.backward(gradOutput: gy, input: x, weight: weight, bias: bias, cache: cache,
                           gradInput: gx, gradWeight: gw, gradBias: gb)

        // The same, one sample at a time, twice: must be twice the result above.
        let gx2 = zerosLike(x), gw2 = zerosLike(weight), gb2 = zerosLike(bias)
        for _ in 0..<2 {
            for n in 0..<2 {
                let xn = x.slice(n..<(n + 1))
                let (_, cn) = GroupNorm.forward(xn, groups: 2, weight: weight, bias: bias, activation: .silu)
                GroupNorm.backward(gradOutput: gy.slice(n..<(n + 1)), input: xn, weight: weight, bias: bias, cache: cn,
                                   gradInput: gx2.slice(n..<(n + 1)), gradWeight: gw2, gradBias: gb2)
            }
        }
        for (once, twice) in [(gx, gx2), (gw, gw2), (gb, gb2)] {
            let doubled = Tensor(shape: once.shape, values: once.scalars.map { 2 * $0 })
            #expect(difference(twice, doubled).relativeToScale <= 1e-5)
        }
    }
}

// MARK: - LayerNorm

@Suite("LayerNorm")
struct LayerNormTests {
    @Test("forward and backward match PyTorch")
    func golden() {
        let x = fixture["layernorm.x"], w = fixture["layernorm.weight"], b = fixture["layernorm.bias"]
        let (y, cache) = LayerNorm.forward(x, weight: w, bias: b, eps: 1e-5)
        expectClose(y, "layernorm.y", tolerance: normTolerance)
        let gx = zerosLike(x), gw = zerosLike(w), gb = zerosLike(b)
        LayerNorm.backward(gradOutput: fixture["layernorm.gy"], input: x, weight: w, cache: cache,
                           gradInput: gx, gradWeight: gw, gradBias: gb)
        expectClose(gx, "layernorm.gx", tolerance: normTolerance)
        expectClose(gw, "layernorm.gweight", tolerance: normTolerance)
        expectClose(gb, "layernorm.gbias", tolerance: normTolerance)
    }

    @Test("backward agrees with finite differences")
    func finiteDifferences() {
        let x = fixture["layernorm.x"].copy(), w = fixture["layernorm.weight"].copy(), b = fixture["layernorm.bias"].copy()
        expectGradients([x, w, b], forward: {
            LayerNorm.forward(x, weight: w, bias: b).output
        }, backward: { gy in
            let cache = LayerNorm.forward(x, weight: w, bias: b).cache
            let gx = zerosLike(x), gw = zerosLike(w), gb = zerosLike(b)
            LayerNorm.backward(gradOutput: gy, input: x, weight: w, cache: cache, gradInput: gx, gradWeight: gw, gradBias: gb)
            return [gx, gw, gb]
        })
    }

    @Test("parallel backward (row chunks with partial sums) equals row-by-row calls")
    func parallelBackward() {
        var random = TestRandom(seed: 3)
        let x = random.tensor([64, 1100], scale: 3)  // 70 400 values: two chunks of rows
        let w = random.tensor([1100]), b = random.tensor([1100]), gy = random.tensor([64, 1100])
        let (_, cache) = LayerNorm.forward(x, weight: w, bias: b)
        let gx = zerosLike(x), gw = zerosLike(w), gb = zerosLike(b)
        LayerNorm.backward(gradOutput: gy, input: x, weight: w, cache: cache, gradInput: gx, gradWeight: gw, gradBias: gb)
        let gx1 = zerosLike(x), gw1 = zerosLike(w), gb1 = zerosLike(b)
        for r in 0..<64 {
            let xr = x.slice(r..<(r + 1))
            let (_, cr) = LayerNorm.forward(xr, weight: w, bias: b)
            LayerNorm.backward(gradOutput: gy.slice(r..<(r + 1)), input: xr, weight: w, cache: cr,
                               gradInput: gx1.slice(r..<(r + 1)), gradWeight: gw1, gradBias: gb1)
        }
        for (parallel, serial) in [(gx, gx1), (gw, gw1), (gb, gb1)] {
            #expect(difference(parallel, serial).relativeToScale <= 1e-5)
        }
    }
}

// MARK: - Activations

/// One point-wise activation: its forward, in-place forward and backward.
private struct ActivationCase: Sendable, CustomTestStringConvertible {
    let name: String
    let forward: @Sendable (Tensor) -> Tensor
    let forwardInPlace: @Sendable (Tensor) -> Void
    let backward: @Sendable (_ gradOutput: Tensor, _ input: Tensor, _ gradInput: Tensor) -> Void
    var testDescription: String { name }

    static let all: [ActivationCase] = [
        .init(name: "silu", forward: { SiLU.forward($0) }, forwardInPlace: { SiLU.forwardInPlace($0) },
              backward: { SiLU.backward(gradOutput: $0, input: $1, gradInput: $2) }),
        .init(name: "gelu", forward: { GELU.forward($0) }, forwardInPlace: { GELU.forwardInPlace($0) },
              backward: { GELU.backward(gradOutput: $0, input: $1, gradInput: $2) }),
        .init(name: "gelu_tanh", forward: { GELU.forward($0, approximation: .tanh) },
              forwardInPlace: { GELU.forwardInPlace($0, approximation: .tanh) },
              backward: { GELU.backward(gradOutput: $0, input: $1, gradInput: $2, approximation: .tanh) }),
        .init(name: "quick_gelu", forward: { QuickGELU.forward($0) }, forwardInPlace: { QuickGELU.forwardInPlace($0) },
              backward: { QuickGELU.backward(gradOutput: $0, input: $1, gradInput: $2) }),
    ]
}

@Suite("Activations")
struct ActivationTests {
    @Test("forward, in-place forward and backward match PyTorch", arguments: ActivationCase.all)
    fileprivate func golden(_ op: ActivationCase) {
        let x = fixture["\(op.name).x"]
        expectClose(op.forward(x), "\(op.name).y", tolerance: normTolerance)
        let inPlace = x.copy()
        op.forwardInPlace(inPlace)
        expectClose(inPlace, "\(op.name).y", tolerance: normTolerance)
        let gx = zerosLike(x)
        op.backward(fixture["\(op.name).gy"], x, gx)
        expectClose(gx, "\(op.name).gx", tolerance: normTolerance)
    }

    @Test("backward agrees with finite differences", arguments: ActivationCase.all)
    fileprivate func finiteDifferences(_ op: ActivationCase) {
        let x = fixture["\(op.name).x"].copy()
        expectGradients([x], forward: { op.forward(x) }, backward: { gy in
            let gx = zerosLike(x)
            op.backward(gy, x, gx)
            return [gx]
        })
    }

    @Test("extreme inputs saturate without NaN or overflow", arguments: ActivationCase.all)
    fileprivate func extremes(_ op: ActivationCase) {
        let x = Tensor(shape: [6], values: [-1e4, -100, -20, 20, 100, 1e4])
        let y = op.forward(x)
        for i in 0..<3 { #expect(abs(y.pointer[i]) < 1e-6, "\(op.name)(\(x.pointer[i])) = \(y.pointer[i])") }
        for i in 3..<6 { #expect(abs(y.pointer[i] - x.pointer[i]) <= 1e-6 * x.pointer[i], "\(op.name)(\(x.pointer[i])) = \(y.pointer[i])") }
        let gx = zerosLike(x)
        op.backward(Tensor(shape: [6], repeating: 1), x, gx)
        #expect(gx.scalars.allSatisfy { $0.isFinite }, "\(op.name)′ at extremes: \(gx.scalars)")
    }

    @Test("parallel chunks and the vector tail give the same values as small calls")
    func parallelMatchesInline() {
        var random = TestRandom(seed: 9)
        let x = random.tensor([100_003], scale: 4)  // several chunks, and a 3-element tail
        let y = GELU.forward(x)
        for start in stride(from: 0, to: x.count, by: 9_001) {
            let n = min(9_001, x.count - start)
            let piece = GELU.forward(Tensor(shape: [n], values: Array(x.buffer[start..<(start + n)])))
            #expect(Array(y.buffer[start..<(start + n)]) == piece.scalars)
        }
    }
}

@Suite("GEGLU")
struct GEGLUTests {
    @Test("forward and backward match diffusers' GEGLU")
    func golden() {
        let x = fixture["geglu.x"]
        expectClose(GEGLU.forward(x), "geglu.y", tolerance: normTolerance)
        let gx = zerosLike(x)
        GEGLU.backward(gradOutput: fixture["geglu.gy"], input: x, gradInput: gx)
        expectClose(gx, "geglu.gx", tolerance: normTolerance)
    }

    @Test("backward agrees with finite differences")
    func finiteDifferences() {
        let x = fixture["geglu.x"].copy()
        expectGradients([x], forward: { GEGLU.forward(x) }, backward: { gy in
            let gx = zerosLike(x)
            GEGLU.backward(gradOutput: gy, input: x, gradInput: gx)
            return [gx]
        })
    }
}

// MARK: - Resampling

@Suite("UpsampleNearest2x")
struct UpsampleTests {
    @Test("forward and backward match F.interpolate(scale_factor=2, mode=\"nearest\")")
    func golden() {
        let x = fixture["upsample.x"]
        expectClose(UpsampleNearest2x.forward(x), "upsample.y", tolerance: 0)
        let gx = zerosLike(x)
        UpsampleNearest2x.backward(gradOutput: fixture["upsample.gy"], gradInput: gx)
        expectClose(gx, "upsample.gx", tolerance: arithmeticTolerance)
    }

    @Test("backward agrees with finite differences")
    func finiteDifferences() {
        let x = fixture["upsample.x"].copy()
        expectGradients([x], forward: { UpsampleNearest2x.forward(x) }, backward: { gy in
            let gx = zerosLike(x)
            UpsampleNearest2x.backward(gradOutput: gy, gradInput: gx)
            return [gx]
        })
    }
}

// MARK: - Element-wise

@Suite("Elementwise")
struct ElementwiseTests {
    static let broadcasts: [(String, Add.Broadcast)] = [("add", .none), ("add_channel", .perChannel), ("add_bias", .lastDimension)]

    @Test("add and accumulate match PyTorch", arguments: broadcasts)
    func add(_ p: String, broadcast: Add.Broadcast) {
        let a = fixture["\(p).a"], b = fixture["\(p).b"]
        expectClose(Add.forward(a, b, broadcast: broadcast), "\(p).y", tolerance: 0)
        let accumulated = a.copy()
        Add.accumulate(b, into: accumulated, broadcast: broadcast)
        expectClose(accumulated, "\(p).y", tolerance: 0)
        let ga = zerosLike(a), gb = zerosLike(b)
        Add.backward(gradOutput: fixture["\(p).gy"], broadcast: broadcast, gradA: ga, gradB: gb)
        expectClose(ga, "\(p).ga", tolerance: 0)
        expectClose(gb, "\(p).gb", tolerance: arithmeticTolerance)  // a sum over positions or rows
    }

    @Test("add backward agrees with finite differences", arguments: broadcasts)
    func addFiniteDifferences(_ p: String, broadcast: Add.Broadcast) {
        let a = fixture["\(p).a"].copy(), b = fixture["\(p).b"].copy()
        expectGradients([a, b], forward: { Add.forward(a, b, broadcast: broadcast) }, backward: { gy in
            let ga = zerosLike(a), gb = zerosLike(b)
            Add.backward(gradOutput: gy, broadcast: broadcast, gradA: ga, gradB: gb)
            return [ga, gb]
        })
    }

    @Test("multiply and scale match PyTorch")
    func multiplyAndScale() {
        let a = fixture["mul.a"], b = fixture["mul.b"]
        expectClose(Multiply.forward(a, b), "mul.y", tolerance: 0)
        let ga = zerosLike(a), gb = zerosLike(b)
        Multiply.backward(gradOutput: fixture["mul.gy"], a: a, b: b, gradA: ga, gradB: gb)
        expectClose(ga, "mul.ga", tolerance: 0)
        expectClose(gb, "mul.gb", tolerance: 0)

        let x = fixture["scale.x"]
        expectClose(Scale.forward(x, by: 0.37), "scale.y", tolerance: arithmeticTolerance)
        let inPlace = x.copy()
        Scale.forwardInPlace(inPlace, by: 0.37)
        expectClose(inPlace, "scale.y", tolerance: arithmeticTolerance)
        let gx = zerosLike(x)
        Scale.backward(gradOutput: fixture["scale.gy"], by: 0.37, gradInput: gx)
        expectClose(gx, "scale.gx", tolerance: arithmeticTolerance)
    }

    @Test("multiply and scale backward agree with finite differences")
    func multiplyAndScaleFiniteDifferences() {
        let a = fixture["mul.a"].copy(), b = fixture["mul.b"].copy()
        expectGradients([a, b], forward: { Multiply.forward(a, b) }, backward: { gy in
            let ga = zerosLike(a), gb = zerosLike(b)
            Multiply.backward(gradOutput: gy, a: a, b: b, gradA: ga, gradB: gb)
            return [ga, gb]
        })
        let x = fixture["scale.x"].copy()
        expectGradients([x], forward: { Scale.forward(x, by: 0.37) }, backward: { gy in
            let gx = zerosLike(x)
            Scale.backward(gradOutput: gy, by: 0.37, gradInput: gx)
            return [gx]
        })
    }

    @Test("concat matches torch.cat", arguments: [("concat", 1), ("concat_last", -1)])
    func concat(_ p: String, axis: Int) {
        let a = fixture["\(p).a"], b = fixture["\(p).b"]
        expectClose(Concat.forward([a, b], axis: axis), "\(p).y", tolerance: 0)
        let ga = zerosLike(a), gb = zerosLike(b)
        Concat.backward(gradOutput: fixture["\(p).gy"], axis: axis, gradInputs: [ga, gb])
        expectClose(ga, "\(p).ga", tolerance: 0)
        expectClose(gb, "\(p).gb", tolerance: 0)
    }

    @Test("concat backward agrees with finite differences", arguments: [("concat", 1), ("concat_last", -1)])
    func concatFiniteDifferences(_ p: String, axis: Int) {
        let a = fixture["\(p).a"].copy(), b = fixture["\(p).b"].copy()
        expectGradients([a, b], forward: { Concat.forward([a, b], axis: axis) }, backward: { gy in
            let ga = zerosLike(a), gb = zerosLike(b)
            Concat.backward(gradOutput: gy, axis: axis, gradInputs: [ga, gb])
            return [ga, gb]
        })
    }

    @Test("chunk and split match torch.chunk and torch.split")
    func split() {
        let x = fixture["chunk.x"]
        let chunks = Split.forward(x, chunks: 3, axis: 1)
        for i in 0..<3 { expectClose(chunks[i], "chunk.y\(i)", tolerance: 0) }
        let gx = zerosLike(x)
        Split.backward(gradOutputs: (0..<3).map { fixture["chunk.gy\($0)"] }, axis: 1, gradInput: gx)
        expectClose(gx, "chunk.gx", tolerance: 0)

        let x2 = fixture["split.x"]
        let parts = Split.forward(x2, sizes: [1, 3], axis: 2)
        for i in 0..<2 { expectClose(parts[i], "split.y\(i)", tolerance: 0) }
        let gx2 = zerosLike(x2)
        Split.backward(gradOutputs: [fixture["split.gy0"], fixture["split.gy1"]], axis: 2, gradInput: gx2)
        expectClose(gx2, "split.gx", tolerance: 0)
    }

    @Test("split backward agrees with finite differences; a missing part gradient counts as zero")
    func splitFiniteDifferences() {
        // The checker wants one output: concatenating the parts back gives the identity, so split
        // (and its backward) is checked through concat's forward of the parts with weights.
        let x = fixture["split.x"].copy()
        expectGradients([x], forward: {
            let parts = Split.forward(x, sizes: [1, 3], axis: 2)
            return Concat.forward([parts[1], Multiply.forward(parts[0], parts[0])], axis: 2)
        }, backward: { gy in
            let (g1, g0) = (Split.forward(gy, sizes: [3, 1], axis: 2)[0], Split.forward(gy, sizes: [3, 1], axis: 2)[1])
            let part0 = Split.forward(x, sizes: [1, 3], axis: 2)[0]
            let gPart0 = zerosLike(part0)
            Multiply.backward(gradOutput: g0, a: part0, b: part0, gradA: gPart0, gradB: gPart0)
            let gx = zerosLike(x)
            Split.backward(gradOutputs: [gPart0, g1], axis: 2, gradInput: gx)
            return [gx]
        })
        // A nil part gradient leaves that slice untouched.
        let gx = zerosLike(x)
        Split.backward(gradOutputs: [nil, Tensor(shape: [2, 3, 3], repeating: 1)], sizes: [1, 3], axis: 2, gradInput: gx)
        for i in 0..<gx.count { #expect(gx.pointer[i] == (i % 4 == 0 ? 0 : 1)) }
    }

    @Test("per-channel add backward sums large planes in parallel")
    func perChannelLarge() {
        var random = TestRandom(seed: 4)
        let gy = random.tensor([2, 6, 64, 64])  // [N, C, H, W]
        let gb = Tensor(zeros: [2, 6])
        Add.backward(gradOutput: gy, broadcast: .perChannel, gradA: nil, gradB: gb)
        for row in 0..<12 {
            let expected = (0..<4096).reduce(0.0) { $0 + Double(gy.pointer[row * 4096 + $1]) }
            #expect(abs(Double(gb.pointer[row]) - expected) <= 1e-4, "row \(row)")
        }
    }
}
