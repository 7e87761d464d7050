// Kernel benchmarks: conv2d at the SD 1.5 UNet's shapes and attention at 4096 tokens, each next to
// a baseline measured in the same run (plain sgemm of the same product; naive attention), so that
// the ratios hold on a noisy machine even when the absolute times move.
import Foundation
import Tensor

enum KernelBenchmarks {
    static func run(repetitions: Int) {
        let threads = ThreadPool.shared.threads
        ThreadPool.shared.configure(threads: threads)
        print("dbbench kernels — \(threads) threads, median of \(repetitions) runs after one warm-up\n")
        convolutions(repetitions: repetitions)
        print()
        attention(repetitions: repetitions)
    }

    /// conv2d 3×3, stride 1, padding 1, batch 2, Ci = Co = C, vs the sgemm it reduces to.
    static func convolutions(repetitions: Int) {
        var table = Table(columns: ["conv2d 3×3, batch 2", "ms", "GFLOP/s", "sgemm ms", "sgemm GFLOP/s", "ratio"])
        for (size, channels) in [(64, 320), (32, 640), (16, 1280), (8, 1280)] {
            let x = randomTensor([2, channels, size, size])
            let w = randomTensor([channels, channels, 3, 3], scale: 0.02)
            let b = randomTensor([channels])
            let flops = 2.0 * 2 * Double(channels * size * size) * Double(channels * 9)
            let conv = measure(repetitions) { _ = Conv2D.forward(x, weight: w, bias: b, stride: 1, padding: 1) }
            // The same products on a ready-made column matrix: what im2col + sgemm could at best be.
            let columns = randomTensor([channels * 9, size * size])
            let out = Tensor(zeros: [channels, size * size])
            let gemm = measure(repetitions) {
                for _ in 0..<2 {
                    MatMul.gemm(m: channels, n: size * size, k: channels * 9,
                                a: w.pointer, lda: channels * 9, b: columns.pointer, ldb: size * size,
                                c: out.pointer, ldc: size * size)
                }
            }
            table.add(["\(size)×\(size)×\(channels)", ms(conv), gflops(flops, conv), ms(gemm), gflops(flops, gemm),
                       String(format: "%.2f", gemm / conv)])
        }
        table.print()
    }

    /// Self-attention at 4096 tokens, 8 heads × 40, batch 2 (one CFG step at 512×512).
    static func attention(repetitions: Int) {
        let tokens = 4096, heads = 8, headDim = 40, batch = 2
        let q = randomTensor([batch, tokens, heads * headDim])
        let k = randomTensor([batch, tokens, heads * headDim])
        let v = randomTensor([batch, tokens, heads * headDim])
        let flops = 4.0 * Double(batch * heads) * Double(tokens) * Double(tokens) * Double(headDim)
        let tiled = measure(repetitions) { _ = Attention.forward(query: q, key: k, value: v, heads: heads) }
        let naive = measure(repetitions) { _ = Attention.naiveForward(query: q, key: k, value: v, heads: heads) }
        // The two products alone, per head, with the whole score matrix materialised and no softmax.
        let scores = Tensor(zeros: [tokens, tokens])
        let out = Tensor(zeros: [tokens, heads * headDim])
        let gemm = measure(repetitions) {
            for b in 0..<batch {
                for h in 0..<heads {
                    let base = b * tokens * heads * headDim + h * headDim
                    MatMul.gemm(transposeB: true, m: tokens, n: tokens, k: headDim,
                                a: q.pointer + base, lda: heads * headDim, b: k.pointer + base, ldb: heads * headDim,
                                c: scores.pointer, ldc: tokens)
                    MatMul.gemm(m: tokens, n: headDim, k: tokens,
                                a: scores.pointer, lda: tokens, b: v.pointer + base, ldb: heads * headDim,
                                c: out.pointer + h * headDim, ldc: heads * headDim)
                }
            }
        }
        var table = Table(columns: ["attention 2×4096 tokens, 8×40", "ms", "GFLOP/s", "vs tiled"])
        table.add(["tiled (ours)", ms(tiled), gflops(flops, tiled), "1.00"])
        table.add(["naive: materialise, softmax, P·V", ms(naive), gflops(flops, naive), String(format: "%.2f", naive / tiled)])
        table.add(["plain sgemm QKᵀ + PV only", ms(gemm), gflops(flops, gemm), String(format: "%.2f", gemm / tiled)])
        table.print()
        print(String(format: "tiled attention is %.2f× faster than naive", naive / tiled))
    }
}

// MARK: Helpers

/// Median wall time in seconds of `repetitions` runs after one warm-up run.
func measure(_ repetitions: Int, _ body: () -> Void) -> Double {
    body()
    var times: [Double] = []
    for _ in 0..<repetitions {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return times.sorted()[times.count / 2]
}

func ms(_ seconds: Double) -> String { String(format: "%.1f", seconds * 1000) }
func gflops(_ flops: Double, _ seconds: Double) -> String { String(format: "%.1f", flops / seconds / 1e9) }

/// Uniform values in [−scale, scale): benchmark inputs whose values do not matter.
func randomTensor(_ shape: [Int], scale: Float = 1) -> Tensor {
    let t = Tensor(uninitialized: shape)
    var state: UInt32 = 0x1234_5678
    for i in 0..<t.count {
        state = state &* 1_664_525 &+ 1_013_904_223
        t.pointer[i] = (Float(state >> 8) / Float(1 << 24) * 2 - 1) * scale
    }
    return t
}

/// A plain-text table with aligned columns.
struct Table {
    let columns: [String]
    var rows: [[String]] = []
    init(columns: [String]) { self.columns = columns }
    mutating func add(_ row: [String]) { rows.append(row) }
    func print() {
        let all = [columns] + rows
        let widths = columns.indices.map { c in all.map { $0[c].count }.max() ?? 0 }
        for (i, row) in all.enumerated() {
            let cells = row.enumerated().map { c, cell in
                c == 0 ? cell.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[c] - cell.count) + cell
            }
            Swift.print(cells.joined(separator: "  "))
            if i == 0 { Swift.print(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
        }
    }
}
