// Element-wise arithmetic and the layout ops around it, forward and backward: add (same shape, or a
// per-channel [N, C] vector over [N, C, ...] — ResnetBlock2D's `h + temb[:, :, None, None]` — or a
// [C] bias over the last dimension), in-place accumulate (residual connections), multiply, scale by a
// scalar, concatenation along an axis (torch.cat of UNet skip connections) and splitting along an
// axis (torch.split / torch.chunk). Semantics follow PyTorch; backward adds into given gradients.
import Foundation

// MARK: - Add

/// a + b, with the broadcasts the UNet needs.
public enum Add {
    /// How `b` is laid over `a`.
    public enum Broadcast: Sendable {
        /// `b` has a's shape.
        case none
        /// `a` is [N, C, ...] and `b` is [N, C]: b[n, c] is added at every position of channel c of
        /// sample n (the time embedding in ResnetBlock2D).
        case perChannel
        /// `a` is [..., C] and `b` is [C]: added to every row (a bias over the last dimension).
        case lastDimension
    }

    /// a + b as a new tensor of a's shape.
    public static func forward(_ a: Tensor, _ b: Tensor, broadcast: Broadcast = .none) -> Tensor {
        let output = Tensor(uninitialized: a.shape)
        add(a, b, into: output, broadcast: broadcast)
        return output
    }

    /// a ← a + b, in place (residual connections, summing gradient contributions). The gradients are
    /// those of `forward`: use `backward` with the same broadcast.
    public static func accumulate(_ b: Tensor, into a: Tensor, broadcast: Broadcast = .none) {
        add(a, b, into: a, broadcast: broadcast)
    }

    /// gradA (a's shape) += gradOutput; gradB (b's shape) += gradOutput summed over the broadcast
    /// positions. Either may be nil.
    public static func backward(gradOutput: Tensor, broadcast: Broadcast = .none, gradA: Tensor?, gradB: Tensor?) {
        if let gradA {
            checkSameCount("add backward", gradA, gradOutput, "gradA", "gradOutput")
            accumulateVectors(gradOutput.pointer, gradOutput.pointer, into: gradA.pointer, count: gradA.count) { g, _ in g }
        }
        guard let gradB else { return }
        let (rows, rowLength) = layout(gradOutput, gradB, broadcast: broadcast, op: "add backward")
        let gp = gradOutput.pointer, gbp = gradB.pointer
        switch broadcast {
        case .none:
            accumulateVectors(gp, gp, into: gbp, count: gradB.count) { g, _ in g }
        case .perChannel:
            // Each (n, c) row of positions sums into its own gradB[n, c].
            ThreadPool.shared.parallelFor(rows, grain: max(1, pointwiseGrain / max(rowLength, 1))) { range in
                for row in range { gbp[row] += sum(gp + row * rowLength, count: rowLength) }
            }
        case .lastDimension:
            // Every row sums into the same [C]: serial over rows (a memory-bound pass, vectorised).
            for row in 0..<rows {
                accumulateVectors(gp + row * rowLength, gp + row * rowLength, into: gbp, count: rowLength) { g, _ in g }
            }
        }
    }

    /// output = a + b (output may be a).
    private static func add(_ a: Tensor, _ b: Tensor, into output: Tensor, broadcast: Broadcast) {
        let (rows, rowLength) = layout(a, b, broadcast: broadcast, op: "add")
        let ap = a.pointer, bp = b.pointer, yp = output.pointer
        switch broadcast {
        case .none:
            ThreadPool.shared.parallelFor((a.count + 7) / 8, grain: pointwiseGrain / 8) { vectors in
                let start = vectors.lowerBound * 8, end = min(vectors.upperBound * 8, a.count)
                var i = start
                while i + 8 <= end { store8(load8(ap + i) + load8(bp + i), yp + i); i += 8 }
                while i < end { yp[i] = ap[i] + bp[i]; i += 1 }
            }
        case .perChannel:
            ThreadPool.shared.parallelFor(rows, grain: max(1, pointwiseGrain / max(rowLength, 1))) { range in
                for row in range {
                    let x = ap + row * rowLength, y = yp + row * rowLength
                    let v = bp[row], vv = SIMD8<Float>(repeating: v)
                    var i = 0
                    while i + 8 <= rowLength { store8(load8(x + i) + vv, y + i); i += 8 }
                    while i < rowLength { y[i] = x[i] + v; i += 1 }
                }
            }
        case .lastDimension:
            ThreadPool.shared.parallelFor(rows, grain: max(1, pointwiseGrain / max(rowLength, 1))) { range in
                for row in range {
                    let x = ap + row * rowLength, y = yp + row * rowLength
                    var i = 0
                    while i + 8 <= rowLength { store8(load8(x + i) + load8(bp + i), y + i); i += 8 }
                    while i < rowLength { y[i] = x[i] + bp[i]; i += 1 }
                }
            }
        }
    }

