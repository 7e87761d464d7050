// Checks that a descriptor handed to the daemon is what it can serve HTTP on — a listening
// AF_UNIX stream socket — as sd_is_socket_unix(3) does (fstat, SO_TYPE, SO_ACCEPTCONN,
// getsockname), and reports where it is bound, for the "ready" log line.
import Glibc

/// A validated listening `AF_UNIX`, `SOCK_STREAM` socket, ready for NIO's
/// `ServerBootstrap.withBoundSocket(_:)`.
public struct ListeningUnixSocket: Sendable, Equatable {
    /// Where a Unix socket is bound.
    public enum Address: Sendable, Equatable, CustomStringConvertible {
        /// A socket file.
        case path(String)
        /// An abstract-namespace name (shown with a leading "@", as systemd writes it).
        case abstract(String)
        /// Not bound to any name.
        case unnamed

        public var description: String {
            switch self {
            case .path(let path): return path
            case .abstract(let name): return "@" + name
            case .unnamed: return "(unnamed)"
            }
        }
    }

    /// The descriptor; ownership stays with the caller.
    public let fileDescriptor: Int32
    /// Where it is bound.
    public let address: Address

    /// Validates `fileDescriptor`; throws naming the first property that does not match.
    public init(validating fileDescriptor: Int32) throws(SocketActivationError) {
        var status = stat()
        guard fstat(fileDescriptor, &status) == 0 else {
            throw .systemCallFailed(call: "fstat", fileDescriptor: fileDescriptor, errno: errno)
        }
        guard status.st_mode & S_IFMT == S_IFSOCK else { throw .notASocket(fileDescriptor: fileDescriptor) }

        let type = try Self.intOption(SO_TYPE, of: fileDescriptor)
        guard type == Int32(SOCK_STREAM.rawValue) else {
            throw .wrongSocketType(fileDescriptor: fileDescriptor, type: type)
        }
        guard try Self.intOption(SO_ACCEPTCONN, of: fileDescriptor) != 0 else {
            throw .notListening(fileDescriptor: fileDescriptor)
        }

        var name = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let result = withUnsafeMutablePointer(to: &name) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fileDescriptor, $0, &length) }
        }
        guard result == 0 else {
            throw .systemCallFailed(call: "getsockname", fileDescriptor: fileDescriptor, errno: errno)
        }
        guard Int(length) >= MemoryLayout<sa_family_t>.size, name.sun_family == sa_family_t(AF_UNIX) else {
            throw .wrongFamily(fileDescriptor: fileDescriptor, family: Int32(name.sun_family))
        }
        self.fileDescriptor = fileDescriptor
        address = Self.address(of: name, length: Int(length))
    }

    /// Decodes `sun_path` by the length the kernel returned: an abstract name is exactly that
    /// many bytes (NULs included), a path ends at its first NUL.
    static func address(of name: sockaddr_un, length: Int) -> Address {
        let pathLength = min(max(length - NotifySocketAddress.pathOffset, 0), NotifySocketAddress.pathCapacity)
        guard pathLength > 0 else { return .unnamed }
        return withUnsafeBytes(of: name.sun_path) { raw in
            let bytes = Array(raw.prefix(pathLength))
            if bytes[0] == 0 {
                return .abstract(String(decoding: bytes.dropFirst(), as: UTF8.self))
            }
            return .path(String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self))
        }
    }

    private static func intOption(_ option: Int32, of fileDescriptor: Int32) throws(SocketActivationError) -> Int32 {
        var value: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fileDescriptor, SOL_SOCKET, option, &value, &size) == 0 else {
            let call = option == SO_TYPE ? "getsockopt(SO_TYPE)" : "getsockopt(SO_ACCEPTCONN)"
            throw .systemCallFailed(call: call, fileDescriptor: fileDescriptor, errno: errno)
        }
        return value
    }
}
