// LoRAs applied per batch row, without merging them into the weights. A batched UNet (or text-encoder)
// call may hold rows of several requests, each with its own LoRAs — or none. Every linear layer and
// 1×1 convolution computes its base product for the whole batch as always, then, for each row whose
// LoRAs adapt that layer, adds weight · scale · (x·Aᵀ)·Bᵀ for that row alone. The base weights stay
// memory-mapped and shared; a row's result does not depend on which other rows share the call (each
// row's low-rank product has the same shapes whatever the batch), so an image is the same bytes alone
// or batched.
//
// Which LoRAs apply is set for the duration of one network call with `RowAdapters.$current.withValue`
// (a task-local value: the layers read it on the calling thread), so the networks' call signatures stay
// as diffusers' are.
import Tensor
import Weights

/// The LoRAs of each row of one batched network call.
public struct RowAdapters: Sendable {
    /// One LoRA as a row uses it: the updates of the network being called, and the request's weight.
    public struct Adapter: Sendable {
        public let updates: [String: LowRankUpdate]
        public let weight: Float

        public init(updates: [String: LowRankUpdate], weight: Float) {
            self.updates = updates
            self.weight = weight
        }
    }

    /// rows[r]: the LoRAs applied to batch row r, in order.
    public let rows: [[Adapter]]

    public init(rows: [[Adapter]]) { self.rows = rows }

    /// True when no row has any LoRA (the call runs as without adapters).
    public var isEmpty: Bool { rows.allSatisfy(\.isEmpty) }

    /// The adapters of the network call running on this thread; nil outside one.
    @TaskLocal public static var current: RowAdapters?

    /// Adds the updates of `module` to `output`, row by row. The rows are the leading dimension of
    /// `input` and `output`; each row's part is `perRowInput` × `inFeatures` (channels last) when
    /// `channelsFirst` is false, else `inFeatures` × `positions` (a 1×1 convolution's NCHW row).
    func apply(module: String, input: Tensor, output: Tensor, inFeatures: Int, outFeatures: Int, channelsFirst: Bool) {
        guard rows.contains(where: { row in row.contains { $0.updates[module] != nil } }) else { return }
        precondition(input.count % rows.count == 0 && output.count % rows.count == 0,
                     "\(module): a batch of \(input.shape) does not split into \(rows.count) rows")
        let inputPerRow = input.count / rows.count, outputPerRow = output.count / rows.count
        let positions = inputPerRow / inFeatures
        for (r, adapters) in rows.enumerated() {
            let x = input.pointer + r * inputPerRow, y = output.pointer + r * outputPerRow
            for adapter in adapters {
                guard let update = adapter.updates[module] else { continue }
                let rank = update.rank
                let hidden = Tensor(uninitialized: [positions * rank])
                let factor = adapter.weight * update.scale
                if channelsFirst {
                    // h [r, P] = A [r, in] · x [in, P];  y [out, P] += f · B [out, r] · h
                    MatMul.gemm(m: rank, n: positions, k: inFeatures, a: update.down.pointer, lda: inFeatures,
                                b: x, ldb: positions, c: hidden.pointer, ldc: positions)
                    MatMul.gemm(m: outFeatures, n: positions, k: rank, alpha: factor, a: update.up.pointer, lda: rank,
                                b: hidden.pointer, ldb: positions, beta: 1, c: y, ldc: positions)
                } else {
                    // h [P, r] = x [P, in] · Aᵀ;  y [P, out] += f · h · Bᵀ
                    MatMul.gemm(transposeB: true, m: positions, n: rank, k: inFeatures, a: x, lda: inFeatures,
                                b: update.down.pointer, ldb: inFeatures, c: hidden.pointer, ldc: rank)
                    MatMul.gemm(transposeB: true, m: positions, n: outFeatures, k: rank, alpha: factor, a: hidden.pointer, lda: rank,
                                b: update.up.pointer, ldb: rank, beta: 1, c: y, ldc: outFeatures)
                }
            }
        }
    }

    /// Adds the updates of a k×k convolution `module` (k > 1) to `output`, row by row: A is a k×k
    /// convolution of the layer's stride and padding into `rank` channels, B a 1×1 convolution back
    /// (LoCon; what LCM-LoRAs put on the resnets). Inference only: training adapts linear layers.
    func applyConvolution(module: String, input: Tensor, output: Tensor, stride: Int, padding: Int) {
        guard rows.contains(where: { row in row.contains { $0.updates[module] != nil } }) else { return }
        let outputPerRow = output.count / rows.count, positions = outputPerRow / output.shape[1]
        for (r, adapters) in rows.enumerated() {
            let x = input.slice(r..<(r + 1)), y = output.pointer + r * outputPerRow
            for adapter in adapters {
                guard let update = adapter.updates[module] else { continue }
                let hidden = Conv2D.forward(x, weight: update.downKernel, bias: nil, stride: stride, padding: padding)  // [1, r, Ho, Wo]
                precondition(hidden.count == update.rank * positions, "\(module): LoRA output \(hidden.shape) vs layer output \(output.shape)")
                MatMul.gemm(m: update.outFeatures, n: positions, k: update.rank, alpha: adapter.weight * update.scale,
                            a: update.up.pointer, lda: update.rank, b: hidden.pointer, ldb: positions, beta: 1, c: y, ldc: positions)
            }
        }
    }