    /// a viewed as [rows, rowLength] so that b broadcasts per row (perChannel) or per column
    /// (lastDimension); checks the shapes.
    private static func layout(_ a: Tensor, _ b: Tensor, broadcast: Broadcast, op: String) -> (rows: Int, rowLength: Int) {
        switch broadcast {
        case .none:
            precondition(a.shape == b.shape, "\(op): shapes \(a.shape) and \(b.shape) differ")
            return (1, a.count)
        case .perChannel:
            precondition(a.rank >= 2 && b.shape == Array(a.shape.prefix(2)),
                         "\(op): per-channel vector \(b.shape) does not match [N, C] of \(a.shape)")
            let rows = a.shape[0] * a.shape[1]
            return (rows, rows == 0 ? 0 : a.count / rows)
        case .lastDimension:
            precondition(a.rank >= 1 && b.shape == [a.shape[a.rank - 1]],
                         "\(op): bias \(b.shape) does not match the last dimension of \(a.shape)")
            let c = a.shape[a.rank - 1]
            return (c == 0 ? 0 : a.count / c, c)
        }
    }

    /// Σ p[0..<count] (Float lanes; rows here are at most a few thousand long).
    private static func sum(_ p: UnsafePointer<Float>, count: Int) -> Float {
        var s = SIMD8<Float>()
        var i = 0
        while i + 8 <= count { s += load8(p + i); i += 8 }
        var total = s.sum()
        while i < count { total += p[i]; i += 1 }
        return total
    }
}

// MARK: - Multiply

/// a ⊙ b for tensors of the same shape.
public enum Multiply {
    /// a ⊙ b as a new tensor.
    public static func forward(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.shape == b.shape, "multiply: shapes \(a.shape) and \(b.shape) differ")
        let output = Tensor(uninitialized: a.shape)
        let ap = a.pointer, bp = b.pointer, yp = output.pointer
        ThreadPool.shared.parallelFor((a.count + 7) / 8, grain: pointwiseGrain / 8) { vectors in
            let start = vectors.lowerBound * 8, end = min(vectors.upperBound * 8, a.count)
            var i = start
            while i + 8 <= end { store8(load8(ap + i) * load8(bp + i), yp + i); i += 8 }
            while i < end { yp[i] = ap[i] * bp[i]; i += 1 }
        }
        return output
    }

    /// gradA += gradOutput ⊙ b, gradB += gradOutput ⊙ a (either may be nil).
    public static func backward(gradOutput: Tensor, a: Tensor, b: Tensor, gradA: Tensor?, gradB: Tensor?) {
        precondition(a.shape == b.shape && gradOutput.shape == a.shape,
                     "multiply backward: gradOutput \(gradOutput.shape), a \(a.shape), b \(b.shape)")
        if let gradA {
            checkSameCount("multiply backward", gradA, a, "gradA", "a")
            accumulateVectors(b.pointer, gradOutput.pointer, into: gradA.pointer, count: a.count) { b, g in g * b }
        }
        if let gradB {
            checkSameCount("multiply backward", gradB, b, "gradB", "b")
            accumulateVectors(a.pointer, gradOutput.pointer, into: gradB.pointer, count: b.count) { a, g in g * a }
        }
    }
}

// MARK: - Scale

