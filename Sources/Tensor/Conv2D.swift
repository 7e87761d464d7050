// 2-D convolution over NCHW tensors (`torch.nn.functional.conv2d`, groups = 1), forward and backward.
//
// Method: im2col + sgemm — or, for 3×3 stride-1 layers where it is faster, Winograd F(4×4, 3×3)
// (Winograd4x4Conv; `fastestMethod(for:)`; F(2×2) and im2col can be asked for by name). The input patches are unfolded into a column matrix
// col [Ci·kh·kw, Ho·Wo], and one sgemm computes out[Co, Ho·Wo] = W [Co, Ci·kh·kw] · col. The weight
// is used exactly as PyTorch stores it, so memory-mapped weights need no repacking. 1×1 stride-1
// convolutions need no unfolding at all — the input already is the column matrix.
// Only very large images are split into blocks of output rows, to bound the column matrix's
// memory: OpenBLAS packs its operands into cache-sized panels itself, and smaller blocks only made
// the products narrower and slower (measured: 4 MiB blocks ran the 16×16×1280 layer at 73 % of the
// plain sgemm rate, whole matrices at 97 %).
import Foundation

/// Convolution with square stride and zero padding, groups = 1, dilation = 1.
public enum Conv2D {
    /// Sizes of one convolution, derived from the input and weight shapes.
    public struct Geometry: Sendable, Equatable {
        public let batch: Int, inChannels: Int, inHeight: Int, inWidth: Int
        public let outChannels: Int, kernelHeight: Int, kernelWidth: Int
        public let stride: Int, padding: Int
        public let outHeight: Int, outWidth: Int

        /// Rows of the column matrix: one per (input channel, kernel row, kernel column).
        public var patchSize: Int { inChannels * kernelHeight * kernelWidth }
        public var outPlane: Int { outHeight * outWidth }
        public var inPlane: Int { inHeight * inWidth }
        /// True when the input itself serves as the column matrix.
        public var isPointwise: Bool { kernelHeight == 1 && kernelWidth == 1 && stride == 1 && padding == 0 }

        public init(input: [Int], weight: [Int], stride: Int, padding: Int) {
            precondition(input.count == 4 && weight.count == 4, "conv2d wants [N, C, H, W] and [Co, Ci, kh, kw], got \(input) and \(weight)")
            precondition(input[1] == weight[1], "conv2d: input has \(input[1]) channels, weight \(weight) expects \(weight[1])")
            precondition(stride >= 1 && padding >= 0, "conv2d: stride \(stride), padding \(padding)")
            batch = input[0]; inChannels = input[1]; inHeight = input[2]; inWidth = input[3]
            outChannels = weight[0]; kernelHeight = weight[2]; kernelWidth = weight[3]
            self.stride = stride; self.padding = padding
            outHeight = (inHeight + 2 * padding - kernelHeight) / stride + 1
            outWidth = (inWidth + 2 * padding - kernelWidth) / stride + 1
            precondition(outHeight > 0 && outWidth > 0, "conv2d: kernel \(weight) larger than padded input \(input)")
        }
    }

    /// Column matrices larger than this many floats (128 MiB: a 1024×1024 image's 3×3 layers at
    /// 320 channels) are processed in blocks of output rows.
    static let columnBlockFloats = 1 << 25

    /// How a convolution is computed.
    public enum Method: Sendable {
        /// The fastest of the three for the layer's shape (`fastestMethod(for:)`).
        case automatic
        case im2col
        /// Winograd F(2×2, 3×3) (WinogradConv); 3×3 stride-1 padding-1 layers only.
        case winograd2x2
        /// Winograd F(4×4, 3×3) (Winograd4x4Conv); 3×3 stride-1 padding-1 layers only.
        case winograd4x4
    }

    /// The method `automatic` picks, by measurement (`dbbench kernels --convolutions`, 2 cores, quiet
    /// machine): F(4×4) takes 0.30–0.36× im2col's time on SD 1.5's UNet and VAE layers from 32×32 planes
    /// up (F(2×2): 0.52–0.62×), 0.57× at 16×16 × 1280 (F(2×2): 0.94×) and 0.48–0.56× on TAESD's
    /// 64-channel layers; at 8×8 × 1280 both lose (2.2–2.3×), as the filter transform and the narrow
    /// products of few tiles dominate; below 64 input channels the transforms do. Few output channels
    /// favour F(4×4) most, as its input transform writes 2.25 floats per input value where im2col's
    /// column matrix writes 9: 0.33× im2col for TAESD's last layer (64 → 3 at 512×512), 0.32× the
    /// VAE's (128 → 3), 0.58× the UNet's (320 → 4 at 64×64), 0.55× the VAE encoder's (512 → 8).
    public static func fastestMethod(for g: Geometry) -> Method {
        WinogradConv.applies(to: g) && g.inChannels >= 64 && g.outPlane >= 16 * 16 ? .winograd4x4 : .im2col
    }

