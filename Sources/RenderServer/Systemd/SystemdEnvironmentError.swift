// A systemd-provided environment variable (LISTEN_*, WATCHDOG_*) that does not parse. systemd
// never writes such values; seeing one means something else set the variable.
import Glibc

/// A malformed systemd environment variable.
public enum SystemdEnvironmentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `variable` holds `value`, which is not what systemd writes there.
    case invalidValue(variable: String, value: String)
    /// `LISTEN_FDNAMES` names a different number of descriptors than `LISTEN_FDS` passes.
    case nameCountMismatch(names: Int, descriptors: Int)

    public var description: String {
        switch self {
        case .invalidValue(let variable, let value):
            return "\(variable)=\(value) is not a valid value"
        case .nameCountMismatch(let names, let descriptors):
            return "LISTEN_FDNAMES has \(names) names for LISTEN_FDS=\(descriptors) descriptors"
        }
    }
}

/// A process id as systemd's parse_pid() accepts it: a positive decimal that fits `pid_t`.
func parsePID(_ text: String) -> pid_t? {
    guard let pid = pid_t(text), pid > 0 else { return nil }
    return pid
}
