// Parallel loops for element-wise and reduction work, sized to share the cores with OpenBLAS.
//
// Why this does not fight OpenBLAS: our kernels call sgemm from ONE thread and wait for it, and
// run their own parallel loops only between BLAS calls, never around them. Both pools are sized
// to the same core count (`configure(threads:)` sets both), so at any moment at most `threads`
// threads compute. OpenBLAS's idle workers spin briefly with sched_yield, which yields the core
// to our loop's threads.
import CBLAS
import Dispatch
import Foundation
import Synchronization

/// Runs loop bodies on up to `threads` cores.
public final class ThreadPool: Sendable {
    /// The process-wide pool. Its size is configuration, set once at start-up (`--threads`).
    public static let shared = ThreadPool()

    private let configuredThreads: Atomic<Int>

    private init() {
        let env = ProcessInfo.processInfo.environment["DBRENDER_THREADS"].flatMap(Int.init)
        configuredThreads = Atomic(max(1, env ?? ProcessInfo.processInfo.activeProcessorCount))
    }

    /// How many threads a parallel loop (and OpenBLAS) may use.
    public var threads: Int { configuredThreads.load(ordering: .relaxed) }

    /// Sets the thread count for our loops and for OpenBLAS together.
    public func configure(threads: Int) {
        let n = max(1, threads)
        configuredThreads.store(n, ordering: .relaxed)
        openblas_set_num_threads(Int32(n))
    }

    /// Runs `body` with OpenBLAS restricted to the calling thread, then restores its thread count.
    ///
    /// For kernels that parallelise over many small, independent products themselves (attention
    /// blocks): each of our threads then calls sgemm on its own block, instead of OpenBLAS
    /// splitting every small product across threads and synchronising after each one.
    /// Numeric work runs one op at a time in this process, so the global switch is not observed
    /// by any other caller.
    public func withSingleThreadedBLAS<R>(_ body: () throws -> R) rethrows -> R {
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(Int32(threads)) }
        return try body()
    }

    /// Splits `0..<count` into at most `threads` contiguous chunks of at least `grain` items and
    /// runs `body` on each chunk, in parallel when there is more than one. Returns when all are done.
    public func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = min(threads, max(1, count / max(grain, 1)))
        if chunks == 1 {
            body(0..<count)
            return
        }
        // Each chunk touches its own range only; the caller guarantees that the body's shared
        // captures (pointers into tensors) are read-only or written at disjoint indices.
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let work = body
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let start = count * chunk / chunks
                let end = count * (chunk + 1) / chunks
                work(start..<end)
            }
        }
    }
}
