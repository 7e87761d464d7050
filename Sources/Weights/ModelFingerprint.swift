// A model's identity: the SHA-256 of its weights. Image metadata carries its first 10 hex digits as
// A1111's "Model hash" (A1111's current "AutoV2" hash: SHA-256 of the checkpoint file, which is also
// what civitai lists), so a picture can be traced back to the model that made it. Hashing a 2–7 GB
// checkpoint takes seconds, so results are kept in a small cache keyed by each file's identity
// (path, size, modification time, inode) and only recomputed when a file changes.
import Foundation

/// The SHA-256 of a model's weights.
///
/// A single-file checkpoint hashes the file itself (matching A1111 and civitai). A diffusers folder
/// hashes its component weight files concatenated in `ModelComponent.allCases` order (unet, vae,
/// text_encoder) — a folder has no A1111 equivalent, and this keeps the hash a function of the weights.
public struct ModelFingerprint: Equatable, Sendable {
    /// 64 lowercase hex digits.
    public let sha256: String

    /// A1111's "Model hash": the first 10 hex digits.
    public var shortHash: String { String(sha256.prefix(10)) }

    public init(sha256: String) { self.sha256 = sha256 }

    /// Hashes `files` (in order, as one stream), or takes the hash from `cache` when none of the files
    /// changed since it was stored there. A cache that cannot be read or written is ignored: it only
    /// saves time. Returns whether the cache answered.
    public static func of(_ files: [URL], cache: URL? = nil) throws(WeightsError) -> (ModelFingerprint, cached: Bool) {
        let identities = try files.map { file throws(WeightsError) in try FileIdentity(file) }
        let key = files.map(\.path).joined(separator: "\n")
        var entries = cache.flatMap(FingerprintCache.read) ?? [:]
        if let entry = entries[key], entry.files == identities {
            return (ModelFingerprint(sha256: entry.sha256), true)
        }
        var hash = SHA256()
        for file in files { try hash.update(contentsOf: file) }
        let fingerprint = ModelFingerprint(sha256: hash.finalizeHex())
        // A file that changed while it was being hashed gives a hash of neither version: don't keep it.
        let after = try files.map { file throws(WeightsError) in try FileIdentity(file) }
        if let cache, after == identities {
            entries[key] = .init(files: identities, sha256: fingerprint.sha256)
            FingerprintCache.write(entries, to: cache)
        }
        return (fingerprint, false)
    }
}

/// What identifies a file's content without reading it.
struct FileIdentity: Codable, Equatable {
    var size: Int64
    var modifiedNanoseconds: Int64
    var inode: UInt64

    init(_ file: URL) throws(WeightsError) {
        var info = stat()
        guard stat(file.path, &info) == 0 else { throw .unreadableFile(path: file.path, reason: errnoText()) }
        size = Int64(info.st_size)
        modifiedNanoseconds = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        inode = UInt64(info.st_ino)
    }

    enum CodingKeys: String, CodingKey {
        case size, modifiedNanoseconds = "mtime_ns", inode
    }
}

/// The JSON file that keeps fingerprints: `{"<paths>": {"files": [...], "sha256": "..."}}`.
enum FingerprintCache {
    struct Entry: Codable, Equatable {
        var files: [FileIdentity]
        var sha256: String
    }

    static func read(_ url: URL) -> [String: Entry]? {
        guard let data = try? Data(contentsOf: url) else { return nil }
        return try? JSONDecoder().decode([String: Entry].self, from: data)
    }

    static func write(_ entries: [String: Entry], to url: URL) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        guard let data = try? encoder.encode(entries) else { return }
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? AtomicFile.write(to: url) { sink throws(WeightsError) in try sink.write([UInt8](data)) }
    }
}