/// s · x for a scalar s (attention's 1/√d, the VAE's latent scale, loss weights).
public enum Scale {
    /// s · x as a new tensor.
    public static func forward(_ x: Tensor, by s: Float) -> Tensor {
        let output = Tensor(uninitialized: x.shape)
        let v = SIMD8<Float>(repeating: s)
        mapVectors(x.pointer, output.pointer, count: x.count) { $0 * v }
        return output
    }

    /// x ← s · x.
    public static func forwardInPlace(_ x: Tensor, by s: Float) {
        let v = SIMD8<Float>(repeating: s)
        mapVectors(x.pointer, x.pointer, count: x.count) { $0 * v }
    }

    /// gradInput += s · gradOutput.
    public static func backward(gradOutput: Tensor, by s: Float, gradInput: Tensor) {
        checkSameCount("scale backward", gradInput, gradOutput, "gradInput", "gradOutput")
        let v = SIMD8<Float>(repeating: s)
        accumulateVectors(gradOutput.pointer, gradOutput.pointer, into: gradInput.pointer, count: gradInput.count) { g, _ in g * v }
    }
}

// MARK: - Concatenate and split

/// Moves blocks between a whole tensor and its parts along one axis. With `outer` = the product of
/// the sizes before the axis and `inner` = the product after it, part k (extent e_k at offset o_k on
/// the axis) is `outer` runs of e_k·inner contiguous floats, which sit at o_k·inner inside each run
/// of E·inner floats of the whole.
private struct AxisLayout {
    let axis: Int, outer: Int, inner: Int, wholeExtent: Int

    init(shape: [Int], axis requested: Int, op: String) {
        let axis = requested < 0 ? requested + shape.count : requested
        precondition(axis >= 0 && axis < shape.count, "\(op): axis \(requested) out of range for \(shape)")
        self.axis = axis
        outer = shape[..<axis].reduce(1, *)
        inner = shape[(axis + 1)...].reduce(1, *)
        wholeExtent = shape[axis]
    }

    enum Direction { case partToWhole, wholeToPart }

    /// Copies (or, with `add`, adds) part `part` of extent `extent` at axis offset `offset`.
    func transfer(_ direction: Direction, whole: UnsafeMutablePointer<Float>, part: UnsafeMutablePointer<Float>,
                  offset: Int, extent: Int, add: Bool) {
        let run = extent * inner
        for o in 0..<outer {
            let w = whole + (o * wholeExtent + offset) * inner, p = part + o * run
            let (source, target) = direction == .partToWhole ? (p, w) : (w, p)
            if add {
                accumulateVectors(source, source, into: target, count: run) { s, _ in s }
            } else {
                target.update(from: source, count: run)
            }
        }
    }
}

/// torch.cat along an axis.
public enum Concat {
    /// Joins `parts` (same rank, same sizes except on `axis`; negative axes count from the end).
    public static func forward(_ parts: [Tensor], axis: Int) -> Tensor {
        precondition(!parts.isEmpty, "concat: no tensors")
        let first = parts[0].shape
        let layout0 = AxisLayout(shape: first, axis: axis, op: "concat")
        var shape = first
        shape[layout0.axis] = 0
        for part in parts {
            precondition(part.rank == first.count && first.indices.allSatisfy { $0 == layout0.axis || part.shape[$0] == first[$0] },
                         "concat along axis \(axis): \(part.shape) does not fit \(first)")
            shape[layout0.axis] += part.shape[layout0.axis]
        }
        let output = Tensor(uninitialized: shape)
        let layout = AxisLayout(shape: shape, axis: axis, op: "concat")
        var offset = 0
        for part in parts {
            let extent = part.shape[layout.axis]
            layout.transfer(.partToWhole, whole: output.pointer, part: part.pointer, offset: offset, extent: extent, add: false)
            offset += extent
        }
        return output
    }

