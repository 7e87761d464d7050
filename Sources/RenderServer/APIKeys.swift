// The credentials of `--api-key-file`: one per line (blank lines and surrounding whitespace
// ignored). A request presents one either as a bearer token, `Authorization: Bearer <line>` (what
// OpenAI's clients send), or as HTTP Basic whose decoded `user:password` is a line (what A1111's
// `--api-auth user:password` clients send). Every comparison runs over every key and every byte,
// whatever matches, so that response times say nothing about the keys; keys are never logged.
// The file is read again on SIGHUP, so keys rotate without a restart.
import Foundation

/// The accepted credentials. Thread-safe.
public final class APIKeys: @unchecked Sendable {
    /// Why the key file cannot be used.
    public struct LoadError: Error, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "API key file \(path): \(reason)" }
    }

    public let path: String
    private let lock = NSLock()
    private var keys: [[UInt8]]

    /// Reads `path`; an unreadable file or one without a key is an error (a daemon that would
    /// refuse every request, or accept any, must not start).
    public init(path: String) throws(LoadError) {
        self.path = path
        keys = try Self.read(path)
    }

    /// Credentials in memory (tests).
    init(keys: [String]) {
        path = "(memory)"
        self.keys = keys.map { Array($0.utf8) }
    }

    /// Reads the file again; on failure the current keys stay.
    public func reload() throws(LoadError) {
        let fresh = try Self.read(path)
        lock.withLock { keys = fresh }
    }

    /// The number of keys (logged; the keys themselves never are).
    public var count: Int { lock.withLock { keys.count } }

    /// True when `authorization` (the header's value) carries one of the keys.
    public func accepts(authorization: String?) -> Bool {
        guard let credential = authorization.flatMap(Self.credential(from:)) else { return false }
        let candidates = lock.withLock { keys }
        var matched = false
        for key in candidates { matched = Self.constantTimeEquals(credential, key) || matched }
        return matched
    }

    /// The credential of an Authorization value: a bearer token as sent, or Basic's decoded
    /// `user:password`. Scheme names are case-insensitive (RFC 9110).
    static func credential(from authorization: String) -> [UInt8]? {
        let parts = authorization.trimmingCharacters(in: .whitespaces).split(separator: " ", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        let value = parts[1].trimmingCharacters(in: .whitespaces)
        switch parts[0].lowercased() {
        case "bearer": return Array(value.utf8)
        case "basic": return Data(base64Encoded: value).map { Array($0) }
        default: return nil
        }
    }

    /// Equality that takes the same time wherever the first difference is (the length of `a`, the
    /// presented credential, sets the work; a length mismatch still runs the full loop).
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count) | UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<a.count { difference |= a[i] ^ (b.isEmpty ? 0 : b[i % b.count]) }
        return difference == 0
    }

    private static func read(_ path: String) throws(LoadError) -> [[UInt8]] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw LoadError(path: path, reason: "cannot be read (\(error.localizedDescription))")
        }
        let keys = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !keys.isEmpty else { throw LoadError(path: path, reason: "holds no key (one per line)") }
        return keys.map { Array($0.utf8) }
    }
}
