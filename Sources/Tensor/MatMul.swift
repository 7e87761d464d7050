// Matrix products through OpenBLAS `cblas_sgemm`, forward and backward.
//
// BLAS is used for matrix products only (as ggml-blas does): convolutions, linear layers and
// attention all reduce to `gemm` below. Everything is row-major.
//
// OpenBLAS runs single-threaded (see ThreadPool); a large product is cut into parts by a fixed
// rule of its shape (`Partition`) and the parts run on our threads, each one sgemm call. Every
// element of C is then computed by the same call on the same operands whatever the thread count,
// so products give the same bits under any load.
//
// sgemm's result for one row of C depends on how many rows the call has: its kernels cut M into
// register tiles (16, 8, 4, 2, 1 rows on Haswell and Zen, 32 … 1 on Skylake-X) whose reductions run
// in different orders. A batched layer therefore says where its samples begin (`samples:`), and each
// sample's rows get calls of their own, shaped as if that sample were alone: an image is the same
// bytes whichever requests share its batch. Samples whose rows fill whole 32-row tiles share calls where
// this machine's sgemm is checked to give them those same bytes (`samplesShareCalls`).
import CBLAS

/// Matrix products.
public enum MatMul {
    /// How a product is split into parts that run in parallel: a function of (m, n, k) only.
    ///
    /// The parts cut the longer side of C, so that what each part re-reads is the smaller operand:
    /// cutting C's columns makes every part pack all of op(A) (m×k), cutting rows all of op(B)
    /// (k×n). Each part is at least `minimumSide` wide (OpenBLAS's kernels want long panels, and
    /// the re-packing costs (parts − 1)·(m or n)·k copies against m·n·k multiply-adds), there are at
    /// most `maximumParts`, aiming at a power of two so that two or four threads share them evenly, and
    /// products under `minimumWork` multiply-adds are not cut (a thread hand-off would cost more).
    public struct Partition: Equatable, Sendable {
        public static let minimumWork = 1 << 22
        public static let minimumSide = 128
        public static let maximumParts = 8

        /// True when parts are column ranges of C; else row ranges.
        public let alongColumns: Bool
        /// The side that is cut: n along columns, m along rows.
        public let side: Int
        public let parts: Int
        /// Columns (or rows) per part, a multiple of 16 except for the last part.
        public let partSize: Int

        public init(m: Int, n: Int, k: Int) {
            alongColumns = n >= m
            side = alongColumns ? n : m
            var parts = 1
            if m * n * k >= Self.minimumWork {
                while parts < Self.maximumParts && side / (parts * 2) >= Self.minimumSide { parts *= 2 }
            }
            partSize = parts == 1 ? side : ((side + parts - 1) / parts + 15) / 16 * 16
            self.parts = (side + partSize - 1) / partSize
        }

        /// The rows or columns of part `index`.
        public func range(_ index: Int) -> Range<Int> {
            index * partSize ..< min(side, (index + 1) * partSize)
        }
    }

