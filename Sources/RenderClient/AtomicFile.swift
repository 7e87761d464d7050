// Writes a file so that it either exists complete or not at all: the bytes go to a temporary file in the
// same folder (rename(2) is atomic only within one file system), are flushed to disk, then renamed over
// the target. An interrupted batch therefore never leaves a truncated image that a rerun would skip.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Atomic whole-file writes.
public enum AtomicFile {
    /// Replaces (or creates) the file at `path` with `data`, atomically. The file gets mode 0666 minus the
    /// umask, as any other file the user creates.
    public static func write(_ data: Data, to path: String) throws(ClientError) {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        // Hidden, and unlike any output name, so a rerun's scan of the folder never counts it.
        let temporary = directory + ".\(name).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"

        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard descriptor >= 0 else { throw .cannotWrite(path: path, errno: errno) }
        var failure: Int32 = 0
        data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = systemWrite(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += written
            }
        }
        // Without the fsync a crash right after the rename can leave an empty file under the final name.
        if failure == 0 && fsync(descriptor) != 0 { failure = errno }
        if close(descriptor) != 0 && failure == 0 { failure = errno }
        if failure == 0 && rename(temporary, path) != 0 { failure = errno }
        if failure != 0 {
            unlink(temporary)
            throw .cannotWrite(path: path, errno: failure)
        }
    }
}

// `AtomicFile.write` hides the C function of the same name inside the enum.
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(descriptor, bytes, count)
    #else
    Darwin.write(descriptor, bytes, count)
    #endif
}
