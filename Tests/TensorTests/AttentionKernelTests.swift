// The fused attention forward (AttentionKernel.swift, called directly: `forward` takes it for head sizes
// under 128) against a float64 softmax(Q·Kᵀ/√D)·V at SD 1.5's
// head sizes (40, 80, 160), CLIP's (64) and sizes that take every P·V tile path (8, 12, 20, 36, 44),
// with query and key counts that leave ragged blocks, tiles and key groups; causal and with per-row key
// lengths. Bound: 1e-5 of the output's scale; the log-sum-exp within 1e-5 absolute. Also: the strip
// method (the baseline) agrees, results are the same bits at any thread count, and padding that holds
// NaN beyond a row's key length does not reach the output. PyTorch's own values: LinalgTests' golden
// attention cases, which now run this kernel.
import Foundation
import Testing
@testable import Tensor
import TestSupport

@Suite("Fused attention kernel")
struct AttentionKernelTests {
    /// softmax(scale·q·kᵀ)·v and the log-sum-exp in float64, for one batch row and head.
    private func reference(_ q: Tensor, _ k: Tensor, _ v: Tensor, heads: Int, causal: Bool, keyLengths: [Int]?)
        -> (output: [Double], logSumExp: [Double]) {
        let (batch, tq, width) = (q.shape[0], q.shape[1], q.shape[2])
        let tk = k.shape[1], d = width / heads
        let scale = 1 / Double(d).squareRoot()
        var output = [Double](repeating: 0, count: q.count)
        var lse = [Double](repeating: 0, count: batch * heads * tq)
        for b in 0..<batch {
            let keys = keyLengths?[b] ?? tk
            for h in 0..<heads {
                for i in 0..<tq {
                    let visible = causal ? min(keys, i + tk - tq + 1) : keys
                    var scores = [Double](repeating: 0, count: visible)
                    for j in 0..<visible {
                        var dot = 0.0
                        for c in 0..<d {
                            dot += Double(q.pointer[(b * tq + i) * width + h * d + c]) * Double(k.pointer[(b * tk + j) * width + h * d + c])
                        }
                        scores[j] = dot * scale
                    }
                    let m = scores.max() ?? 0
                    let weights = scores.map { Foundation.exp($0 - m) }
                    let sum = weights.reduce(0, +)
                    lse[(b * heads + h) * tq + i] = m + Foundation.log(sum)
                    for c in 0..<d {
                        var acc = 0.0
                        for j in 0..<visible { acc += weights[j] * Double(v.pointer[(b * tk + j) * width + h * d + c]) }
                        output[(b * tq + i) * width + h * d + c] = acc / sum
                    }
                }
            }
        }
        return (output, lse)
    }

    private func worstRelative(_ actual: Tensor, _ expected: [Double]) -> Double {
        let scale = expected.map(abs).max() ?? 1
        return zip(actual.scalars, expected).map { abs(Double($0) - $1) }.max()! / scale
    }

    /// (head size, heads, query rows, keys, causal)
    static let shapes: [(Int, Int, Int, Int, Bool)] = [
        (40, 2, 61, 77, false), (40, 1, 50, 300, false), (80, 2, 30, 77, false), (160, 1, 29, 64, false),
        (64, 2, 77, 77, true), (8, 3, 25, 33, false), (12, 2, 17, 19, true), (20, 2, 26, 40, false),
        (36, 1, 7, 130, false), (44, 2, 48, 129, false),
    ]

    @Test("matches a float64 softmax(QKᵀ/√D)·V within 1e-5 of scale", arguments: shapes.indices)
    func float64Reference(_ index: Int) {
        let (d, heads, tq, tk, causal) = Self.shapes[index]
        let q = uniformTensor([2, tq, heads * d], seed: UInt64(index * 3 + 1))
        let k = uniformTensor([2, tk, heads * d], seed: UInt64(index * 3 + 2))
        let v = uniformTensor([2, tk, heads * d], seed: UInt64(index * 3 + 3))
        // Scores of a few units, as trained models have, so that the softmax is neither flat nor one-hot.
        let sharpened = q.copy()
        for i in 0..<sharpened.count { sharpened.pointer[i] *= 4 }
        let (y, lse) = Attention.fusedForward(query: sharpened, key: k, value: v, heads: heads, causal: causal)
        let expected = reference(sharpened, k, v, heads: heads, causal: causal, keyLengths: nil)
        #expect(worstRelative(y, expected.output) < 1e-5, "D \(d), \(tq)×\(tk)")
        let lseError = zip(lse.scalars, expected.logSumExp).map { abs(Double($0) - $1) }.max()!
        #expect(lseError < 1e-5, "log-sum-exp, D \(d)")
        // The strip method (sgemm) gives the same within the same bound.
        let strips = Attention.stripForward(query: sharpened, key: k, value: v, heads: heads, causal: causal)
        #expect(difference(strips.output, y).relativeToScale < 1e-5)
        #expect(difference(strips.logSumExp, lse).maxAbsolute < 1e-5)
    }

    @Test("per-row key lengths match float64, and NaN padding beyond them stays out")
    func keyLengthsAndPadding() {
        let lengths = [77, 154, 10]
        let q = uniformTensor([3, 30, 80], seed: 21), k = uniformTensor([3, 154, 80], seed: 22)
        let v = uniformTensor([3, 154, 80], seed: 23)
        for (b, length) in lengths.enumerated() where length < 154 {
            for i in (b * 154 + length) * 80..<(b + 1) * 154 * 80 { k.pointer[i] = .nan; v.pointer[i] = .nan }
        }
        let (y, _) = Attention.fusedForward(query: q, key: k, value: v, heads: 2, keyLengths: lengths)
        #expect(y.scalars.allSatisfy { $0.isFinite })
        #expect(worstRelative(y, reference(q, k, v, heads: 2, causal: false, keyLengths: lengths).output) < 1e-5)
    }

    @Test("the same bits at 1, 2 and 3 threads, at SD's 4096-token self-attention shape (one head pair)")
    func threadCounts() {
        let q = uniformTensor([1, 4096, 80], seed: 31), k = uniformTensor([1, 4096, 80], seed: 32)
        let v = uniformTensor([1, 4096, 80], seed: 33)
        func run(_ threads: Int) -> [Float] {
            let saved = ThreadPool.shared.threads
            ThreadPool.shared.configure(threads: threads)
            defer { ThreadPool.shared.configure(threads: saved) }
            return Attention.forward(query: q, key: k, value: v, heads: 2).output.scalars
        }
        let one = run(1)
        #expect(run(2) == one)
        #expect(run(3) == one)
        // And the strips agree with it there too.
        let strips = Attention.stripForward(query: q, key: k, value: v, heads: 2).output
        #expect(difference(strips, Tensor(shape: [1, 4096, 80], values: one)).relativeToScale < 1e-5)
    }
}
