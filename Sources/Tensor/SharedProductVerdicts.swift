// Whether this machine's sgemm gives a block of a product — one image's columns, one sample's rows —
// the same bits inside a larger call as in a call of its own. Sharing one call across the images or
// samples of a batch packs the weight once instead of once per image; but a batch must give each image
// the bytes it gets alone, and whether it does depends on the BLAS kernels' register tiles (a property of
// the build and the CPU, not of the BLAS API). So each shape is checked once, on its first product, and
// shares only if the bits agree (Conv2DSharedProducts, MatMul.gemm's samples).
import Synchronization

/// Per product shape, the verdict of its first product.
final class SharedProductVerdicts: Sendable {
    static let shared = SharedProductVerdicts()

    /// How the blocks lie in the product.
    enum Layout: Hashable, Sendable {
        /// Blocks of `block` columns of C (images side by side).
        case columnBlocks
        /// Blocks of `block` rows of C (samples one after the other), with op(A) and op(B) as given.
        case rowBlocks(transposeA: Bool, transposeB: Bool)
    }

    /// A shared product's shape: C [rows, width] = op(A) [rows, depth] · op(B) [depth, width], in blocks.
    struct Shape: Hashable, Sendable {
        let layout: Layout
        let rows: Int, depth: Int, width: Int, block: Int

        init(_ layout: Layout, rows: Int, depth: Int, width: Int, block: Int) {
            self.layout = layout
            self.rows = rows; self.depth = depth; self.width = width; self.block = block
        }
    }

    private let verdicts = Mutex<[Shape: Bool]>([:])

    /// The recorded verdict for `shape`, or `decide()`'s, recorded.
    func verdict(for shape: Shape, decide: () -> Bool) -> Bool {
        if let known = verdicts.withLock({ $0[shape] }) { return known }
        let verdict = decide()
        verdicts.withLock { $0[shape] = verdict }
        return verdict
    }

    /// Records a verdict ahead of the first product (tests use it to take the block-by-block fallback).
    func record(_ shape: Shape, shares: Bool) { verdicts.withLock { $0[shape] = shares } }

    /// Whether every `block`-column block of `product` (C [rows, width] = A [rows, depth] · B [depth, width],
    /// onto its starting values) holds the bits that block gets in a product of its own: A times the block's
    /// columns of B, `block` wide, onto the same starting values (`start(i, into:)` writes block i's, rows
    /// `block` apart; none: zero). Only the first `valid` columns of a block are compared; the rest pad it.
    static func columnBlocksAgree(rows: Int, depth: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, width: Int,
                                  block: Int, valid: Int, product: UnsafePointer<Float>,
                                  start: ((_ block: Int, _ into: UnsafeMutablePointer<Float>) -> Void)? = nil) -> Bool {
        ScratchBuffers.shared.withBuffer(rows * block) { alone in
            (0..<width / block).allSatisfy { i in
                let offset = i * block
                start?(i, alone)
                MatMul.gemm(m: rows, n: block, k: depth, a: a, lda: lda, b: b + offset, ldb: width,
                            beta: start == nil ? 0 : 1, c: alone, ldc: block)
                return (0..<rows).allSatisfy { r in
                    (0..<valid).allSatisfy { alone[r * block + $0].bitPattern == product[r * width + offset + $0].bitPattern }
                }
            }
        }
    }
}