    /// x [N, Ci, H, W] ∗ weight [Co, Ci, kh, kw] + bias [Co] (+ the epilogue's terms) → [N, Co, Ho, Wo]
    public static func forward(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0,
                               method: Method = .automatic, epilogue: ConvolutionEpilogue = .none) -> Tensor {
        let g = Geometry(input: x.shape, weight: weight.shape, stride: stride, padding: padding)
        switch method == .automatic ? fastestMethod(for: g) : method {
        case .winograd2x2: return WinogradConv.forward(x, weight: weight, bias: bias, epilogue: epilogue)
        case .winograd4x4: return Winograd4x4Conv.forward(x, weight: weight, bias: bias, epilogue: epilogue)
        case .im2col, .automatic:
            return forward(x, weight: weight, bias: bias, stride: stride, padding: padding, columnBudget: columnBlockFloats, epilogue: epilogue)
        }
    }

    /// `forward` with an explicit column-block budget (tests use a small one to exercise blocking).
    static func forward(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int, columnBudget: Int,
                        epilogue: ConvolutionEpilogue = .none) -> Tensor {
        let g = Geometry(input: x.shape, weight: weight.shape, stride: stride, padding: padding)
        let out = Tensor(uninitialized: [g.batch, g.outChannels, g.outHeight, g.outWidth])
        if let bias {
            precondition(bias.count == g.outChannels, "conv2d: bias \(bias.shape) for \(g.outChannels) channels")
        }
        epilogue.validate(g)
        let imagesPerProduct = imagesSharingProducts(g, budget: columnBudget)
        if imagesPerProduct > 0 {
            forwardSharingProducts(x, weight: weight, bias: bias, g, imagesPerProduct: imagesPerProduct, epilogue: epilogue, into: out)
            return out
        }
        for n in 0..<g.batch {
            let image = x.pointer + n * g.inChannels * g.inPlane
            let result = out.pointer + n * g.outChannels * g.outPlane
            // Start from the bias, offsets and residual (or zero) and let every sgemm accumulate onto them.
            startingValues(g, sample: n, bias: bias, epilogue: epilogue, into: result, rowStride: g.outPlane)
            forEachColumnBlock(g, image: image, budget: columnBudget) { columns, firstRow, rows in
                MatMul.gemm(m: g.outChannels, n: rows * g.outWidth, k: g.patchSize,
                            a: weight.pointer, lda: g.patchSize,
                            b: columns, ldb: g.isPointwise ? g.outPlane : rows * g.outWidth,
                            beta: 1, c: result + firstRow * g.outWidth, ldc: g.outPlane)
            }
        }
        return out
    }

    /// Writes sample n's starting values — bias + channel offsets + residual, or zero — into its
    /// [Co, outPlane] block of rows `rowStride` apart: every sgemm then accumulates onto them (β = 1), so the
    /// epilogue costs no pass of its own and rounds the same way whichever path computes the products.
    static func startingValues(_ g: Geometry, sample n: Int, bias: Tensor?, epilogue: ConvolutionEpilogue,
                               into result: UnsafeMutablePointer<Float>, rowStride: Int) {
        epilogue.withChannelTerms(sample: n, bias: bias, outChannels: g.outChannels) { terms in
            let residual = epilogue.residual(sample: n, g)
            for c in 0..<g.outChannels {
                let term = terms?[c] ?? 0, row = result + c * rowStride
                if let residual {
                    let source = residual + c * g.outPlane
                    for i in 0..<g.outPlane { row[i] = source[i] + term }
                } else {
                    row.update(repeating: term, count: g.outPlane)
                }
            }
        }
    }

