// Parallel loops for element-wise, reduction and matrix-product work.
//
// Determinism: a result never depends on how many threads run or on what else the machine is
// doing. Every loop here splits its work into chunks that each write their own outputs, and any
// work whose rounding depends on how it is split (a sum over chunks, a matrix product's blocking)
// is split by a fixed rule of its shape (see `MatMul.Partition`), never by the thread count.
// OpenBLAS is therefore kept single-threaded for the life of the process: its own threading blocks
// a product differently for 1 and 2 threads (measured: 158 of 400 random products differed in
// the last bits), and a thread count switched by one caller would change another caller's result.
// We parallelise products ourselves, over fixed parts.
//
// A loop started inside another loop's body runs serially on that thread: the outer loop already
// occupies the threads, and the split (hence the result) is the same either way.
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
        openblas_set_num_threads(1)
    }

    /// How many threads a parallel loop may use.
    public var threads: Int { configuredThreads.load(ordering: .relaxed) }

    /// Sets the thread count of our loops (OpenBLAS stays single-threaded: see the header).
    /// Results do not depend on it.
    public func configure(threads: Int) {
        configuredThreads.store(max(1, threads), ordering: .relaxed)
        openblas_set_num_threads(1)
    }

    /// True on a thread that is running a parallel loop's body.
    private static let insideLoop = ThreadFlag()

    /// Splits `0..<count` into at most `threads` contiguous chunks of at least `grain` items and
    /// runs `body` on each chunk, in parallel when there is more than one. Returns when all are done.
    /// Callers must not let a result depend on where the chunk boundaries fall.
    public func parallelFor(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = Self.insideLoop.isSet ? 1 : min(threads, max(1, count / max(grain, 1)))
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
                Self.insideLoop.set(true)
                work(start..<end)
                Self.insideLoop.set(false)
            }
        }
    }
}

/// A per-thread boolean (a pthread key: Foundation's thread dictionary costs a lookup and a box).
private final class ThreadFlag: Sendable {
    private let key: pthread_key_t

    init() {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
        self.key = key
    }

    var isSet: Bool { pthread_getspecific(key) != nil }

    func set(_ value: Bool) {
        pthread_setspecific(key, value ? UnsafeRawPointer(bitPattern: 1) : nil)
    }
}
