// SHA-256 and model fingerprints. Oracles: the FIPS 180-4 example digests, coreutils' sha256sum on a
// random file, and one-shot hashes against the same bytes fed in uneven pieces on every length around
// the block and padding boundaries.
import Foundation
import Testing
import TestSupport
import Weights

@Suite("SHA-256 and model fingerprints")
struct SHA256Tests {
    static func digest(_ bytes: [UInt8]) -> String {
        var hash = SHA256()
        hash.update(bytes)
        return hash.finalizeHex()
    }

    @Test("FIPS 180-4 examples")
    func knownDigests() {
        #expect(Self.digest([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Self.digest(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Self.digest(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(Self.digest([UInt8](repeating: 0x61, count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("bytes fed in uneven pieces hash as the whole, on every length 0…300")
    func piecesMatchWhole() {
        var generator = SystemRandomNumberGenerator()
        for length in 0...300 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            var pieces = SHA256()
            var start = 0
            while start < length {
                let end = min(length, start + Int.random(in: 1...70, using: &generator))
                pieces.update(bytes[start..<end])
                start = end
            }
            #expect(pieces.finalizeHex() == Self.digest(bytes), "length \(length)")
        }
    }

    @Test("a file's hash equals sha256sum's")
    func fileMatchesCoreutils() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("dbrender-sha-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: url) }
        // 8 MiB + 77 bytes: more than one read chunk, and a partial block at the end.
        var state: UInt64 = 0x9E3779B97F4A7C15
        try Data((0..<(8 << 20) + 77).map { _ in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17 // xorshift64: fast, not all-zero
            return UInt8(truncatingIfNeeded: state)
        }).write(to: url)
        var hash = SHA256()
        try hash.update(contentsOf: url)
        #expect(hash.finalizeHex() == (try Self.sha256sum(url)))
    }

    @Test("a fingerprint is cached by file identity and recomputed when a file changes")
    func fingerprintCache() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dbrender-fp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let a = directory.appendingPathComponent("a.safetensors"), b = directory.appendingPathComponent("b.safetensors")
        try Data("first file".utf8).write(to: a)
        try Data("second".utf8).write(to: b)
        let cache = directory.appendingPathComponent("cache/fingerprints.json")

        let (first, firstCached) = try ModelFingerprint.of([a, b], cache: cache)
        #expect(!firstCached)
        #expect(first.sha256 == Self.digest(Array("first filesecond".utf8)), "the files are hashed as one stream")
        #expect(first.shortHash == String(first.sha256.prefix(10)))
        #expect(FileManager.default.fileExists(atPath: cache.path))

        let (second, secondCached) = try ModelFingerprint.of([a, b], cache: cache)
        #expect(secondCached && second == first)

        // Same size, new content: the modification time (or inode) changes, so the hash is redone.
        try Data("other file".utf8).write(to: a)
        let (third, thirdCached) = try ModelFingerprint.of([a, b], cache: cache)
        #expect(!thirdCached)
        #expect(third.sha256 == Self.digest(Array("other filesecond".utf8)))

        // A damaged cache is ignored, then replaced.
        try Data("{not json".utf8).write(to: cache)
        let (fourth, fourthCached) = try ModelFingerprint.of([a, b], cache: cache)
        #expect(!fourthCached && fourth == third)
        #expect(try ModelFingerprint.of([a, b], cache: cache).cached)

        // A missing file is an error that names it.
        let missing = directory.appendingPathComponent("gone.safetensors")
        #expect(throws: WeightsError.unreadableFile(path: missing.path, reason: "No such file or directory")) {
            _ = try ModelFingerprint.of([missing], cache: cache)
        }
    }

    static func sha256sum(_ url: URL) throws -> String {
        String(try runProcess(URL(fileURLWithPath: "/usr/bin/sha256sum"), [url.path]).output.prefix(64))
    }
}
