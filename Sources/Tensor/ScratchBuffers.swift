// Reusable scratch memory for kernels (im2col columns, attention score blocks).
//
// Why: a 47 MB column buffer allocated per convolution is returned to the OS on free and
// page-faulted back in on every call, which costs as much as a tenth of the convolution itself.
// Buffers handed back here are kept (up to a bound) and handed out again.
import Foundation
import Synchronization

/// A pool of float buffers, reused across calls.
public final class ScratchBuffers: Sendable {
    /// The process-wide pool.
    public static let shared = ScratchBuffers()

    /// Free buffers are kept while their total stays under this many floats (1 GiB).
    private let retainedLimit = 256 << 20
    private let free = Mutex<[TensorStorage]>([])

    /// Runs `body` with a buffer of at least `count` floats (contents unspecified), then takes it back.
    public func withBuffer<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        let storage = take(count)
        defer { give(storage) }
        return try body(storage.base)
    }

    private func take(_ count: Int) -> TensorStorage {
        let reused: TensorStorage? = free.withLock { buffers in
            // The smallest free buffer that is large enough.
            guard let index = buffers.indices.filter({ buffers[$0].count >= count })
                .min(by: { buffers[$0].count < buffers[$1].count }) else { return nil }
            return buffers.remove(at: index)
        }
        return reused ?? TensorStorage(count: count, zeroed: false)
    }

    private func give(_ storage: TensorStorage) {
        free.withLock { buffers in
            buffers.append(storage)
            // Drop the smallest buffers first when over the limit: large ones are the costly ones.
            buffers.sort { $0.count > $1.count }
            var total = 0
            buffers = buffers.filter { total += $0.count; return total <= retainedLimit }
        }
    }
}
