// Large tensor buffers kept for reuse instead of being returned to the kernel. A model's activations
// come in a few sizes that recur every layer and every step; freed, each would be unmapped, and the
// next one of the same size mapped again and faulted in — the kernel zeroing every page (measured:
// a third of a TAESD decode's time in clear_page). Kept, the next allocation of that size takes a
// buffer whose pages are already there.
//
// Bounded: at most `capacityBytes` are kept (DBRENDER_BUFFER_CACHE_MB, default 512 MiB; 0 turns reuse
// off; a program may set its own default, as dbtrain does), the least recently kept going first. Only
// exact sizes match, so a kept buffer is never larger than asked for. Contents are garbage to the
// taker: TensorStorage zero-fills when asked.
//
// A miss gives kept memory back when live plus kept memory would otherwise rise more than a slack above
// the high-water mark of live buffers: before a new buffer is allocated, the oldest kept buffers go
// until live + kept + the new one fit within that mark (counting the new one) plus the slack. Without
// this, a training step whose forward pass allocates new sizes kept the last step's freed activations
// beside the new ones. Without the slack (the first version gave back at least the missed size on
// every miss), a model whose layers come in several sizes churned: TAESD's decoder needs buffers of
// 4, 16 and 64 MiB in turn, each size's misses evicted the others', every decode faulted all of its
// buffers in again, and page zeroing took a third of its time. The slack (DBRENDER_BUFFER_SLACK_MB,
// default 256 MiB, at most the capacity) lets the sizes of one pass stay kept together.
import Foundation

/// A bounded pool of freed large allocations, by exact size.
final class RecycledBuffers: @unchecked Sendable {
    static let shared: RecycledBuffers = {
        let environment = ProcessInfo.processInfo.environment
        return RecycledBuffers(capacityBytes: (environment["DBRENDER_BUFFER_CACHE_MB"].flatMap(Int.init) ?? 512) << 20,
                               minimumBytes: (environment["DBRENDER_BUFFER_CACHE_MIN_KB"].flatMap(Int.init) ?? 4096) << 10,
                               slackBytes: (environment["DBRENDER_BUFFER_SLACK_MB"].flatMap(Int.init) ?? 256) << 20,
                               poisons: environment["DBRENDER_BUFFER_POISON"] == "1")
    }()

    private(set) var capacityBytes: Int
    /// Buffers smaller than this are left to malloc (its own free lists serve them well). Tests lower
    /// it (DBRENDER_BUFFER_CACHE_MIN_KB) so that small models recycle too.
    let minimumBytes: Int
    /// Whether a reused buffer that is not zero-filled is filled with NaN first
    /// (DBRENDER_BUFFER_POISON=1): a test that code never reads an output before writing it.
    private let lock = NSLock()
    /// Kept buffers, oldest first.
    private var kept: [(bytes: Int, pointer: UnsafeMutableRawPointer)] = []
    private var keptBytes = 0
    /// Bytes handed out by `take` (reused or to be allocated) and not yet given back, and their
    /// high-water mark.
    private var liveBytes = 0
    private var liveHighWater = 0
    /// How far live + kept memory may rise above `liveHighWater` before a miss gives kept buffers back.
    let slackBytes: Int

    let poisons: Bool

    init(capacityBytes: Int, minimumBytes: Int = 4 << 20, slackBytes: Int = 0, poisons: Bool = false) {
        self.capacityBytes = max(capacityBytes, 0)
        self.minimumBytes = max(minimumBytes, 1)
        self.slackBytes = max(slackBytes, 0)
        self.poisons = poisons
    }

    /// A kept buffer of exactly `bytes`, if there is one; otherwise nil, and the caller allocates one —
    /// before which the oldest kept buffers are freed while live + kept memory, the new buffer
    /// included, lies more than the slack above the live high-water mark.
    func take(bytes: Int) -> UnsafeMutableRawPointer? {
        guard bytes >= minimumBytes else { return nil }
        let (found, evicted): (UnsafeMutableRawPointer?, [UnsafeMutableRawPointer]) = lock.withLock {
            liveBytes += bytes
            liveHighWater = max(liveHighWater, liveBytes)
            if let i = kept.lastIndex(where: { $0.bytes == bytes }) {
                keptBytes -= bytes
                return (kept.remove(at: i).pointer, [])
            }
            let allowance = liveHighWater + min(slackBytes, capacityBytes)
            return (nil, evictOldest { liveBytes + keptBytes > allowance })
        }
        evicted.forEach { free($0) }
        return found
    }

    /// Sets the capacity unless DBRENDER_BUFFER_CACHE_MB chose one; frees the oldest kept buffers
    /// beyond a smaller capacity.
    func setDefaultCapacity(bytes: Int) {
        guard ProcessInfo.processInfo.environment["DBRENDER_BUFFER_CACHE_MB"] == nil else { return }
        let evicted: [UnsafeMutableRawPointer] = lock.withLock {
            capacityBytes = max(bytes, 0)
            return evictOldest { keptBytes > capacityBytes }
        }
        evicted.forEach { free($0) }
    }

    /// Keeps `pointer` (an allocation of `bytes`) for reuse, freeing the oldest kept ones to stay
    /// within capacity; frees it at once when it is small or cannot fit at all.
    func give(_ pointer: UnsafeMutableRawPointer, bytes: Int) {
        guard bytes >= minimumBytes else {
            free(pointer)
            return
        }
        let evicted: [UnsafeMutableRawPointer] = lock.withLock {
            liveBytes = max(liveBytes - bytes, 0)
            guard bytes <= capacityBytes else { return [pointer] }
            let evicted = evictOldest { keptBytes + bytes > capacityBytes }
            kept.append((bytes, pointer))
            keptBytes += bytes
            return evicted
        }
        evicted.forEach { free($0) }
    }

    /// Removes kept buffers, oldest first, while `excess` holds and any are left; returns them to be
    /// freed outside the lock. Call with `lock` held.
    private func evictOldest(while excess: () -> Bool) -> [UnsafeMutableRawPointer] {
        var evicted: [UnsafeMutableRawPointer] = []
        while excess(), !kept.isEmpty {
            let oldest = kept.removeFirst()
            keptBytes -= oldest.bytes
            evicted.append(oldest.pointer)
        }
        return evicted
    }

    /// Bytes kept now.
    var bytesKept: Int { lock.withLock { keptBytes } }
}

/// How many bytes of freed large tensor buffers the process keeps for reuse.
public enum TensorBufferRecycling {
    /// Makes `bytes` the capacity, unless DBRENDER_BUFFER_CACHE_MB set it. Kept memory never lifts
    /// the process above its live tensors' high-water mark (see RecycledBuffers), so a program
    /// whose peak is its working set, such as a training run, can afford to keep it all.
    public static func setDefaultCapacity(bytes: Int) {
        RecycledBuffers.shared.setDefaultCapacity(bytes: bytes)
    }
}
