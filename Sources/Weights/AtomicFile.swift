// Atomic file replacement: write a temporary file beside the target, fsync it, rename it over the
// target, fsync the directory. A reader (or a crash) sees the old file or the complete new one, never
// a half-written file — which matters because readers map weight files (see MappedFile).
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes files so that they appear complete or not at all.
public enum AtomicFile {
    /// Creates or replaces the file at `url` with the bytes `body` writes to the given sink.
    ///
    /// If `body` throws or any step fails, the temporary file is removed and `url` is untouched.
    public static func write(
        to url: URL, _ body: (FileSink) throws(WeightsError) -> Void
    ) throws(WeightsError) {
        let target = url.path
        let directory = url.deletingLastPathComponent().path
        // Same directory as the target, so that rename(2) never crosses a file system.
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(getpid()).\(UInt32.random(in: .min ... .max)).tmp").path

        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .unwritableFile(path: target, reason: "create \(temporary): \(errnoText())") }
        var closed = false
        var renamed = false
        defer {
            if !closed { close(fd) }
            if !renamed { unlink(temporary) }
        }

        try body(FileSink(fd: fd, path: target))
        guard fsync(fd) == 0 else { throw .unwritableFile(path: target, reason: "fsync: \(errnoText())") }
        closed = true
        guard close(fd) == 0 else { throw .unwritableFile(path: target, reason: "close: \(errnoText())") }
        guard rename(temporary, target) == 0 else {
            throw .unwritableFile(path: target, reason: "rename: \(errnoText())")
        }
        renamed = true

        // The rename is durable only once the directory entry is flushed too.
        let dirfd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirfd >= 0 else { throw .unwritableFile(path: target, reason: "open directory: \(errnoText())") }
        defer { close(dirfd) }
        guard fsync(dirfd) == 0 else { throw .unwritableFile(path: target, reason: "fsync directory: \(errnoText())") }
    }
}

/// An open file that bytes are appended to; valid only inside `AtomicFile.write`'s body.
public struct FileSink {
    fileprivate let fd: Int32
    /// The final path, for error messages.
    fileprivate let path: String

    /// Appends all of `bytes`, retrying short writes and interrupted calls.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(WeightsError) {
        guard var next = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let written = systemWrite(fd, next, remaining)
            if written < 0 {
                if errno == EINTR { continue }
                throw .unwritableFile(path: path, reason: "write: \(errnoText())")
            }
            next += written
            remaining -= written
        }
    }

    /// Appends all of `bytes`.
    public func write(_ bytes: [UInt8]) throws(WeightsError) {
        // Array.withUnsafeBytes is `rethrows`, which erases the error type: carry it out in a Result.
        let result = bytes.withUnsafeBytes { raw in Result { () throws(WeightsError) in try write(raw) } }
        try result.get()
    }
}


/// write(2), reachable from inside a type whose own method is called `write`.
private func systemWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int { write(fd, bytes, count) }
