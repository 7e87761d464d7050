// Socket activation as sd_listen_fds(3) defines it: systemd passes the sockets of the .socket unit
// as descriptors 3, 4, … and says so in $LISTEN_FDS, for the process in $LISTEN_PID, with names in
// $LISTEN_FDNAMES (colon-separated, one per descriptor; default "unknown"). The parsing is a pure
// function of (environment, pid, first descriptor) so that tests need not touch descriptor 3.
import Glibc

/// The descriptors systemd passed to this process.
///
/// ```swift
/// if let activation = try SocketActivation.takeFromProcess() {
///     let listener = try activation.listeningSocket()
///     bootstrap.withBoundSocket(listener.fileDescriptor)   // NIO's ServerBootstrap
/// }
/// ```
public struct SocketActivation: Sendable, Equatable {
    /// One passed descriptor and its name (`FileDescriptorName=` in the .socket unit, by default
    /// the socket unit's name).
    public struct Descriptor: Sendable, Equatable {
        public let fileDescriptor: Int32
        public let name: String
    }

    /// sd-daemon.h's `SD_LISTEN_FDS_START`: 0–2 are stdin, stdout and stderr.
    public static let firstDescriptor: Int32 = 3

    /// The passed descriptors, in order.
    public let descriptors: [Descriptor]

    /// The variables systemd sets for activation; removed by `takeFromProcess()`. (`LISTEN_PIDFDID`
    /// is newer systemd's pid-reuse guard; it is cleared but not checked here.)
    static let variables = ["LISTEN_PID", "LISTEN_PIDFDID", "LISTEN_FDS", "LISTEN_FDNAMES"]

    /// Parses the activation variables without touching any descriptor.
    ///
    /// Returns nil when this process was not socket-activated: `LISTEN_PID` or `LISTEN_FDS` is
    /// unset, or `LISTEN_PID` is another process (an ancestor's variables were inherited).
    /// Throws on values systemd would not write — as sd_listen_fds does, including `LISTEN_FDS=0`.
    public static func parse(
        environment: [String: String], pid: pid_t, firstDescriptor: Int32 = firstDescriptor
    ) throws(SystemdEnvironmentError) -> SocketActivation? {
        guard let pidText = environment["LISTEN_PID"] else { return nil }
        guard let listenPID = parsePID(pidText) else {
            throw .invalidValue(variable: "LISTEN_PID", value: pidText)
        }
        guard listenPID == pid, let countText = environment["LISTEN_FDS"] else { return nil }
        guard let count = Int32(countText), count > 0, count <= Int32.max - firstDescriptor else {
            throw .invalidValue(variable: "LISTEN_FDS", value: countText)
        }
        let names: [String]
        if let namesText = environment["LISTEN_FDNAMES"] {
            // Empty names are kept ("a::b" is three names), as systemd splits without coalescing.
            names = namesText.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard names.count == Int(count) else {
                throw .nameCountMismatch(names: names.count, descriptors: Int(count))
            }
        } else {
            names = Array(repeating: "unknown", count: Int(count))
        }
        return SocketActivation(descriptors: names.enumerated().map { offset, name in
            Descriptor(fileDescriptor: firstDescriptor + Int32(offset), name: name)
        })
    }

    /// Takes the descriptors systemd passed to this process, as `sd_listen_fds(1)` does.
    ///
    /// Reads the process environment, marks each descriptor close-on-exec (so a child process
    /// does not keep the listening socket open) and removes the activation variables, also when
    /// they are invalid or meant for another process, so no child mistakes them for its own.
    /// Call it once, early in `main`, before threads that read the environment are started:
    /// `unsetenv` is not thread-safe.
    public static func takeFromProcess(firstDescriptor: Int32 = firstDescriptor) throws(SocketActivationError)
        -> SocketActivation?
    {
        var environment: [String: String] = [:]
        for name in variables {
            if let value = getenv(name) { environment[name] = String(cString: value) }
        }
        defer { for name in variables { unsetenv(name) } }
        let activation: SocketActivation?
        do {
            activation = try parse(environment: environment, pid: getpid(), firstDescriptor: firstDescriptor)
        } catch {
            throw .environment(error)
        }
        for descriptor in activation?.descriptors ?? [] {
            let flags = fcntl(descriptor.fileDescriptor, F_GETFD)
            guard flags >= 0, fcntl(descriptor.fileDescriptor, F_SETFD, flags | FD_CLOEXEC) == 0 else {
                throw .systemCallFailed(call: "fcntl(F_SETFD)", fileDescriptor: descriptor.fileDescriptor, errno: errno)
            }
        }
        return activation
    }

    /// The descriptor to serve on, validated as a listening stream socket (Unix or TCP).
    ///
    /// With `name`, the descriptor of that name (`FileDescriptorName=`); without, the only one
    /// passed — more than one is then an error rather than a guess.
    public func listeningSocket(named name: String? = nil) throws(SocketActivationError) -> ListeningSocket {
        let candidates = name.map { name in descriptors.filter { $0.name == name } } ?? descriptors
        guard candidates.count == 1 else {
            throw .ambiguousDescriptors(wanted: name, available: descriptors.map(\.name))
        }
        return try ListeningSocket(validating: candidates[0].fileDescriptor)
    }

    /// Every passed descriptor, each validated: a socket unit may listen on a Unix path and on TCP
    /// ports at once (several `ListenStream=` lines), and the daemon serves them all.
    public func listeningSockets() throws(SocketActivationError) -> [ListeningSocket] {
        var sockets: [ListeningSocket] = []
        for descriptor in descriptors { sockets.append(try ListeningSocket(validating: descriptor.fileDescriptor)) }
        return sockets
    }
}
