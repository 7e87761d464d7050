// sd_notify(3) without libsystemd: one datagram per call to the AF_UNIX socket in $NOTIFY_SOCKET.
// Like libsystemd, each send opens a fresh socket, so the notifier holds no mutable state and any
// thread may use it at any time. Errors are returned, never thrown: a daemon must keep serving
// when systemd cannot be told about it.
//
// One difference from libsystemd: a send waits at most `sendTimeout`. A datagram send blocks while
// the receiver's queue is full (net.unix.max_dgram_qlen, 10 by default); libsystemd waits forever,
// which would hang a daemon thread whenever the service manager stalls.
import Foundation

/// Sends state notifications to systemd; does nothing when the process was not started by systemd
/// with `Type=notify` (no `NOTIFY_SOCKET`).
///
/// ```swift
/// let systemd = SystemdNotifier()
/// systemd.send(.ready, .status("model loaded, listening"))
/// ```
public struct SystemdNotifier: Sendable {
    /// What a `send` did.
    public enum Outcome: Sendable, Equatable {
        /// The datagram was delivered to the socket.
        case sent
        /// `NOTIFY_SOCKET` is unset: not running under systemd (or not as `Type=notify`).
        case disabled
        /// The notification was lost; worth one log line, never worth stopping for.
        case failed(SystemdNotifyError)
    }

    /// Where notifications go; nil when disabled or when `NOTIFY_SOCKET` could not be parsed.
    public let address: NotifySocketAddress?
    /// Set when `NOTIFY_SOCKET` was present but unusable; every `send` then returns it.
    public let addressError: SystemdNotifyError?
    /// The longest a send waits for room in the manager's queue before giving up.
    public let sendTimeout: Duration

    /// Reads `NOTIFY_SOCKET` from `environment` (the process environment by default; tests pass
    /// their own dictionary).
    public init(
        environment: [String: String] = ProcessInfo.processInfo.environment, sendTimeout: Duration = .seconds(2)
    ) {
        self.sendTimeout = sendTimeout
        guard let value = environment["NOTIFY_SOCKET"] else {
            address = nil
            addressError = nil
            return
        }
        do {
            address = try NotifySocketAddress(parsing: value)
            addressError = nil
        } catch {
            address = nil
            addressError = error
        }
    }

    /// A notifier that sends to `address`, or does nothing when it is nil.
    public init(address: NotifySocketAddress?, sendTimeout: Duration = .seconds(2)) {
        self.address = address
        self.sendTimeout = sendTimeout
        addressError = nil
    }

    /// True when notifications are sent somewhere (or fail trying): systemd asked for them.
    public var isEnabled: Bool { address != nil || addressError != nil }

    /// Sends `notifications` together, in one datagram.
    @discardableResult
    public func send(_ notifications: SystemdNotification...) -> Outcome {
        send(notifications)
    }

    /// Sends `notifications` together, in one datagram (systemd applies them as one update).
    @discardableResult
    public func send(_ notifications: [SystemdNotification]) -> Outcome {
        if let addressError { return .failed(addressError) }
        guard let address else { return .disabled }
        return deliver(Array(SystemdNotification.payload(notifications).utf8), to: address)
    }

    private func deliver(_ payload: [UInt8], to address: NotifySocketAddress) -> Outcome {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failed(.socketFailed(errno: errno)) }
        defer { close(fd) }
        let (seconds, attoseconds) = sendTimeout.components
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        // A zero timeval would mean "wait forever": keep at least 1 µs.
        if timeout.tv_sec <= 0 && timeout.tv_usec <= 0 { timeout = timeval(tv_sec: 0, tv_usec: 1) }
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let sent = address.withSockaddr { sockaddrPointer, length in
            payload.withUnsafeBytes { bytes in
                // MSG_NOSIGNAL: a vanished peer must not raise SIGPIPE in the daemon.
                sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), sockaddrPointer, length)
            }
        }
        if sent < 0 { return .failed(.sendFailed(address: address.description, errno: errno)) }
        if sent != payload.count {
            return .failed(.shortWrite(address: address.description, sent: sent, expected: payload.count))
        }
        return .sent
    }
}
