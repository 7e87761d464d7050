// Recycled tensor buffers: a freed large buffer serves the next allocation of its size, zero-filled
// when asked; the pool stays within its capacity, oldest out first; small buffers are left to malloc;
// misses give kept buffers back beyond the live high-water mark plus the slack.
import Foundation
import Testing
@testable import Tensor

@Suite("Recycled buffers")
struct RecycledBuffersTests {
    @Test("a freed large buffer is reused for the same size, and a zeroed tensor is zeros")
    func reuse() {
        let count = (RecycledBuffers.shared.minimumBytes / 4) + 1024
        var address: UnsafeMutablePointer<Float>
        do {
            let first = Tensor(uninitialized: [count])
            first.buffer.update(repeating: 7)
            address = first.pointer
        }
        let second = Tensor(zeros: [count])
        #expect(second.pointer == address, "the freed buffer was not reused")
        #expect(second.scalars.allSatisfy { $0 == 0 })
    }

    @Test("the pool keeps at most its capacity, evicting the oldest, and ignores small buffers")
    func bounded() {
        let pool = RecycledBuffers(capacityBytes: 3 << 20, minimumBytes: 1 << 20)
        let a = malloc(1 << 20)!, b = malloc(1 << 20)!, c = malloc(2 << 20)!, small = malloc(1024)!
        pool.give(a, bytes: 1 << 20)
        pool.give(b, bytes: 1 << 20)
        pool.give(small, bytes: 1024)  // freed at once
        #expect(pool.bytesKept == 2 << 20)
        pool.give(c, bytes: 2 << 20)  // evicts a
        #expect(pool.bytesKept == 3 << 20)
        #expect(pool.take(bytes: 1 << 20) == b)
        #expect(pool.take(bytes: 2 << 20) == c)
        #expect(pool.bytesKept == 0)
        free(b); free(c)
    }

    @Test("without slack, a miss frees the oldest kept buffers so that live + kept stays at the live high-water mark")
    func missesGiveBack() {
        let pool = RecycledBuffers(capacityBytes: 16 << 20, minimumBytes: 1 << 20)
        let (a, b, c) = allocateThroughPool(pool)
        pool.give(a, bytes: 1 << 20)
        pool.give(b, bytes: 1 << 20)
        pool.give(c, bytes: 4 << 20)
        #expect(pool.bytesKept == 6 << 20)
        // 2 MiB of a size not kept, against a high-water mark of 6 MiB: a and b (the oldest, 2 MiB
        // together) go, c stays.
        #expect(pool.take(bytes: 2 << 20) == nil)
        #expect(pool.bytesKept == 4 << 20)
        #expect(pool.take(bytes: 4 << 20) == c)
        // An empty pool has nothing to give back.
        #expect(pool.take(bytes: 3 << 20) == nil && pool.bytesKept == 0)
        free(c)
    }

    @Test("with slack, a miss keeps the other sizes while live + kept stays within the high-water mark plus the slack")
    func slackKeepsSizes() {
        let pool = RecycledBuffers(capacityBytes: 16 << 20, minimumBytes: 1 << 20, slackBytes: 3 << 20)
        let (a, b, c) = allocateThroughPool(pool)
        pool.give(a, bytes: 1 << 20)
        pool.give(b, bytes: 1 << 20)
        pool.give(c, bytes: 4 << 20)
        // A 2 MiB miss: live 2 + kept 6 = 8 MiB, within 6 + 3: everything stays.
        #expect(pool.take(bytes: 2 << 20) == nil)
        #expect(pool.bytesKept == 6 << 20)
        // Another 2 MiB miss: 4 + 6 = 10 > 9, so the oldest (a) goes.
        #expect(pool.take(bytes: 2 << 20) == nil)
        #expect(pool.bytesKept == 5 << 20)
        #expect(pool.take(bytes: 1 << 20) == b && pool.take(bytes: 4 << 20) == c)
        free(b); free(c)
    }

    /// Three buffers (1, 1 and 4 MiB) taken from `pool` as misses, so that its live high-water mark is 6 MiB.
    private func allocateThroughPool(_ pool: RecycledBuffers) -> (UnsafeMutableRawPointer, UnsafeMutableRawPointer, UnsafeMutableRawPointer) {
        #expect(pool.take(bytes: 1 << 20) == nil && pool.take(bytes: 1 << 20) == nil && pool.take(bytes: 4 << 20) == nil)
        return (malloc(1 << 20)!, malloc(1 << 20)!, malloc(4 << 20)!)
    }
}