    /// The pullback of `apply`: adds dx += f·(dy·B)·A into `gradInput`, and dB += f·dyᵀ·(x·Aᵀ),
    /// dA += f·(dy·B)ᵀ·x into the gradients `arena` keeps for each factor (factors outside the arena
    /// get none). Rows are visited in order, so the sums over rows do not depend on the thread count.
    func pullback(module: String, input: Tensor, gradOutput: Tensor, gradInput: Tensor, inFeatures: Int, outFeatures: Int,
                  channelsFirst: Bool, arena: ParameterArena?) {
        guard rows.contains(where: { row in row.contains { $0.updates[module] != nil } }) else { return }
        let inputPerRow = input.count / rows.count, outputPerRow = gradOutput.count / rows.count
        let positions = inputPerRow / inFeatures
        for (r, adapters) in rows.enumerated() {
            let x = input.pointer + r * inputPerRow, dy = gradOutput.pointer + r * outputPerRow
            let dx = gradInput.pointer + r * inputPerRow
            for adapter in adapters {
                guard let update = adapter.updates[module] else { continue }
                let rank = update.rank, factor = adapter.weight * update.scale
                let a = update.down.pointer, b = update.up.pointer
                let dA = arena?.gradient(of: update.down), dB = arena?.gradient(of: update.up)
                let hidden = Tensor(uninitialized: [positions * rank]), gradHidden = Tensor(uninitialized: [positions * rank])
                if channelsFirst {
                    // h [r, P] = A·x;  g [r, P] = f·Bᵀ·dy
                    MatMul.gemm(m: rank, n: positions, k: inFeatures, a: a, lda: inFeatures, b: x, ldb: positions,
                                c: hidden.pointer, ldc: positions)
                    MatMul.gemm(transposeA: true, m: rank, n: positions, k: outFeatures, alpha: factor, a: b, lda: rank,
                                b: dy, ldb: positions, c: gradHidden.pointer, ldc: positions)
                    if let dB {  // dB [out, r] += f·dy·hᵀ
                        MatMul.gemm(transposeB: true, m: outFeatures, n: rank, k: positions, alpha: factor, a: dy, lda: positions,
                                    b: hidden.pointer, ldb: positions, beta: 1, c: dB.pointer, ldc: rank)
                    }
                    if let dA {  // dA [r, in] += g·xᵀ
                        MatMul.gemm(transposeB: true, m: rank, n: inFeatures, k: positions, a: gradHidden.pointer, lda: positions,
                                    b: x, ldb: positions, beta: 1, c: dA.pointer, ldc: inFeatures)
                    }
                    // dx [in, P] += Aᵀ·g
                    MatMul.gemm(transposeA: true, m: inFeatures, n: positions, k: rank, a: a, lda: inFeatures,
                                b: gradHidden.pointer, ldb: positions, beta: 1, c: dx, ldc: positions)
                } else {
                    // h [P, r] = x·Aᵀ;  g [P, r] = f·dy·B
                    MatMul.gemm(transposeB: true, m: positions, n: rank, k: inFeatures, a: x, lda: inFeatures,
                                b: a, ldb: inFeatures, c: hidden.pointer, ldc: rank)
                    MatMul.gemm(m: positions, n: rank, k: outFeatures, alpha: factor, a: dy, lda: outFeatures,
                                b: b, ldb: rank, c: gradHidden.pointer, ldc: rank)
                    if let dB {  // dB [out, r] += f·dyᵀ·h
                        MatMul.gemm(transposeA: true, m: outFeatures, n: rank, k: positions, alpha: factor, a: dy, lda: outFeatures,
                                    b: hidden.pointer, ldb: rank, beta: 1, c: dB.pointer, ldc: rank)
                    }
                    if let dA {  // dA [r, in] += gᵀ·x
                        MatMul.gemm(transposeA: true, m: rank, n: inFeatures, k: positions, a: gradHidden.pointer, lda: rank,
                                    b: x, ldb: inFeatures, beta: 1, c: dA.pointer, ldc: inFeatures)
                    }
                    // dx [P, in] += g·A
                    MatMul.gemm(m: positions, n: inFeatures, k: rank, a: gradHidden.pointer, lda: rank,
                                b: a, ldb: inFeatures, beta: 1, c: dx, ldc: inFeatures)
                }
            }
        }
    }
}