    /// Adds each slice of `gradOutput` along `axis` into the matching `gradInputs` entry (nil entries
    /// are skipped; their extents are still counted, so pass one entry per forward part).
    public static func backward(gradOutput: Tensor, axis: Int, gradInputs: [Tensor?], extents: [Int]) {
        let layout = AxisLayout(shape: gradOutput.shape, axis: axis, op: "concat backward")
        precondition(gradInputs.count == extents.count && extents.reduce(0, +) == layout.wholeExtent,
                     "concat backward: extents \(extents) do not add up to axis \(axis) of \(gradOutput.shape)")
        var offset = 0
        for (gradInput, extent) in zip(gradInputs, extents) {
            if let gradInput {
                precondition(gradInput.count == layout.outer * extent * layout.inner,
                             "concat backward: gradInput \(gradInput.shape) for extent \(extent) of \(gradOutput.shape)")
                layout.transfer(.wholeToPart, whole: gradOutput.pointer, part: gradInput.pointer, offset: offset, extent: extent, add: true)
            }
            offset += extent
        }
    }

    /// Adds each slice of `gradOutput` into the matching entry of `gradInputs` (all present).
    public static func backward(gradOutput: Tensor, axis: Int, gradInputs: [Tensor]) {
        let layout = AxisLayout(shape: gradOutput.shape, axis: axis, op: "concat backward")
        backward(gradOutput: gradOutput, axis: axis, gradInputs: gradInputs,
                 extents: gradInputs.map { $0.shape[layout.axis] })
    }
}

/// torch.split / torch.chunk along an axis. The parts are copies (contiguous tensors).
public enum Split {
    /// Parts of `x` with the given extents along `axis` (they must add up to x's size there).
    public static func forward(_ x: Tensor, sizes: [Int], axis: Int) -> [Tensor] {
        let layout = AxisLayout(shape: x.shape, axis: axis, op: "split")
        precondition(sizes.allSatisfy { $0 >= 0 } && sizes.reduce(0, +) == layout.wholeExtent,
                     "split: sizes \(sizes) do not add up to axis \(axis) of \(x.shape)")
        var offset = 0
        return sizes.map { extent in
            var shape = x.shape
            shape[layout.axis] = extent
            let part = Tensor(uninitialized: shape)
            layout.transfer(.wholeToPart, whole: x.pointer, part: part.pointer, offset: offset, extent: extent, add: false)
            offset += extent
            return part
        }
    }

    /// `chunks` equal parts along `axis` (torch.chunk when the size divides evenly; required here).
    public static func forward(_ x: Tensor, chunks: Int, axis: Int) -> [Tensor] {
        let layout = AxisLayout(shape: x.shape, axis: axis, op: "chunk")
        precondition(chunks > 0 && layout.wholeExtent % chunks == 0,
                     "chunk: axis \(axis) of \(x.shape) does not split into \(chunks) equal parts")
        return forward(x, sizes: Array(repeating: layout.wholeExtent / chunks, count: chunks), axis: axis)
    }

    /// Adds each part's gradient into its slice of `gradInput` (x's shape). A nil entry (a part whose
    /// gradient is zero) is skipped; its extent along `axis` is given by `sizes`.
    public static func backward(gradOutputs: [Tensor?], sizes: [Int], axis: Int, gradInput: Tensor) {
        let layout = AxisLayout(shape: gradInput.shape, axis: axis, op: "split backward")
        precondition(gradOutputs.count == sizes.count && sizes.reduce(0, +) == layout.wholeExtent,
                     "split backward: sizes \(sizes) do not add up to axis \(axis) of \(gradInput.shape)")
        var offset = 0
        for (gradOutput, extent) in zip(gradOutputs, sizes) {
            if let gradOutput {
                precondition(gradOutput.count == layout.outer * extent * layout.inner,
                             "split backward: gradOutput \(gradOutput.shape) for extent \(extent) of \(gradInput.shape)")
                layout.transfer(.partToWhole, whole: gradInput.pointer, part: gradOutput.pointer, offset: offset, extent: extent, add: true)
            }
            offset += extent
        }
    }

    /// Adds each part's gradient (all present) into its slice of `gradInput`.
    public static func backward(gradOutputs: [Tensor], axis: Int, gradInput: Tensor) {
        let layout = AxisLayout(shape: gradInput.shape, axis: axis, op: "split backward")
        backward(gradOutputs: gradOutputs, sizes: gradOutputs.map { $0.shape[layout.axis] }, axis: axis, gradInput: gradInput)
    }
}
