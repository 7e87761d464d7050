// Tensor: a contiguous, row-major fp32 array with a shape. Reshapes and first-axis slices are views
// that share storage; everything else that changes layout copies.
import Foundation

/// A contiguous row-major fp32 tensor.
///
/// Values are reached through `pointer`; the struct itself is a cheap handle (storage + offset +
/// shape). Two handles may view the same floats: writes through one are seen through the other.
public struct Tensor: @unchecked Sendable {
    /// The memory this tensor views.
    public let storage: TensorStorage
    /// Index of the first element inside `storage`.
    public let offset: Int
    /// Sizes, outermost first (`[N, C, H, W]` for images, `[B, T, C]` for token sequences).
    public let shape: [Int]

    /// Number of elements (product of the shape).
    public var count: Int { shape.reduce(1, *) }
    /// Number of dimensions.
    public var rank: Int { shape.count }
    /// First element.
    public var pointer: UnsafeMutablePointer<Float> { storage.base + offset }
    /// A buffer over all elements, for loops that want bounds in debug builds.
    public var buffer: UnsafeMutableBufferPointer<Float> { .init(start: pointer, count: count) }

    // MARK: Creation

    /// A zero-filled tensor.
    public init(zeros shape: [Int]) {
        let n = Tensor.elementCount(shape)
        self.storage = TensorStorage(count: n)
        self.offset = 0
        self.shape = shape
    }

    /// A tensor whose values are unspecified: for outputs that an op overwrites completely.
    public init(uninitialized shape: [Int]) {
        self.storage = TensorStorage(count: Tensor.elementCount(shape), zeroed: false)
        self.offset = 0
        self.shape = shape
    }

    /// A tensor filled with `value`.
    public init(shape: [Int], repeating value: Float) {
        self.init(zeros: shape)
        if value != 0 { buffer.update(repeating: value) }
    }

    /// A tensor holding `values` (row-major); `values.count` must equal the shape's element count.
    public init(shape: [Int], values: [Float]) {
        precondition(values.count == Tensor.elementCount(shape),
                     "\(values.count) values do not fill shape \(shape)")
        self.init(zeros: shape)
        _ = buffer.update(fromContentsOf: values)
    }

    /// A view of existing storage.
    public init(storage: TensorStorage, offset: Int = 0, shape: [Int]) {
        precondition(offset >= 0 && offset + Tensor.elementCount(shape) <= storage.count,
                     "view \(shape) at offset \(offset) exceeds storage of \(storage.count) floats")
        self.storage = storage
        self.offset = offset
        self.shape = shape
    }

    /// Product of a shape's sizes; traps on negative sizes or overflow (programmer errors).
    public static func elementCount(_ shape: [Int]) -> Int {
        var n = 1
        for d in shape {
            precondition(d >= 0, "negative dimension in shape \(shape)")
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            precondition(!overflow, "shape \(shape) overflows Int")
            n = p
        }
        return n
    }

    // MARK: Views

    /// The same floats with another shape. One dimension may be -1 (inferred).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var resolved = newShape
        if let hole = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != hole }.map(\.element).reduce(1, *)
            precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
            resolved[hole] = count / known
        }
        precondition(Tensor.elementCount(resolved) == count, "cannot reshape \(shape) to \(newShape)")
        return Tensor(storage: storage, offset: offset, shape: resolved)
    }

    /// Rows `range` of the first axis, as a view.
    public func slice(_ range: Range<Int>) -> Tensor {
        precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0],
                     "slice \(range) out of bounds for shape \(shape)")
        let inner = count / max(shape[0], 1)
        var s = shape
        s[0] = range.count
        return Tensor(storage: storage, offset: offset + range.lowerBound * inner, shape: s)
    }

    /// Row `index` of the first axis, as a view with that axis removed.
    public subscript(index: Int) -> Tensor {
        slice(index..<(index + 1)).reshaped(Array(shape.dropFirst()))
    }

    // MARK: Copies and values

    /// A new tensor with its own storage and the same values.
    public func copy() -> Tensor {
        let out = Tensor(zeros: shape)
        out.pointer.update(from: pointer, count: count)
        return out
    }

    /// Copies `source` (same element count) into this tensor.
    public func assign(_ source: Tensor) {
        precondition(source.count == count, "assign: \(source.shape) into \(shape)")
        pointer.update(from: source.pointer, count: count)
    }

    /// Sets every element to zero (gradient buffers are zeroed explicitly, as in llm.c).
    public func zero() {
        pointer.update(repeating: 0, count: count)
    }

    /// All values, row-major.
    public var scalars: [Float] { Array(buffer) }

    /// Value at a multi-dimensional index (slow; for tests and debugging).
    public subscript(index: [Int]) -> Float {
        get { pointer[flatIndex(index)] }
        nonmutating set { pointer[flatIndex(index)] = newValue }
    }

    private func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == rank, "index \(index) for shape \(shape)")
        var flat = 0
        for (i, d) in zip(index, shape) {
            precondition(i >= 0 && i < d, "index \(index) out of bounds for shape \(shape)")
            flat = flat * d + i
        }
        return flat
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = buffer.prefix(6).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor(\(shape), [\(head)\(count > 6 ? ", …" : "")])"
    }
}
