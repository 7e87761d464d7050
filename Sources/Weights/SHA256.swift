// SHA-256 over byte buffers and files, for model fingerprints (see ModelFingerprint). The rounds run
// in C (CKernels/SHA256.c) on the x86 SHA extensions when the CPU has them.
import CKernels
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A streaming SHA-256 hash.
public struct SHA256 {
    private var context = dbr_sha256_context()

    /// Whether this CPU runs the hardware rounds.
    public static var usesHardware: Bool { dbr_sha256_hardware_available() != 0 }

    /// - Parameter allowHardware: false forces the portable rounds (the tests compare both).
    public init(allowHardware: Bool = true) {
        dbr_sha256_init(&context, allowHardware ? 1 : 0)
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        dbr_sha256_update(&context, base, bytes.count)
    }

    public mutating func update<Bytes: Collection<UInt8>>(_ bytes: Bytes) {
        if let done: Void = bytes.withContiguousStorageIfAvailable({ update(UnsafeRawBufferPointer($0)) }) {
            return done
        }
        let copy = Array(bytes)
        copy.withUnsafeBytes { update($0) }
    }

    /// Hashes the whole content of a file, reading it in large chunks.
    public mutating func update(contentsOf file: URL) throws(WeightsError) {
        let fd = open(file.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadableFile(path: file.path, reason: errnoText()) }
        defer { close(fd) }
        // The weights are read once, front to back: tell the kernel so it reads ahead.
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 8 << 20, alignment: 64)
        defer { chunk.deallocate() }
        while true {
            let count = read(fd, chunk.baseAddress, chunk.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw .unreadableFile(path: file.path, reason: "read: \(errnoText())")
            }
            if count == 0 { return }
            update(UnsafeRawBufferPointer(rebasing: chunk[0..<count]))
        }
    }

    /// The digest; the hash cannot be updated afterwards.
    public mutating func finalize() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        digest.withUnsafeMutableBufferPointer { dbr_sha256_final(&context, $0.baseAddress) }
        return digest
    }

    /// The digest as 64 lowercase hex digits.
    public mutating func finalizeHex() -> String {
        finalize().map { String(format: "%02x", $0) }.joined()
    }
}