    /// C = α·op(A)·op(B) + β·C on raw row-major matrices, op = transpose when asked.
    ///
    /// - Parameters: `m`×`k` is op(A), `k`×`n` is op(B), `m`×`n` is C; `lda`, `ldb`, `ldc` are the
    ///   row strides of the matrices as stored (before op). `samples`: C's rows are that many equal
    ///   runs of consecutive rows, one per sample of a batch, each computed as the product of its
    ///   sample alone would be.
    public static func gemm(
        transposeA: Bool = false, transposeB: Bool = false,
        m: Int, n: Int, k: Int,
        alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        samples: Int = 1
    ) {
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            // sgemm with k = 0 is C = βC; spell it out so that β = 0 clears stale values.
            for i in 0..<m {
                let row = c + i * ldc
                for j in 0..<n { row[j] = beta == 0 ? 0 : beta * row[j] }
            }
            return
        }
        precondition(samples >= 1 && m % samples == 0, "gemm: \(m) rows do not split into \(samples) samples")
        let samples = samples > 1 && samplesShareCalls(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                                        a: a, lda: lda, b: b, ldb: ldb, samples: samples) ? 1 : samples
        // Rows of sample s are op(A)'s rows s·rowsPerSample ..< (s + 1)·rowsPerSample: rows of A, or
        // columns when it is transposed.
        let rowsPerSample = m / samples
        let sampleStrideA = rowsPerSample * (transposeA ? 1 : lda), sampleStrideC = rowsPerSample * ldc
        let partition = Partition(m: rowsPerSample, n: n, k: k)
        let tasks = samples * partition.parts
        func run(_ task: Int) {
            let sample = task / partition.parts, part = task % partition.parts
            let a = a + sample * sampleStrideA, c = c + sample * sampleStrideC
            guard partition.parts > 1 else {
                serialGemm(transposeA: transposeA, transposeB: transposeB, m: rowsPerSample, n: n, k: k, alpha: alpha,
                           a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
                return
            }
            if partition.alongColumns {
                // Columns j of C use columns j of op(B): row j of B when it is transposed.
                let columns = partition.range(part)
                serialGemm(transposeA: transposeA, transposeB: transposeB, m: rowsPerSample, n: columns.count, k: k, alpha: alpha,
                           a: a, lda: lda, b: b + columns.lowerBound * (transposeB ? ldb : 1), ldb: ldb,
                           beta: beta, c: c + columns.lowerBound, ldc: ldc)
            } else {
                // Rows i of C use rows i of op(A): column i of A when it is transposed.
                let rows = partition.range(part)
                serialGemm(transposeA: transposeA, transposeB: transposeB, m: rows.count, n: n, k: k, alpha: alpha,
                           a: a + rows.lowerBound * (transposeA ? 1 : lda), lda: lda, b: b, ldb: ldb,
                           beta: beta, c: c + rows.lowerBound * ldc, ldc: ldc)
            }
        }
        // Samples too small to be worth a thread hand-off stay on this one (which thread runs a task
        // never changes its result).
        guard tasks > 1, m * n * k >= Partition.minimumWork else {
            for task in 0..<tasks { run(task) }
            return
        }
        ThreadPool.shared.parallelFor(tasks) { range in
            for task in range { run(task) }
        }
    }

