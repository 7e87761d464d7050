// The assignments a service sends to systemd, as listed in sd_notify(3), rendered as the
// newline-separated "KEY=VALUE" lines of one datagram.
import Glibc

/// One state change or piece of information for the service manager.
public enum SystemdNotification: Sendable, Equatable {
    /// `READY=1`: start-up (or a reload) has finished; systemd now considers the unit active.
    case ready
    /// `RELOADING=1` with `MONOTONIC_USEC=`: a reload has begun; send `.ready` when it is done.
    ///
    /// `Type=notify-reload` (systemd ≥ 253) requires the timestamp in the same datagram: it is how
    /// systemd tells the reload it asked for (by signal) from an older one, and without it
    /// `systemctl reload` can return before the reload has finished. Older systemd ignores it.
    case reloading(monotonicMicroseconds: UInt64)
    /// `STOPPING=1`: shutdown has begun.
    case stopping
    /// `STATUS=…`: a one-line status shown by `systemctl status`.
    case status(String)
    /// `WATCHDOG=1`: a keep-alive ping (see `SystemdWatchdog`).
    case watchdog
    /// `MAINPID=…`: the service's main process is another process than the sender.
    case mainPID(pid_t)
    /// `EXTEND_TIMEOUT_USEC=…`: ask for more time to start, reload or stop (a large model).
    case extendTimeout(microseconds: UInt64)

    /// `.reloading` stamped with the current `CLOCK_MONOTONIC` time.
    public static func reloadingNow() -> SystemdNotification {
        .reloading(monotonicMicroseconds: monotonicMicroseconds())
    }

    /// `CLOCK_MONOTONIC` in microseconds: the clock systemd compares `MONOTONIC_USEC` with.
    static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
    }

    /// The assignment lines of this notification.
    var lines: [String] {
        switch self {
        case .ready: return ["READY=1"]
        case .reloading(let usec): return ["RELOADING=1", "MONOTONIC_USEC=\(usec)"]
        case .stopping: return ["STOPPING=1"]
        // A newline would end the assignment and let the rest be read as another one.
        case .status(let text): return ["STATUS=" + text.map { $0.isNewline ? " " : String($0) }.joined()]
        case .watchdog: return ["WATCHDOG=1"]
        case .mainPID(let pid): return ["MAINPID=\(pid)"]
        case .extendTimeout(let usec): return ["EXTEND_TIMEOUT_USEC=\(usec)"]
        }
    }

    /// The datagram payload for several notifications sent together (atomically, in one message).
    static func payload(_ notifications: [SystemdNotification]) -> String {
        notifications.flatMap(\.lines).joined(separator: "\n")
    }
}

