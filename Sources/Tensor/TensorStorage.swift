// The memory behind a tensor: either our own 64-byte-aligned allocation (large ones recycled by
// size: RecycledBuffers), or a borrowed region (for example a memory-mapped safetensors file) kept
// alive by an owner object.
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
    /// Bytes of our own allocation (0 when borrowed): what RecycledBuffers files it under.
    private var allocatedBytes = 0

    /// Alignment of our own allocations: one cache line, so that SIMD loads never split one.
    public static let alignment = 64
    /// Size of a transparent huge page on x86-64.
    static let hugePageSize = 2 << 20
    /// Allocations from this size on are backed by huge pages where the kernel allows.
    static let hugePageThreshold = 4 << 20
    /// `DBRENDER_HUGE_PAGES=0` turns huge pages off (to compare, or where THP misbehaves).
    static let hugePagesEnabled = ProcessInfo.processInfo.environment["DBRENDER_HUGE_PAGES"] != "0"
    /// Zero-filling from this size on is split across the thread pool.
    static let parallelZeroThreshold = 64 << 20

    /// Allocates `count` floats, zero-filled unless `zeroed` is false (for outputs that are
    /// fully overwritten, where clearing megabytes first would only cost time).
    public init(count: Int, zeroed: Bool = true) {
        precondition(count >= 0, "negative tensor size")
        var allocation: UnsafeMutableRawPointer?
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        // Large buffers (activations, weights, gradients, optimizer moments) come fresh from the
        // kernel, and touching them page by page costs a fault per 4 KiB — on this kind of VM about
        // 1.4 s per GiB, more than the work done in them. Transparent huge pages (2 MiB) cut the
        // faults 512-fold: 2 MiB alignment plus MADV_HUGEPAGE (THP is often in "madvise" mode).
        let huge = bytes >= Self.hugePageThreshold && Self.hugePagesEnabled
        // A freed buffer of the same size, its pages still mapped, saves the faults altogether.
        if let recycled = RecycledBuffers.shared.take(bytes: bytes) {
            allocation = recycled
            if !zeroed && RecycledBuffers.shared.poisons {
                recycled.initializeMemory(as: Float.self, repeating: .nan, count: bytes / MemoryLayout<Float>.stride)
            }
        } else {
            guard posix_memalign(&allocation, huge ? Self.hugePageSize : Self.alignment, bytes) == 0, allocation != nil else {
                fatalError("out of memory allocating \(bytes) bytes for a tensor")
            }
            #if os(Linux)
            if huge { _ = madvise(allocation, bytes / Self.hugePageSize * Self.hugePageSize, MADV_HUGEPAGE) }  // whole pages only
            #endif
        }
        let raw = allocation!
        if zeroed {
            // First touch is page faults more than memory traffic: big buffers fault in parallel.
            if bytes >= Self.parallelZeroThreshold {
                ThreadPool.shared.parallelFor(bytes / Self.hugePageSize + 1) { pages in
                    let start = pages.lowerBound * Self.hugePageSize, end = min(bytes, pages.upperBound * Self.hugePageSize)
                    if start < end { memset(raw + start, 0, end - start) }
                }
            } else {
                memset(raw, 0, bytes)
            }
        }
        self.base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        self.count = count
        self.owner = nil
        allocatedBytes = bytes
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
        if owner == nil { RecycledBuffers.shared.give(UnsafeMutableRawPointer(base), bytes: allocatedBytes) }
    }
}
