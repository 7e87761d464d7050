// TorchGenerator against PyTorch's CPU generator: randn of every size class (scalar path < 16, the
// 16-block path with and without a tail), sequences of calls on one generator, rand and randint.
// Fixtures: Tests/Fixtures/make_random_fixtures.py → random.safetensors.
//
// Tolerance: bit-exact. Both sides draw the same integers and run the same float/double operations
// (the same Cephes polynomials with the same fused multiply-adds for the vectorised kernel, the same
// glibc log/sin/cos for the scalar ones), so any difference is a bug. (Only the 16384-value sum is
// compared to 1e-6 relative: PyTorch sums in its own order.)
import Foundation
import Testing
import Sampling
import Tensor
import TestSupport

private let fixture = try! Fixtures.open("random")
private let seeds: [(label: String, seed: UInt64)] = [
    ("0", 0), ("42", 42), ("4294967301", 4_294_967_301), ("9223372036854775783", 9_223_372_036_854_775_783),
]
private let smallShapes: [[Int]] = [[1], [7], [15], [16], [17], [100], [1, 4, 8, 8]]

private func shapeName(_ shape: [Int]) -> String { shape.map(String.init).joined(separator: "x") }

/// Largest distance in units of the last place between two equally long float arrays (0 = identical).
private func maxULPs(_ a: [Float], _ b: [Float]) -> Int {
    precondition(a.count == b.count)
    var worst = 0
    for (x, y) in zip(a, b) {
        // Map the floats onto a monotonic integer line, so that subtraction counts representable steps.
        func ordered(_ v: Float) -> Int {
            let bits = Int(Int32(bitPattern: v.bitPattern))
            return bits < 0 ? Int(Int32.min) - bits : bits
        }
        worst = max(worst, abs(ordered(x) - ordered(y)))
    }
    return worst
}

private func expectIdentical(_ actual: [Float], _ name: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let expected = fixture[name].scalars
    #expect(actual.count == expected.count, "\(name): \(actual.count) vs \(expected.count) values",
            sourceLocation: sourceLocation)
    guard actual.count == expected.count else { return }
    #expect(maxULPs(actual, expected) == 0, "\(name): differs by up to \(maxULPs(actual, expected)) ulp",
            sourceLocation: sourceLocation)
}

@Suite struct TorchGeneratorTests {
    @Test(arguments: seeds.map(\.label))
    func randnOfEachSizeClassMatchesTorch(label: String) {
        let seed = seeds.first { $0.label == label }!.seed
        for shape in smallShapes {
            var g = TorchGenerator(seed: seed)
            let values = g.randn(shape)
            #expect(values.shape == shape)
            expectIdentical(values.scalars, "seed\(label).randn.\(shapeName(shape))")
        }
    }

    @Test(arguments: seeds.map(\.label))
    func randnOfFullSizeLatentsMatchesTorch(label: String) {
        let seed = seeds.first { $0.label == label }!.seed
        var g = TorchGenerator(seed: seed)
        let values = g.randn([1, 4, 64, 64]).scalars
        let name = "seed\(label).randn.1x4x64x64"
        expectIdentical(Array(values.prefix(64)), name + ".head")
        expectIdentical(Array(values.suffix(64)), name + ".tail")
        expectIdentical(stride(from: 0, to: values.count, by: 97).map { values[$0] }, name + ".strided")
        let sum = values.reduce(0.0) { $0 + Double($1) }
        let expectedSum = Double(fixture[name + ".sum"].scalars[0])
        #expect(abs(sum - expectedSum) <= 1e-6 * max(1, abs(expectedSum)), "sum \(sum) vs \(expectedSum)")
    }

    /// One generator, many calls: the engine position and the scalar path's cached Box–Muller value
    /// carry over from call to call (as the per-step noise of ancestral samplers relies on).
    @Test(arguments: seeds.map(\.label))
    func sequencesOfCallsMatchTorch(label: String) {
        let seed = seeds.first { $0.label == label }!.seed
        var g = TorchGenerator(seed: seed)
        var k = 0
        func check(_ values: [Float]) {
            expectIdentical(values, "seed\(label).sequence.\(k)")
            k += 1
        }
        check(g.randn([16]).scalars)
        check(g.randn([3]).scalars)
        check(g.randn([1, 4, 8, 8]).scalars)
        check(g.randn([1]).scalars)
        check(g.randn([1]).scalars)
        check(g.randn([17]).scalars)
        check(g.randn([1]).scalars)
        check(g.rand(count: 5))
        check(g.randn([2]).scalars)
        check(g.randint(0, 1000, count: 4).map(Float.init))
        check(g.randn([1, 4, 4, 4]).scalars)
    }

    @Test(arguments: seeds.map(\.label))
    func uniformAndIntegerDrawsMatchTorch(label: String) {
        let seed = seeds.first { $0.label == label }!.seed
        var g = TorchGenerator(seed: seed)
        expectIdentical(g.rand(count: 5), "seed\(label).rand.5")
        var h = TorchGenerator(seed: seed)
        expectIdentical(h.randint(0, 1000, count: 8).map(Float.init), "seed\(label).randint.0_1000.8")
    }

    /// PyTorch's non-vectorised Box–Muller (non-x86 builds, ATEN_CPU_CAPABILITY=default).
    @Test(arguments: seeds.map(\.label))
    func scalarKernelMatchesTorchsDefaultCapability(label: String) {
        let seed = seeds.first { $0.label == label }!.seed
        for shape in [[17], [1, 4, 8, 8]] {
            var g = TorchGenerator(seed: seed)
            g.normalKernel = .scalar
            expectIdentical(g.randn(shape).scalars, "scalar.seed\(label).randn.\(shapeName(shape))")
        }
    }

    @Test func onlyTheLowThirtyTwoBitsOfTheSeedReachTheEngine() {
        var a = TorchGenerator(seed: 5)
        var b = TorchGenerator(seed: (1 << 32) + 5)
        #expect(a.randn([20]).scalars == b.randn([20]).scalars)
    }

    @Test func copiesForkTheStream() {
        var a = TorchGenerator(seed: 7)
        _ = a.randn([3])
        var b = a
        #expect(a.randn([5]).scalars == b.randn([5]).scalars)
    }
}
