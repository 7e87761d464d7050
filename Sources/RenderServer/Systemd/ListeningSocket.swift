// Checks that a descriptor handed to the daemon is what it can serve HTTP on — a listening stream
// socket, AF_UNIX or TCP (AF_INET, AF_INET6) — as sd_is_socket(3) does (fstat, SO_TYPE,
// SO_ACCEPTCONN, getsockname), and reports where it is bound, for the "ready" log line and for the
// access rule: a Unix socket is guarded by its file mode, a TCP one by API keys.
import Glibc

/// A validated listening `SOCK_STREAM` socket, ready for NIO's `ServerBootstrap.withBoundSocket(_:)`.
public struct ListeningSocket: Sendable, Equatable {
    /// Where the socket is bound.
    public enum Address: Sendable, Equatable, CustomStringConvertible {
        /// A socket file.
        case path(String)
        /// An abstract-namespace name (shown with a leading "@", as systemd writes it).
        case abstract(String)
        /// Not bound to any name.
        case unnamed
        /// A TCP address: numeric host (IPv4 dotted, IPv6 without brackets) and port.
        case tcp(host: String, port: Int)

        public var description: String {
            switch self {
            case .path(let path): return path
            case .abstract(let name): return "@" + name
            case .unnamed: return "(unnamed)"
            case .tcp(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            }
        }

        /// True for TCP.
        public var isTCP: Bool { if case .tcp = self { true } else { false } }
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

        // sockaddr_storage holds any family's address.
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fileDescriptor, $0, &length) }
        }
        guard result == 0 else {
            throw .systemCallFailed(call: "getsockname", fileDescriptor: fileDescriptor, errno: errno)
        }
        let family = Int(length) >= MemoryLayout<sa_family_t>.size ? Int32(storage.ss_family) : -1
        switch family {
        case AF_UNIX:
            address = withUnsafeBytes(of: storage) { Self.address(of: $0.load(as: sockaddr_un.self), length: Int(length)) }
        case AF_INET, AF_INET6:
            address = withUnsafePointer(to: storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { Self.tcpAddress(of: $0, length: length) }
            }
        default:
            throw .wrongFamily(fileDescriptor: fileDescriptor, family: family)
        }
        self.fileDescriptor = fileDescriptor
    }

    /// Numeric host and port of an AF_INET or AF_INET6 address.
    static func tcpAddress(of address: UnsafePointer<sockaddr>, length: socklen_t) -> Address {
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        let status = getnameinfo(address, length, &host, socklen_t(host.count), &service, socklen_t(service.count),
                                 NI_NUMERICHOST | NI_NUMERICSERV)
        guard status == 0 else { return .tcp(host: "?", port: 0) }
        return .tcp(host: String(cString: host), port: Int(String(cString: service)) ?? 0)
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
