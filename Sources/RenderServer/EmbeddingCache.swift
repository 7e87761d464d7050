// Text-embedding cache: an LRU keyed by (the prompt's chunks — token ids and emphasis weights —,
// clip skip, text-encoder LoRAs), bounded in bytes. A hit skips the text encoder. Prompts that read
// the same (`(dog)` and `(dog:1.1)`) share an entry; `(dog)` and `dog` do not. The empty negative prompt is pinned (every guided request without a negative prompt
// uses it) so that it is always warm.
import Foundation
import Sampling
import Tensor

/// LRU map from chunked prompts to embeddings [1, 77·k, C]. Thread-safe.
public final class EmbeddingCache: @unchecked Sendable {
    public struct Key: Hashable, Sendable {
        public let chunks: PromptChunks
        public let clipSkip: Int
        /// The text-encoder LoRAs the embedding was made with: each file's version and weight, in order.
        public let loras: [LoRAIdentity]
        public init(chunks: PromptChunks, clipSkip: Int, loras: [LoRAIdentity] = []) {
            self.chunks = chunks; self.clipSkip = clipSkip; self.loras = loras
        }
    }

    /// A LoRA file version (path, size, modification time) at a weight: a replaced file is another LoRA.
    public struct LoRAIdentity: Hashable, Sendable {
        public let path: String
        public let sizeBytes: Int
        public let modified: Date
        public let weight: Float
        public init(path: String, sizeBytes: Int, modified: Date, weight: Float) {
            self.path = path; self.sizeBytes = sizeBytes; self.modified = modified; self.weight = weight
        }
    }

    private let lock = NSLock()
    private let capacityBytes: Int
    private var entries: [Key: (embedding: Tensor, lastUse: UInt64)] = [:]
    private var pinned: Set<Key> = []
    private var clock: UInt64 = 0
    private var bytes = 0
    public private(set) var hits = 0
    public private(set) var misses = 0

    public init(capacityBytes: Int) { self.capacityBytes = capacityBytes }

    /// The cached embedding, or nil (counted as a miss).
    public func lookup(_ key: Key) -> Tensor? {
        lock.withLock {
            clock += 1
            guard let entry = entries[key] else { misses += 1; return nil }
            hits += 1
            entries[key] = (entry.embedding, clock)
            return entry.embedding
        }
    }

    /// Stores an embedding, evicting the least recently used unpinned entries past the byte bound.
    public func insert(_ key: Key, _ embedding: Tensor, pinned pin: Bool = false) {
        lock.withLock {
            clock += 1
            if entries[key] == nil { bytes += embedding.count * 4 }
            entries[key] = (embedding, clock)
            if pin { pinned.insert(key) }
            while bytes > capacityBytes {
                guard let victim = entries.filter({ !pinned.contains($0.key) }).min(by: { $0.value.lastUse < $1.value.lastUse }) else { break }
                bytes -= victim.value.embedding.count * 4
                entries[victim.key] = nil
            }
        }
    }

    /// Entries and bytes held, for /metrics.
    public var statistics: (entries: Int, bytes: Int, hits: Int, misses: Int) {
        lock.withLock { (entries.count, bytes, hits, misses) }
    }

    /// Forgets everything (a reloaded model has other embeddings).
    public func removeAll() {
        lock.withLock { entries = [:]; pinned = []; bytes = 0 }
    }
}
