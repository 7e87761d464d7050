// The memory behind a tensor: either our own 64-byte-aligned allocation, or a borrowed region
// (for example a memory-mapped safetensors file) kept alive by an owner object.
import Foundation

/// A block of fp32 values. Tensors share storage: reshapes and first-axis slices are views.
///
/// Storage has reference semantics on purpose (as in PyTorch and llm.c): a layer writes its
/// output into a buffer, and the backward pass *adds* into gradient buffers that many views share.
public final class TensorStorage: @unchecked Sendable {
    /// First element. Valid for `count` floats for the lifetime of this object.
    public let base: UnsafeMutablePointer<Float>
    /// Number of floats.
    public let count: Int
    /// Keeps borrowed memory (a mapping) alive; nil for our own allocations.
    private let owner: AnyObject?

    /// Alignment of our own allocations: one cache line, so that SIMD loads never split one.
    public static let alignment = 64

    /// Allocates `count` floats, zero-filled unless `zeroed` is false (for outputs that are
    /// fully overwritten, where clearing megabytes first would only cost time).
    public init(count: Int, zeroed: Bool = true) {
        precondition(count >= 0, "negative tensor size")
        var raw: UnsafeMutableRawPointer?
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        guard posix_memalign(&raw, Self.alignment, bytes) == 0, let raw else {
            fatalError("out of memory allocating \(bytes) bytes for a tensor")
        }
        if zeroed { memset(raw, 0, bytes) }
        self.base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        self.count = count
        self.owner = nil
    }

    /// Borrows `count` floats at `pointer`; `owner` is retained as long as this storage lives.
    public init(borrowing pointer: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject) {
        self.base = pointer
        self.count = count
        self.owner = owner
    }

    /// True when the floats live in memory someone else owns (a mapped file).
    public var isBorrowed: Bool { owner != nil }

    deinit {
        if owner == nil { free(base) }
    }
}
