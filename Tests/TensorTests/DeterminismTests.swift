// Results do not depend on the thread count, on nesting, or on what runs beside them: matrix
// products are split by `MatMul.Partition` (a rule of the shape alone) and reductions by fixed
// chunks. Before this rule, OpenBLAS's own threading gave different last bits for 1 and 2 threads
// in 158 of 400 random products, and a thread count switched by a concurrent caller changed
// another caller's results (the CI failure of issue 9). Every comparison here is exact.
import Foundation
import Synchronization
import Testing
@testable import Tensor
import TestSupport

/// Runs `body` with the pool at `threads` threads, then restores the count. Other suites running
/// meanwhile see the change only in speed: no result depends on it (which this file tests).
private func withThreads<R>(_ threads: Int, _ body: () -> R) -> R {
    let saved = ThreadPool.shared.threads
    ThreadPool.shared.configure(threads: threads)
    defer { ThreadPool.shared.configure(threads: saved) }
    return body()
}

/// A random product C = α·op(A)·op(B) + β·C, with its operands.
private struct Product {
    let m, n, k: Int
    let transposeA, transposeB: Bool
    let beta: Float
    let a, b, c0: Tensor

    init(_ random: inout TestRandom, large: Bool) {
        let side = large ? 700 : 90
        m = 1 + Int(random.uniform() * Float(side)); n = 1 + Int(random.uniform() * Float(side))
        k = 1 + Int(random.uniform() * 900)
        transposeA = random.uniform() < 0.5; transposeB = random.uniform() < 0.5
        beta = random.uniform() < 0.5 ? 0 : 1
        a = random.tensor([m * k]); b = random.tensor([k * n]); c0 = random.tensor([m * n])
    }

    func run() -> [Float] {
        let c = c0.copy()
        MatMul.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 0.75,
                    a: a.pointer, lda: transposeA ? m : k, b: b.pointer, ldb: transposeB ? k : n,
                    beta: beta, c: c.pointer, ldc: n)
        return c.scalars
    }
}

@Suite("Determinism: results independent of threads and load")
struct DeterminismTests {
    @Test("the partition of a product depends on its shape only, covers C once and splits the longer side")
    func partitionRule() {
        #expect(MatMul.Partition(m: 64, n: 64, k: 64).parts == 1, "small products are not cut")
        let conv = MatMul.Partition(m: 320, n: 4096, k: 2880)  // a 64×64×320 convolution
        #expect(conv.alongColumns && conv.parts == 8 && conv.partSize == 512)
        let linear = MatMul.Partition(m: 8192, n: 320, k: 320)  // a linear layer over 2×4096 tokens
        #expect(!linear.alongColumns && linear.parts == 8)
        var random = TestRandom(seed: 11)
        for _ in 0..<500 {
            let m = 1 + Int(random.uniform() * 5000), n = 1 + Int(random.uniform() * 5000), k = 1 + Int(random.uniform() * 3000)
            let p = MatMul.Partition(m: m, n: n, k: k)
            let side = p.alongColumns ? n : m
            #expect(p.alongColumns == (n >= m) && p.side == side)
            #expect(p.parts >= 1 && p.parts <= MatMul.Partition.maximumParts)
            #expect(p.parts == 1 || p.partSize % 16 == 0)
            let ranges = (0..<p.parts).map { p.range($0) }
            #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == side)
            #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound && !$1.isEmpty })
            #expect(p == MatMul.Partition(m: m, n: n, k: k))
        }
    }

