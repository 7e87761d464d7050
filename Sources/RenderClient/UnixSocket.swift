// A connected AF_UNIX stream socket over plain POSIX calls: connect with a deadline, send everything,
// receive with an optional per-read timeout. Blocking I/O on purpose — the client does one thing at a time.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One connection to a Unix-domain stream socket. Owned by one thread; closed on deinit.
public final class UnixSocket {
    /// The socket file this connection was made to (for error messages).
    public let path: String
    private var descriptor: Int32

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    deinit { close() }

    /// Connects to the socket file at `path`, giving up after `timeout` seconds.
    ///
    /// The connect is non-blocking so that a daemon whose listen backlog is full (Linux then answers
    /// EAGAIN) or that never accepts cannot hang the client forever.
    public static func connect(to path: String, timeout: Double) throws(ClientError) -> UnixSocket {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        // sun_path needs its terminating NUL.
        guard pathBytes.count < capacity else { throw .socketPathTooLong(path: path, limit: capacity - 1) }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: pathBytes) }

        #if canImport(Glibc)
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        let descriptor = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw .socketFailed(operation: "socket", errno: errno) }
        let connection = UnixSocket(path: path, descriptor: descriptor)
        #if canImport(Darwin)
        // Darwin has no MSG_NOSIGNAL: a write to a closed peer must fail with EPIPE, not kill the process.
        var on: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_NOSIGPIPE, &on, socklen_t(MemoryLayout<Int32>.size))
        #endif

        let flags = fcntl(descriptor, F_GETFL)
        _ = fcntl(descriptor, F_SETFL, flags | O_NONBLOCK)
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        connecting: while true {
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    systemConnect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            if result == 0 { break }
            let code = errno
            switch code {
            case EINTR:
                continue
            case EAGAIN:
                // Linux: the backlog is full. Nothing to poll for; try again shortly.
                guard ContinuousClock.now < deadline else { throw .connectTimedOut(path: path, seconds: timeout) }
                usleep(20_000)
            case EINPROGRESS, EALREADY:
                // Darwin may complete a Unix connect asynchronously: wait for writability, then ask how it went.
                let remaining = deadline - ContinuousClock.now
                guard try connection.poll(events: Int16(POLLOUT), milliseconds: remaining.milliseconds) else {
                    throw .connectTimedOut(path: path, seconds: timeout)
                }
                var pending: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &pending, &length)
                guard pending == 0 else { throw .cannotConnect(path: path, errno: pending, alsoTried: []) }
                break connecting
            default:
                throw .cannotConnect(path: path, errno: code, alsoTried: [])
            }
        }
        _ = fcntl(descriptor, F_SETFL, flags & ~O_NONBLOCK)
        return connection
    }

    /// Sends all of `bytes`.
    public func send(_ bytes: [UInt8]) throws(ClientError) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { buffer in
                systemSend(descriptor, buffer.baseAddress! + offset, buffer.count - offset, Self.sendFlags)
            }
            if sent < 0 {
                if errno == EINTR { continue }
                throw .socketFailed(operation: "send", errno: errno)
            }
            offset += sent
        }
    }

    /// Receives up to `maximum` bytes; an empty answer means the peer closed the connection.
    /// - Parameter timeout: longest wait for the first byte, in seconds; nil waits as long as it takes.
    public func receive(maximum: Int = 65536, timeout: Double?) throws(ClientError) -> [UInt8] {
        if let timeout {
            guard try poll(events: Int16(POLLIN), milliseconds: Int(timeout * 1000)) else {
                throw .readTimedOut(seconds: timeout)
            }
        }
        var buffer = [UInt8](repeating: 0, count: maximum)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress!, maximum, 0) }
            if count >= 0 { return Array(buffer[..<count]) }
            if errno == EINTR { continue }
            throw .socketFailed(operation: "recv", errno: errno)
        }
    }

    /// Closes the connection; later calls do nothing.
    public func close() {
        if descriptor >= 0 {
            _ = systemClose(descriptor)
            descriptor = -1
        }
    }

    /// Waits until `events` are ready; false on timeout.
    private func poll(events: Int16, milliseconds: Int) throws(ClientError) -> Bool {
        var entry = pollfd(fd: descriptor, events: events, revents: 0)
        while true {
            let ready = systemPoll(&entry, 1, Int32(clamping: max(0, milliseconds)))
            if ready >= 0 { return ready > 0 }
            if errno == EINTR { continue }
            throw .socketFailed(operation: "poll", errno: errno)
        }
    }

    #if canImport(Glibc)
    private static let sendFlags = Int32(MSG_NOSIGNAL)
    #else
    private static let sendFlags: Int32 = 0
    #endif
}

// The methods above shadow the C functions of the same names inside the class; these reach the C ones.
#if canImport(Glibc)
private func systemConnect(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
    Glibc.connect(fd, address, length)
}
private func systemSend(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int, _ flags: Int32) -> Int {
    Glibc.send(fd, bytes, count, flags)
}
private func systemClose(_ fd: Int32) -> Int32 { Glibc.close(fd) }
private func systemPoll(_ entries: UnsafeMutablePointer<pollfd>, _ count: nfds_t, _ timeout: Int32) -> Int32 {
    Glibc.poll(entries, count, timeout)
}
#else
private func systemConnect(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
    Darwin.connect(fd, address, length)
}
private func systemSend(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int, _ flags: Int32) -> Int {
    Darwin.send(fd, bytes, count, flags)
}
private func systemClose(_ fd: Int32) -> Int32 { Darwin.close(fd) }
private func systemPoll(_ entries: UnsafeMutablePointer<pollfd>, _ count: nfds_t, _ timeout: Int32) -> Int32 {
    Darwin.poll(entries, count, timeout)
}
#endif

extension Duration {
    /// Whole milliseconds, rounded down.
    fileprivate var milliseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}
