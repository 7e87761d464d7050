// Kernel benchmarks: conv2d at the SD 1.5 UNet's shapes and self-attention at its three sizes, each next
// to a baseline measured in the same run (plain sgemm of the same product; the strip method), so that
// the ratios hold on a noisy machine even when the absolute times move.
import CBLAS
import Foundation
import Tensor

enum KernelBenchmarks {
    static func run(repetitions: Int, onlyProducts: Bool = false, onlyConvolutions: Bool = false, onlyAttention: Bool = false) {
        let threads = ThreadPool.shared.threads
        ThreadPool.shared.configure(threads: threads)
        print("dbbench kernels — \(threads) threads, median of \(repetitions) runs after one warm-up\n")
        if onlyProducts {
            products(repetitions: repetitions)
            return
        }
        if onlyConvolutions {
            convolutions(repetitions: repetitions)
            return
        }
        if onlyAttention {
            attention(repetitions: repetitions)
            return
        }
        products(repetitions: repetitions)
        print()
        convolutions(repetitions: repetitions)
        print()
        attention(repetitions: repetitions)
    }

    /// Our deterministic products (fixed parts on our threads, single-threaded OpenBLAS inside)
    /// against OpenBLAS threading the same product itself, at the UNet's product shapes.
    static func products(repetitions: Int) {
        let threads = ThreadPool.shared.threads
        var table = Table(columns: ["sgemm m×n×k", "parts", "ours ms", "GFLOP/s", "OpenBLAS-threaded ms", "GFLOP/s", "ratio"])
        let shapes = [("conv 64×64×320", 320, 4096, 2880), ("conv 32×32×640", 640, 1024, 5760),
                      ("conv 16×16×1280", 1280, 256, 11520), ("conv 8×8×1280", 1280, 64, 11520),
                      ("conv 8×8×1280, 2 images", 1280, 128, 11520), ("conv 4×4×1280", 1280, 16, 11520), ("conv 4×4×1280, 2 images", 1280, 32, 11520),
                      ("linear 2×4096 tok, 320", 8192, 320, 320), ("GEGLU 2×4096 tok, 320→2560", 8192, 2560, 320),
                      ("linear 2×1024 tok, 640", 2048, 640, 640), ("to_k 2×77, 768→320", 154, 320, 768)]
        for (name, m, n, k) in shapes {
            let a = randomTensor([m, k]), b = randomTensor([k, n]), c = Tensor(zeros: [m, n])
            let flops = 2.0 * Double(m) * Double(n) * Double(k)
            let ours = measure(repetitions) {
                MatMul.gemm(m: m, n: n, k: k, a: a.pointer, lda: k, b: b.pointer, ldb: n, c: c.pointer, ldc: n)
            }
            openblas_set_num_threads(Int32(threads))
            let blas = measure(repetitions) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blasint(m), blasint(n), blasint(k),
                            1, a.pointer, blasint(k), b.pointer, blasint(n), 0, c.pointer, blasint(n))
            }
            openblas_set_num_threads(1)
            table.add([name, "\(MatMul.Partition(m: m, n: n, k: k).parts)", ms(ours), gflops(flops, ours),
                       ms(blas), gflops(flops, blas), String(format: "%.2f", blas / ours)])
        }
        table.print()
        print("ratio > 1: ours is faster; OpenBLAS's own threading gives different bits for 1 and 2 threads")
    }

    /// conv2d 3×3, stride 1, padding 1, batch 2 (UNet) or 1 (VAE decoder), Ci = Co = C: im2col + sgemm
    /// and Winograd F(2×2, 3×3) and F(4×4, 3×3), against the sgemm im2col reduces to. GFLOP/s count the direct
    /// method's multiply-adds for all three, so Winograd's figure is its effective rate.
    static func convolutions(repetitions: Int) {
        var table = Table(columns: ["conv2d 3×3", "im2col ms", "eff. GFLOP/s", "F(2×2) ms", "eff. GFLOP/s", "F(4×4) ms",
                                    "eff. GFLOP/s", "sgemm ms", "F(2×2) / im2col", "F(4×4) / im2col"])
        // UNet at 512 px; VAE decoder at 512 px; TAESD's decoder (64 channels) at 256 and 512 px.
        let shapes = [(2, 64, 320), (2, 32, 640), (2, 16, 1280), (2, 8, 1280), (1, 64, 512), (1, 128, 512), (1, 256, 256), (1, 512, 128),
                      (1, 64, 64), (1, 128, 64), (1, 256, 64), (1, 512, 64)]
        for (batch, size, channels) in shapes {
            let x = randomTensor([batch, channels, size, size])
            let w = randomTensor([channels, channels, 3, 3], scale: 0.02)
            let b = randomTensor([channels])
            let flops = 2.0 * Double(batch) * Double(channels * size * size) * Double(channels * 9)
            let reps = size >= 256 ? max(1, repetitions / 2) : repetitions
            let conv = measure(reps) { _ = Conv2D.forward(x, weight: w, bias: b, stride: 1, padding: 1, method: .im2col) }
            let winograd = measure(reps) { _ = WinogradConv.forward(x, weight: w, bias: b) }
            let winograd4 = measure(reps) { _ = Winograd4x4Conv.forward(x, weight: w, bias: b) }
            // The same products on a ready-made column matrix: what im2col + sgemm could at best be
            // (for the large VAE planes, a 64-row block of it, scaled).
            let rows = min(size, max(1, (1 << 24) / (channels * 9 * size)))
            let columns = randomTensor([channels * 9, rows * size])
            let out = Tensor(zeros: [channels, rows * size])
            let gemm = measure(reps) {
                MatMul.gemm(m: channels, n: rows * size, k: channels * 9,
                            a: w.pointer, lda: channels * 9, b: columns.pointer, ldb: rows * size,
                            c: out.pointer, ldc: rows * size)
            } * Double(batch) * Double(size) / Double(rows)
            table.add(["\(batch)×\(size)×\(size)×\(channels)", ms(conv), gflops(flops, conv), ms(winograd), gflops(flops, winograd),
                       ms(winograd4), gflops(flops, winograd4), ms(gemm),
                       String(format: "%.2f", winograd / conv), String(format: "%.2f", winograd4 / conv)])
        }
        table.print()
        print("Winograd / im2col < 1: Winograd is faster")
    }

    /// Self-attention at SD 1.5's three self-attention shapes of a 512×512 CFG step (batch 2: 4096
    /// tokens × 8 heads of 40, 1024 × 8 × 80, 256 × 8 × 160): the fused kernel against the strip method
    /// (sgemm, softmax, sgemm per block of 32 query rows), the naive one (whole score matrix) and the
    /// two plain sgemm products of the same sizes alone, with no softmax, each head's on our threads.
    static func attention(repetitions: Int) {
        var table = Table(columns: ["self-attention, batch 2", "fused ms", "GFLOP/s", "strips ms", "GFLOP/s",
                                    "naive ms", "plain sgemm ms", "GFLOP/s", "fused / strips", "fused / sgemm"])
        for (tokens, headDim) in [(4096, 40), (1024, 80), (256, 160)] {
            let heads = 8, batch = 2, width = heads * headDim
            let q = randomTensor([batch, tokens, width])
            let k = randomTensor([batch, tokens, width])
            let v = randomTensor([batch, tokens, width])
            let flops = 4.0 * Double(batch * heads) * Double(tokens) * Double(tokens) * Double(headDim)
            let fused = measure(repetitions) { _ = Attention.fusedForward(query: q, key: k, value: v, heads: heads) }
            let strips = measure(repetitions) { _ = Attention.stripForward(query: q, key: k, value: v, heads: heads) }
            let naive = measure(repetitions) { _ = Attention.naiveForward(query: q, key: k, value: v, heads: heads) }
            // The two products alone, per head, with the whole score matrix materialised and no softmax;
            // heads in parallel on our threads, each product single-threaded (as the kernels run).
            let out = Tensor(zeros: [batch, tokens, width])
            let gemm = measure(repetitions) {
                ThreadPool.shared.parallelFor(batch * heads) { range in
                    ScratchBuffers.shared.withBuffer(tokens * tokens) { scores in
                        for bh in range {
                            let b = bh / heads, h = bh % heads
                            let base = b * tokens * width + h * headDim
                            MatMul.gemm(transposeB: true, m: tokens, n: tokens, k: headDim,
                                        a: q.pointer + base, lda: width, b: k.pointer + base, ldb: width,
                                        c: scores, ldc: tokens)
                            MatMul.gemm(m: tokens, n: headDim, k: tokens,
                                        a: scores, lda: tokens, b: v.pointer + base, ldb: width,
                                        c: out.pointer + base, ldc: width)
                        }
                    }
                }
            }
            table.add(["\(tokens) tokens × 8 heads × \(headDim)", ms(fused), gflops(flops, fused), ms(strips), gflops(flops, strips),
                       ms(naive), ms(gemm), gflops(flops, gemm),
                       String(format: "%.2f", fused / strips), String(format: "%.2f", fused / gemm)])
        }
        table.print()
        print("ratios < 1: the fused kernel is faster (GFLOP/s count the two products, 4·B·H·T²·D);")
        print("Attention.forward takes the fused kernel for head sizes under 128, the strips from there")
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
