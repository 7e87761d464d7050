// Why the descriptors systemd passed cannot be served on. Thrown at start-up: a daemon that was
// socket-activated with the wrong socket should fail loudly rather than listen somewhere else.
import Glibc

/// A socket-activation failure, naming the descriptor involved.
public enum SocketActivationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `LISTEN_PID`, `LISTEN_FDS` or `LISTEN_FDNAMES` is malformed.
    case environment(SystemdEnvironmentError)
    /// A system call on the descriptor failed (EBADF: nothing is open there).
    case systemCallFailed(call: String, fileDescriptor: Int32, errno: Int32)
    /// The descriptor is not a socket.
    case notASocket(fileDescriptor: Int32)
    /// The socket is not `SOCK_STREAM` (`ListenDatagram=` or `ListenSequentialPacket=` in the unit).
    case wrongSocketType(fileDescriptor: Int32, type: Int32)
    /// The socket is not listening (`Accept=yes` in the unit passes connections, not the listener).
    case notListening(fileDescriptor: Int32)
    /// The socket is neither `AF_UNIX` nor TCP (`AF_INET`, `AF_INET6`).
    case wrongFamily(fileDescriptor: Int32, family: Int32)
    /// No single descriptor matches: none or several were passed, or none has the wanted name.
    case ambiguousDescriptors(wanted: String?, available: [String])

    public var description: String {
        switch self {
        case .environment(let error):
            return "socket activation: \(error)"
        case .systemCallFailed(let call, let fd, let code):
            return "socket activation: \(call) on descriptor \(fd) failed: \(String(cString: strerror(code)))"
        case .notASocket(let fd):
            return "socket activation: descriptor \(fd) is not a socket"
        case .wrongSocketType(let fd, let type):
            return "socket activation: descriptor \(fd) is not a stream socket (type \(type)); use ListenStream="
        case .notListening(let fd):
            return "socket activation: descriptor \(fd) is not a listening socket; the unit must not set Accept=yes"
        case .wrongFamily(let fd, let family):
            return "socket activation: descriptor \(fd) is neither a Unix nor a TCP socket (family \(family))"
        case .ambiguousDescriptors(let wanted, let available):
            let passed = available.isEmpty ? "none" : available.joined(separator: ", ")
            if let wanted { return "socket activation: no single descriptor named \(wanted) (passed: \(passed))" }
            return "socket activation: expected one socket, systemd passed \(available.count) (\(passed))"
        }
    }
}