    /// Adds the gradients of `forward` into `gradInput` [N, Ci, H, W], `gradWeight` [Co, Ci, kh, kw]
    /// and `gradBias` [Co]; pass nil for any that is not needed.
    /// The input gradient of a 3×3 stride-1 layer is itself such a convolution, computed by `method`
    /// (automatic: the forward pass's choice for the adjoint's shape).
    public static func backward(
        gradOutput: Tensor, input: Tensor, weight: Tensor, stride: Int = 1, padding: Int = 0,
        gradInput: Tensor?, gradWeight: Tensor?, gradBias: Tensor?, method: Method = .automatic
    ) {
        let g = Geometry(input: input.shape, weight: weight.shape, stride: stride, padding: padding)
        var gradInput = gradInput
        if let dx = gradInput {
            let adjoint = Geometry(input: gradOutput.shape, weight: [g.inChannels, g.outChannels, g.kernelHeight, g.kernelWidth],
                                   stride: stride, padding: padding)
            switch method == .automatic && stride == 1 ? fastestMethod(for: adjoint) : method {
            case .winograd2x2: WinogradConv.backwardInput(gradOutput: gradOutput, weight: weight, gradInput: dx); gradInput = nil
            case .winograd4x4: Winograd4x4Conv.backwardInput(gradOutput: gradOutput, weight: weight, gradInput: dx); gradInput = nil
            case .im2col, .automatic: break
            }
        }
        precondition(gradOutput.shape == [g.batch, g.outChannels, g.outHeight, g.outWidth],
                     "conv2d: gradOutput \(gradOutput.shape) for output [\(g.batch), \(g.outChannels), \(g.outHeight), \(g.outWidth)]")
        if let gradBias {
            for n in 0..<g.batch {
                for c in 0..<g.outChannels {
                    let plane = gradOutput.pointer + (n * g.outChannels + c) * g.outPlane
                    var sum: Float = 0
                    for i in 0..<g.outPlane { sum += plane[i] }
                    gradBias.pointer[c] += sum
                }
            }
        }
        for n in 0..<g.batch {
            let image = input.pointer + n * g.inChannels * g.inPlane
            let gradOut = gradOutput.pointer + n * g.outChannels * g.outPlane
            if let gradWeight {
                // dW [Co, K] += dY_block [Co, cols] · col_blockᵀ [cols, K]
                forEachColumnBlock(g, image: image, budget: columnBlockFloats) { columns, firstRow, rows in
                    let cols = rows * g.outWidth
                    MatMul.gemm(transposeB: true, m: g.outChannels, n: g.patchSize, k: cols,
                                a: gradOut + firstRow * g.outWidth, lda: g.outPlane,
                                b: columns, ldb: g.isPointwise ? g.outPlane : cols,
                                beta: 1, c: gradWeight.pointer, ldc: g.patchSize)
                }
            }
            if let gradInput {
                let gradImage = gradInput.pointer + n * g.inChannels * g.inPlane
                if g.isPointwise {
                    // dX [Ci, HW] += Wᵀ [Ci, Co] · dY [Co, HW]
                    MatMul.gemm(transposeA: true, m: g.inChannels, n: g.outPlane, k: g.outChannels,
                                a: weight.pointer, lda: g.inChannels, b: gradOut, ldb: g.outPlane,
                                beta: 1, c: gradImage, ldc: g.outPlane)
                    continue
                }
                let rowsPerBlock = rowsPerColumnBlock(g, budget: columnBlockFloats)
                ScratchBuffers.shared.withBuffer(g.patchSize * rowsPerBlock * g.outWidth) { columns in
                    var firstRow = 0
                    while firstRow < g.outHeight {
                        let rows = min(rowsPerBlock, g.outHeight - firstRow)
                        let cols = rows * g.outWidth
                        // dcol [K, cols] = Wᵀ [K, Co] · dY_block [Co, cols], then fold back into dX.
                        MatMul.gemm(transposeA: true, m: g.patchSize, n: cols, k: g.outChannels,
                                    a: weight.pointer, lda: g.patchSize,
                                    b: gradOut + firstRow * g.outWidth, ldb: g.outPlane,
                                    c: columns, ldc: cols)
                        foldColumns(g, columns: columns, firstRow: firstRow, rows: rows, into: gradImage)
                        firstRow += rows
                    }
                }
            }
        }
    }

    // MARK: Unfolding

    static func rowsPerColumnBlock(_ g: Geometry, budget: Int) -> Int {
        max(1, min(g.outHeight, budget / max(g.patchSize * g.outWidth, 1)))
    }