    @Test("products give the same bits at 1, 2, 3 and 4 threads, nested in a parallel loop or not")
    func productsAcrossThreadCounts() {
        var random = TestRandom(seed: 5)
        let products = (0..<60).map { Product(&random, large: $0 % 3 != 0) }
        let reference = withThreads(1) { products.map { $0.run() } }
        for threads in [2, 3, 4] {
            let results = withThreads(threads) { products.map { $0.run() } }
            for (i, (x, y)) in zip(results, reference).enumerated() {
                #expect(x == y, "product \(i) (\(products[i].m)×\(products[i].n)×\(products[i].k)) differs at \(threads) threads")
            }
        }
        // Inside a parallel loop the same products run serially on each thread.
        let nested = Mutex<[Int: [Float]]>([:])
        ThreadPool.shared.parallelFor(products.count) { range in
            for i in range { let r = products[i].run(); nested.withLock { $0[i] = r } }
        }
        let nestedResults = nested.withLock { $0 }
        for i in products.indices { #expect(nestedResults[i] == reference[i], "product \(i) differs when nested") }
    }

    @Test("products give the same bits while other threads run products and change the thread count")
    func productsUnderConcurrentLoad() async {
        var random = TestRandom(seed: 9)
        let products = (0..<12).map { _ in Product(&random, large: true) }
        let reference = products.map { $0.run() }
        let stop = Atomic<Bool>(false)
        // Two disturbers: one runs large products, one flips the pool between 1 and 3 threads.
        let disturbers = [Thread {
            var r = TestRandom(seed: 77)
            let load = Product(&r, large: true)
            while !stop.load(ordering: .relaxed) { _ = load.run() }
        }, Thread {
            var flip = 1
            while !stop.load(ordering: .relaxed) {
                ThreadPool.shared.configure(threads: flip)
                flip = 4 - flip
                usleep(300)
            }
        }]
        let saved = ThreadPool.shared.threads
        disturbers.forEach { $0.start() }
        for round in 0..<3 {
            for (i, p) in products.enumerated() {
                #expect(p.run() == reference[i], "product \(i) differs under load (round \(round))")
            }
        }
        stop.store(true, ordering: .relaxed)
        while disturbers.contains(where: \.isExecuting) { usleep(1000) }
        ThreadPool.shared.configure(threads: saved)
    }

    @Test("a sample's rows of a batched product or linear layer are the bits of that sample alone, whatever shares the batch",
          arguments: [(rows: 1, n: 320, k: 1280), (rows: 5, n: 64, k: 320), (rows: 77, n: 768, k: 768),
                      (rows: 64, n: 1280, k: 1280), (rows: 256, n: 40, k: 640), (rows: 32, n: 640, k: 320)])
    func samplesIndependentOfTheBatch(_ shape: (rows: Int, n: Int, k: Int)) {
        // Without `samples:`, sgemm's row tiles give a row different last bits in a call of 1, 2 or 6
        // samples (on Skylake-X for calls under 32 rows, on Haswell and Zen at any size): what broke
        // "batched requests equal each request alone" on CI.
        var random = TestRandom(seed: UInt64(shape.rows * 7 + shape.k))
        let batch = 6
        let x = random.tensor([batch, shape.rows, shape.k]), weight = random.tensor([shape.n, shape.k]), bias = random.tensor([shape.n])
        let together = Linear.forward(x, weight: weight, bias: bias)
        for sample in [0, 3, 5] {
            let alone = Linear.forward(x.slice(sample..<sample + 1).copy(), weight: weight, bias: bias)
            #expect(together.slice(sample..<sample + 1).scalars == alone.scalars, "sample \(sample) of \(batch), \(shape)")
            let pair = Linear.forward(x.slice(sample / 2 * 2..<sample / 2 * 2 + 2).copy(), weight: weight, bias: bias)
            #expect(pair.slice(sample % 2..<sample % 2 + 1).scalars == alone.scalars, "sample \(sample) in a pair, \(shape)")
        }
        let product = MatMul.forward(x, weight, transposeB: true)
        let first = MatMul.forward(x.slice(0..<1).copy(), weight, transposeB: true)
        #expect(product.slice(0..<1).scalars == first.scalars, "MatMul.forward, \(shape)")
    }

    @Test("samples that would share calls but are refused (a machine whose sgemm changes their bits) go one by one, same bits")
    func refusedSamplesFallBack() {
        // A shape no other test uses, recorded as refused before its first product: each of the 3
        // samples' 64 rows must then be computed alone, and the input gradient too.
        var random = TestRandom(seed: 77)
        let x = random.tensor([3, 64, 352]), weight = random.tensor([224, 352]), bias = random.tensor([224])
        SharedProductVerdicts.shared.record(.init(.rowBlocks(transposeA: false, transposeB: true), rows: 192, depth: 352, width: 224, block: 64),
                                            shares: false)
        #expect(MatMul.samplesShareCalls(transposeA: false, transposeB: true, m: 192, n: 224, k: 352, alpha: 1, a: x.pointer, lda: 352,
                                         b: weight.pointer, ldb: 352, samples: 3) == false)
        let together = Linear.forward(x, weight: weight, bias: bias)
        for sample in 0..<3 {
            let alone = Linear.forward(x.slice(sample..<sample + 1).copy(), weight: weight, bias: bias)
            #expect(together.slice(sample..<sample + 1).scalars == alone.scalars, "sample \(sample)")
        }
    }

    @Test("layer-norm weight and bias gradients (a sum over rows) are the same at any thread count")
    func layerNormReduction() {
        var random = TestRandom(seed: 3)
        let x = random.tensor([600, 96]), w = random.tensor([96]), b = random.tensor([96]), gy = random.tensor([600, 96])
        func gradients() -> [[Float]] {
            let (_, cache) = LayerNorm.forward(x, weight: w, bias: b, eps: 1e-5)
            let gx = Tensor(zeros: x.shape), gw = Tensor(zeros: [96]), gb = Tensor(zeros: [96])
            LayerNorm.backward(gradOutput: gy, input: x, weight: w, cache: cache, gradInput: gx, gradWeight: gw, gradBias: gb)
            return [gx.scalars, gw.scalars, gb.scalars]
        }
        let reference = withThreads(1) { gradients() }
        for threads in [2, 3, 5] { #expect(withThreads(threads) { gradients() } == reference, "\(threads) threads") }
    }
}
