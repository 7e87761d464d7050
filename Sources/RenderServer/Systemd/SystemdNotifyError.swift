// Why a notification to systemd could not be sent. Returned to the caller (never thrown past the
// notifier), so that a daemon logs it once and keeps serving.
import Glibc

/// A failure to parse `$NOTIFY_SOCKET` or to deliver a datagram to it.
public enum SystemdNotifyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The value is neither an absolute path nor an "@" abstract name (for example `vsock:2:1`).
    case unsupportedAddress(String)
    /// The address does not fit `sockaddr_un.sun_path` (107 bytes for a path, 108 for an abstract name).
    case addressTooLong(String)
    /// `socket(2)` failed.
    case socketFailed(errno: Int32)
    /// `sendto(2)` failed: usually systemd is gone (ECONNREFUSED, ENOENT), its queue stayed full
    /// for the whole send timeout (EAGAIN), or the unit forbids notifications from this process.
    case sendFailed(address: String, errno: Int32)
    /// The kernel took only part of the datagram.
    case shortWrite(address: String, sent: Int, expected: Int)

    public var description: String {
        switch self {
        case .unsupportedAddress(let value):
            return "NOTIFY_SOCKET=\(value) is not an absolute AF_UNIX path or @abstract name"
        case .addressTooLong(let value):
            return "NOTIFY_SOCKET=\(value) is longer than a sockaddr_un path"
        case .socketFailed(let code):
            return "cannot create a notification socket: \(String(cString: strerror(code)))"
        case .sendFailed(let address, let code):
            return "cannot notify systemd at \(address): \(String(cString: strerror(code)))"
        case .shortWrite(let address, let sent, let expected):
            return "notification to \(address) truncated: \(sent) of \(expected) bytes sent"
        }
    }
}