    /// Whether the samples of a product may share its calls, as one sample: each sample's rows come in
    /// whole groups of 32 (sgemm's widest row tile), as do the shared product's parts when they cut rows,
    /// its product is large enough to stay off sgemm's small-matrix kernels, and — checked once per shape
    /// (SharedProductVerdicts) — every sample's rows get the same bits in the shared call as alone. Shared, the weight (op(B)) is packed once
    /// per product instead of once per sample: measured on 2 cores, 0.84–0.93× the time for samples of
    /// 64 rows (SD's 8×8 level), 0.97× for 256.
    static func samplesShareCalls(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                                  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, samples: Int) -> Bool {
        let rowsPerSample = m / samples, shared = Partition(m: m, n: n, k: k)
        guard rowsPerSample % 32 == 0, rowsPerSample * n * k >= Partition.minimumWork,
              shared.alongColumns || shared.partSize % 32 == 0 else { return false }
        let shape = SharedProductVerdicts.Shape(.rowBlocks(transposeA: transposeA, transposeB: transposeB), rows: m, depth: k, width: n,
                                                block: rowsPerSample)
        return SharedProductVerdicts.shared.verdict(for: shape) {
            ScratchBuffers.shared.withBuffer(m * n) { together in
                ScratchBuffers.shared.withBuffer(rowsPerSample * n) { alone in
                    gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                         c: together, ldc: n, samples: 1)
                    // Every sample, not only the first: another sample's rows may sit elsewhere in the row tiles.
                    return (0..<samples).allSatisfy { sample in
                        gemm(transposeA: transposeA, transposeB: transposeB, m: rowsPerSample, n: n, k: k, alpha: alpha,
                             a: a + sample * rowsPerSample * (transposeA ? 1 : lda), lda: lda, b: b, ldb: ldb, c: alone, ldc: n, samples: 1)
                        let block = together + sample * rowsPerSample * n
                        return (0..<rowsPerSample * n).allSatisfy { block[$0].bitPattern == alone[$0].bitPattern }
                    }
                }
            }
        }
    }

    /// One single-threaded sgemm call.
    @inline(__always)
    static func serialGemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor,
            transposeA ? CblasTrans : CblasNoTrans,
            transposeB ? CblasTrans : CblasNoTrans,
            blasint(m), blasint(n), blasint(k),
            alpha, a, blasint(lda), b, blasint(ldb),
            beta, c, blasint(ldc))
    }

    /// Batched product: a [..., M, K] · b [..., K, N] → [..., M, N] (b's leading dims equal a's, or
    /// b is a single [K, N] matrix shared by the whole batch). `transposeB` reads b as [..., N, K].
    public static func forward(_ a: Tensor, _ b: Tensor, transposeB: Bool = false) -> Tensor {
        let (batch, m, k, n, bShared) = dimensions(a, b, transposeB: transposeB)
        let out = Tensor(uninitialized: Array(a.shape.dropLast()) + [n])
        if bShared {
            // One product over the whole batch, each sample's rows computed as if alone.
            gemm(transposeB: transposeB, m: batch * m, n: n, k: k,
                 a: a.pointer, lda: k, b: b.pointer, ldb: transposeB ? k : n,
                 c: out.pointer, ldc: n, samples: batch)
        } else {
            for i in 0..<batch {
                gemm(transposeB: transposeB, m: m, n: n, k: k,
                     a: a.pointer + i * m * k, lda: k, b: b.pointer + i * k * n, ldb: transposeB ? k : n,
                     c: out.pointer + i * m * n, ldc: n)
            }
        }
        return out
    }

    /// Adds ∂L/∂a and ∂L/∂b for `forward(a, b, transposeB:)` into the given gradients.
    public static func backward(
        gradOutput: Tensor, a: Tensor, b: Tensor, transposeB: Bool = false,
        gradA: Tensor?, gradB: Tensor?
    ) {
        let (batch, m, k, n, bShared) = dimensions(a, b, transposeB: transposeB)
        precondition(gradOutput.count == batch * m * n, "gradOutput \(gradOutput.shape) for product \(a.shape)·\(b.shape)")
        let ldb = transposeB ? k : n
        if let gradA {
            precondition(gradA.count == a.count, "gradA \(gradA.shape) for a \(a.shape)")
            // dA = dC · op(B)ᵀ
            let mm = bShared ? batch * m : m
            for i in 0..<(bShared ? 1 : batch) {
                gemm(transposeB: !transposeB, m: mm, n: k, k: n,
                     a: gradOutput.pointer + i * m * n, lda: n,
                     b: b.pointer + (bShared ? 0 : i * k * n), ldb: ldb,
                     beta: 1, c: gradA.pointer + i * m * k, ldc: k)
            }
        }
        if let gradB {
            precondition(gradB.count == b.count, "gradB \(gradB.shape) for b \(b.shape)")
            // d op(B) = Aᵀ · dC; for a transposed B, dB = dCᵀ · A. A shared B sums over the batch,
            // which is one product with the batch folded into the reduction dimension.
            let mm = bShared ? batch * m : m
            for i in 0..<(bShared ? 1 : batch) {
                let aBlock = a.pointer + i * m * k
                let gBlock = gradOutput.pointer + i * m * n
                let dB = gradB.pointer + (bShared ? 0 : i * k * n)
                if transposeB {
                    gemm(transposeA: true, m: n, n: k, k: mm, a: gBlock, lda: n, b: aBlock, ldb: k, beta: 1, c: dB, ldc: k)
                } else {
                    gemm(transposeA: true, m: k, n: n, k: mm, a: aBlock, lda: k, b: gBlock, ldb: n, beta: 1, c: dB, ldc: n)
                }
            }
        }
    }

    private static func dimensions(_ a: Tensor, _ b: Tensor, transposeB: Bool)
        -> (batch: Int, m: Int, k: Int, n: Int, bShared: Bool)
    {
        precondition(a.rank >= 2 && b.rank >= 2, "matmul needs matrices, got \(a.shape) and \(b.shape)")
        let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1]
        let bRows = b.shape[b.rank - 2], bCols = b.shape[b.rank - 1]
        let (bk, n) = transposeB ? (bCols, bRows) : (bRows, bCols)
        precondition(bk == k, "matmul inner sizes differ: \(a.shape) · \(b.shape)\(transposeB ? "ᵀ" : "")")
        let batch = a.count / max(m * k, 1)
        let bShared = b.rank == 2
        precondition(bShared || b.count == batch * k * n, "matmul batch sizes differ: \(a.shape) · \(b.shape)")
        return (batch, m, k, n, bShared)
    }
}
