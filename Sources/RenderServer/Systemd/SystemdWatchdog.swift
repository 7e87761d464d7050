// The service watchdog of systemd.service(5) `WatchdogSec=`: systemd passes the interval in
// $WATCHDOG_USEC (and the process it is meant for in $WATCHDOG_PID), and restarts the service when
// no "WATCHDOG=1" arrives within it. Parsing follows sd_watchdog_enabled(3); pings go out at half
// the interval, as that page recommends, so one late ping is not yet a missed deadline.
import Glibc

/// Whether and how often to send `WATCHDOG=1`.
public struct SystemdWatchdog: Sendable, Equatable {
    /// systemd's deadline between two pings.
    public let timeout: Duration

    /// How often to ping: half the deadline.
    public var pingInterval: Duration { timeout / 2 }

    /// A watchdog with the given deadline (tests; normally `init(environment:pid:)`).
    public init(timeout: Duration) {
        self.timeout = timeout
    }

    /// Reads `WATCHDOG_USEC` and `WATCHDOG_PID`.
    ///
    /// Returns nil when there is no watchdog for this process: `WATCHDOG_USEC` is unset, or
    /// `WATCHDOG_PID` names another process (the variables leaked to a child). Throws when the
    /// values are malformed, which a daemon should log and otherwise ignore.
    public init?(environment: [String: String], pid: pid_t = getpid()) throws(SystemdEnvironmentError) {
        guard let usecText = environment["WATCHDOG_USEC"] else { return nil }
        // 0 and UINT64_MAX mean "not set" in systemd's time values; sd_watchdog_enabled rejects them.
        guard let usec = UInt64(usecText), usec != 0, usec != .max else {
            throw .invalidValue(variable: "WATCHDOG_USEC", value: usecText)
        }
        if let pidText = environment["WATCHDOG_PID"] {
            guard let watchedPID = parsePID(pidText) else {
                throw .invalidValue(variable: "WATCHDOG_PID", value: pidText)
            }
            if watchedPID != pid { return nil }
        }
        timeout = .microseconds(Int64(clamping: usec))
    }

    /// Sends `WATCHDOG=1` every `pingInterval` until the task is cancelled.
    ///
    /// `isHealthy` is asked before each ping: return false when the daemon is wedged (for example
    /// its event loop or job queue has stopped making progress) so that systemd restarts it. The
    /// check must not wait behind a long render, or a healthy daemon would miss its deadline.
    public func pingUntilCancelled(
        _ notifier: SystemdNotifier, isHealthy: @Sendable () async -> Bool = { true }
    ) async {
        while !Task.isCancelled {
            if await isHealthy() { notifier.send(.watchdog) }
            do { try await Task.sleep(for: pingInterval) } catch { return }
        }
    }
}