    /// Calls `body(columns, firstRow, rows)` for consecutive blocks of output rows, with the column
    /// matrix of that block (row stride rows·Wo; for pointwise convolutions the input image itself,
    /// row stride H·W, in one block).
    static func forEachColumnBlock(
        _ g: Geometry, image: UnsafePointer<Float>, budget: Int,
        _ body: (UnsafePointer<Float>, _ firstRow: Int, _ rows: Int) -> Void
    ) {
        if g.isPointwise {
            body(image, 0, g.outHeight)
            return
        }
        let rowsPerBlock = rowsPerColumnBlock(g, budget: budget)
        ScratchBuffers.shared.withBuffer(g.patchSize * rowsPerBlock * g.outWidth) { columns in
            var firstRow = 0
            while firstRow < g.outHeight {
                let rows = min(rowsPerBlock, g.outHeight - firstRow)
                unfold(g, image: image, firstRow: firstRow, rows: rows, into: columns)
                body(columns, firstRow, rows)
                firstRow += rows
            }
        }
    }

    /// col[(c, ky, kx), (oy − firstRow)·Wo + ox] = x[c, oy·s − p + ky, ox·s − p + kx] (0 outside); the
    /// column matrix's rows lie `rowStride` floats apart (default: rows·Wo, a matrix of its own).
    static func unfold(_ g: Geometry, image: UnsafePointer<Float>, firstRow: Int, rows: Int, into columns: UnsafeMutablePointer<Float>,
                       rowStride: Int? = nil) {
        let cols = rows * g.outWidth, stride = rowStride ?? cols
        let kernelArea = g.kernelHeight * g.kernelWidth
        ThreadPool.shared.parallelFor(g.inChannels, grain: max(1, 8192 / max(cols, 1))) { channels in
            for c in channels {
                let plane = image + c * g.inPlane
                for ky in 0..<g.kernelHeight {
                    for kx in 0..<g.kernelWidth {
                        let row = columns + (c * kernelArea + ky * g.kernelWidth + kx) * stride
                        let (first, last) = validColumns(g, kernelOffset: kx)
                        for r in 0..<rows {
                            let dst = row + r * g.outWidth
                            let iy = (firstRow + r) * g.stride - g.padding + ky
                            guard iy >= 0 && iy < g.inHeight, first < last else {
                                dst.update(repeating: 0, count: g.outWidth)
                                continue
                            }
                            let src = plane + iy * g.inWidth
                            if first > 0 { dst.update(repeating: 0, count: first) }
                            if g.stride == 1 {
                                (dst + first).update(from: src + (first - g.padding + kx), count: last - first)
                            } else {
                                for ox in first..<last { dst[ox] = src[ox * g.stride - g.padding + kx] }
                            }
                            if last < g.outWidth { (dst + last).update(repeating: 0, count: g.outWidth - last) }
                        }
                    }
                }
            }
        }
    }

    /// Adds a column-matrix gradient back onto the image it was unfolded from (the adjoint of `unfold`).
    /// Parallel over channels: each channel's rows touch only that channel's plane.
    static func foldColumns(_ g: Geometry, columns: UnsafePointer<Float>, firstRow: Int, rows: Int, into image: UnsafeMutablePointer<Float>) {
        let cols = rows * g.outWidth
        let kernelArea = g.kernelHeight * g.kernelWidth
        ThreadPool.shared.parallelFor(g.inChannels, grain: max(1, 8192 / max(cols, 1))) { channels in
            for c in channels {
                let plane = image + c * g.inPlane
                for ky in 0..<g.kernelHeight {
                    for kx in 0..<g.kernelWidth {
                        let row = columns + (c * kernelArea + ky * g.kernelWidth + kx) * cols
                        let (first, last) = validColumns(g, kernelOffset: kx)
                        for r in 0..<rows {
                            let iy = (firstRow + r) * g.stride - g.padding + ky
                            guard iy >= 0 && iy < g.inHeight else { continue }
                            let src = row + r * g.outWidth
                            let dst = plane + iy * g.inWidth
                            for ox in first..<last { dst[ox * g.stride - g.padding + kx] += src[ox] }
                        }
                    }
                }
            }
        }
    }

    /// Output columns ox whose input column ox·s − p + kx lies inside the image: [first, last).
    @inline(__always)
    static func validColumns(_ g: Geometry, kernelOffset kx: Int) -> (Int, Int) {
        // ox·s − p + kx ≥ 0  ⇔  ox ≥ ⌈(p − kx)/s⌉ ;  ox·s − p + kx ≤ W − 1  ⇔  ox ≤ ⌊(W − 1 + p − kx)/s⌋
        let lowNumerator = g.padding - kx
        let first = lowNumerator <= 0 ? 0 : (lowNumerator + g.stride - 1) / g.stride
        let highNumerator = g.inWidth - 1 + g.padding - kx
        let last = highNumerator < 0 ? 0 : min(g.outWidth, highNumerator / g.stride + 1)
        return (min(first, g.outWidth), max(min(first, g.outWidth), last))
    }
}
