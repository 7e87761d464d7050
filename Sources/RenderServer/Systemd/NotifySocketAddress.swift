// The address systemd passes in $NOTIFY_SOCKET, turned into a `sockaddr_un` as sd_notify(3) does:
// an absolute path names a socket file; a leading "@" names a socket in the abstract namespace.
// Follows systemd's sockaddr_un_set_path() for the lengths (see the comments on `length`).
import Glibc

/// Where systemd listens for `sd_notify` datagrams (an `AF_UNIX`, `SOCK_DGRAM` address).
public struct NotifySocketAddress: Sendable, Equatable, CustomStringConvertible {
    /// The value as systemd wrote it (`/run/systemd/notify`, `@/org/freedesktop/...`).
    public let description: String
    /// True when the socket lives in the abstract namespace (the value started with "@").
    public let isAbstract: Bool
    /// The bytes that go into `sun_path`: for a path, the path and its terminating NUL; for an
    /// abstract name, a NUL in place of the "@" and then the name, with NO terminating NUL.
    let pathBytes: [UInt8]

    /// Offset of `sun_path` in `sockaddr_un` (2 on Linux: the family field).
    static let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)!
    /// Capacity of `sun_path` (108 on Linux).
    static let pathCapacity = MemoryLayout<sockaddr_un>.size - pathOffset

    /// Parses a `NOTIFY_SOCKET` value.
    ///
    /// Only `AF_UNIX` addresses are accepted; newer systemd may also pass `vsock:CID:PORT` (for
    /// services in virtual machines), which a daemon on a Unix socket never needs.
    public init(parsing value: String) throws(SystemdNotifyError) {
        let bytes = Array(value.utf8)
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "/") || bytes[0] == UInt8(ascii: "@") else {
            throw .unsupportedAddress(value)
        }
        // A NUL inside the value would silently cut a path short (and is impossible in a
        // C environment string anyway); refuse rather than send to a different socket.
        guard !bytes.contains(0) else { throw .unsupportedAddress(value) }
        description = value
        if bytes[0] == UInt8(ascii: "@") {
            isAbstract = true
            pathBytes = [0] + bytes.dropFirst()
        } else {
            isAbstract = false
            pathBytes = bytes + [0]
        }
        guard pathBytes.count <= Self.pathCapacity else { throw .addressTooLong(value) }
    }

    /// The address length to pass to `sendto(2)`.
    ///
    /// Abstract names are compared by the kernel over exactly this many bytes, so the length must
    /// not count a trailing NUL (the name would then differ from the one systemd bound). A path
    /// socket's length includes the NUL, as sd_notify does; the kernel accepts either.
    public var length: socklen_t { socklen_t(Self.pathOffset + pathBytes.count) }

    /// Calls `body` with the address as a `sockaddr` pointer and its length.
    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { sunPath in
            sunPath.copyBytes(from: pathBytes)
        }
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }
}
