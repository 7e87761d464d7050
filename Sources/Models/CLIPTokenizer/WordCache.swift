// A bounded, thread-safe cache of BPE results per word: the daemon tokenizes many prompts that share words.
//
// Reference: `tokenizers`' BPE keeps a similar cache (10 000 words). Here two generations give a cheap
// approximation of least-recently-used eviction: lookups that hit the old generation move the word into the
// new one, and when the new one is full the old one is dropped.
import Foundation

final class WordCache: @unchecked Sendable {  // every stored property is guarded by `lock`
    private let lock = NSLock()
    private let generationCapacity: Int
    private var current: [[UInt8]: [Int32]] = [:]
    private var previous: [[UInt8]: [Int32]] = [:]

    /// Keeps between `capacity / 2` and `capacity` words.
    init(capacity: Int) {
        generationCapacity = max(1, capacity / 2)
    }

    /// The cached ids of `word`, or `compute(word)` stored for next time. `compute` runs outside the lock
    /// (two threads may both compute a new word; the results are equal).
    func ids(for word: [UInt8], compute: ([UInt8]) -> [Int32]) -> [Int32] {
        // Keyed by bytes, not String: Swift compares Strings by canonical equivalence, and two words that are
        // canonically equivalent but differ in bytes have different BPE ids.
        lock.lock()
        if let hit = current[word] {
            lock.unlock()
            return hit
        }
        if let hit = previous[word] {
            insertLocked(word, hit)
            lock.unlock()
            return hit
        }
        lock.unlock()
        let ids = compute(word)
        lock.lock()
        insertLocked(word, ids)
        lock.unlock()
        return ids
    }

    /// Number of cached words (for tests).
    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return current.count + previous.count
    }

    private func insertLocked(_ word: [UInt8], _ ids: [Int32]) {
        if current.count >= generationCapacity {
            previous = current
            current = [:]
            current.reserveCapacity(generationCapacity)
        }
        current[word] = ids
    }
}
