// The daemon's LoRA folder (`--lora-dir`): a LoRA's name is its file name without `.safetensors`.
// The folder is read on every lookup, so files added, replaced or removed while the daemon runs are
// seen at the next request; a file is parsed once per version (size and modification time) and kept,
// since requests that use it reuse the same tensors. A1111's "Lora hashes" field carries each file's
// addnet hash: the SHA-256 of everything after the safetensors header, first 12 hex digits.
import Foundation
import Weights

/// The LoRAs a daemon can apply.
public final class LoRALibrary: @unchecked Sendable {
    public let directory: URL

    /// One file of the folder.
    public struct Entry: Sendable, Equatable {
        public let name: String
        public let url: URL
        public let sizeBytes: Int
        public let modified: Date
    }

    private struct Loaded {
        let entry: Entry
        let weights: LoRAWeights
        var shortHash: String?
    }

    private let lock = NSLock()
    private var loaded: [String: Loaded] = [:]

    public init(directory: URL) { self.directory = directory }

    /// The folder's LoRAs, by name.
    public func entries() -> [Entry] {
        let files = (try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: [.fileSizeKey, .contentModificationDateKey])) ?? []
        return files.compactMap { url -> Entry? in
            guard url.pathExtension == "safetensors",
                  let values = try? url.resourceValues(forKeys: [.fileSizeKey, .contentModificationDateKey, .isRegularFileKey]),
                  values.isRegularFile == true else { return nil }
            return Entry(name: url.deletingPathExtension().lastPathComponent, url: url, sizeBytes: values.fileSize ?? 0,
                         modified: values.contentModificationDate ?? .distantPast)
        }.sorted { $0.name < $1.name }
    }

    /// Why a named LoRA cannot be used.
    public enum LookupError: Error, Equatable {
        case unknown(name: String, available: [String])
        case unusable(name: String, LoRAError)
    }

    /// The parsed LoRA `name`, checked against `targets` (parsed again when the file changed).
    public func weights(named name: String, targets: LoRATargets) throws(LookupError) -> (LoRAWeights, Entry) {
        let all = entries()
        guard let entry = all.first(where: { $0.name == name }) else { throw .unknown(name: name, available: all.map(\.name)) }
        if let cached = lock.withLock({ loaded[name] }), cached.entry == entry { return (cached.weights, entry) }
        do {
            let weights = try LoRAWeights.load(entry.url, targets: targets)
            lock.withLock { loaded[name] = Loaded(entry: entry, weights: weights) }
            return (weights, entry)
        } catch {
            throw .unusable(name: name, error)
        }
    }

    /// A1111's short hash of a LoRA's current file (computed once per version); nil if unreadable.
    public func shortHash(of entry: Entry) -> String? {
        if let hash = lock.withLock({ loaded[entry.name].flatMap { $0.entry == entry ? $0.shortHash : nil } }) { return hash }
        guard let hash = Self.addnetHash(entry.url).map({ String($0.prefix(12)) }) else { return nil }
        lock.withLock { if loaded[entry.name]?.entry == entry { loaded[entry.name]?.shortHash = hash } }
        return hash
    }

    /// SHA-256 (hex) of a safetensors file's bytes after its 8-byte length and JSON header.
    static func addnetHash(_ url: URL) -> String? {
        guard let data = try? Data(contentsOf: url, options: .alwaysMapped), data.count >= 8 else { return nil }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(data.count - 8) else { return nil }
        var sha = SHA256()
        data.withUnsafeBytes { bytes in sha.update(UnsafeRawBufferPointer(rebasing: bytes[(8 + Int(headerLength))...])) }
        return sha.finalizeHex()
    }
}
