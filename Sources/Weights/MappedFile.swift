// A whole file memory-mapped copy-on-write. Tensors read from a safetensors file borrow this memory
// instead of copying it, and keep the mapping alive by holding this object as their storage's owner.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only file mapped into memory, privately and writably.
///
/// The mapping is `MAP_PRIVATE` with `PROT_READ | PROT_WRITE`: tensors are mutable handles, and a
/// write through one that borrows this memory then copies the touched page instead of either
/// reaching the file (`MAP_SHARED`) or faulting (`PROT_READ` alone).
///
/// As with any mapping, a file truncated by another process while mapped makes access to the lost
/// pages raise SIGBUS; weight files are written by atomic rename (see `AtomicFile`), never in place.
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened from.
    public let path: String
    /// First byte of the mapping; nil for an empty file (zero-length mappings do not exist).
    public let base: UnsafeMutableRawPointer?
    /// Size of the file, in bytes.
    public let count: Int

    /// Maps the regular file at `path`.
    public init(path: String) throws(WeightsError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadableFile(path: path, reason: errnoText()) }
        defer { close(fd) }  // the mapping outlives the descriptor

        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .unreadableFile(path: path, reason: errnoText()) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            let kind = (info.st_mode & S_IFMT) == S_IFDIR ? "is a directory" : "is not a regular file"
            throw .unreadableFile(path: path, reason: kind)
        }
        count = Int(info.st_size)
        if count == 0 {
            base = nil
            return
        }
        let mapped = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw .unreadableFile(path: path, reason: "mmap: \(errnoText())")
        }
        base = mapped
    }

    /// The whole file.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    deinit {
        if let base { munmap(base, count) }
    }

}
