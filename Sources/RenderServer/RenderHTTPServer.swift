// The HTTP server and where it listens: Unix socket paths it creates (replacing a stale socket file
// only when nothing answers on it, never a file of another kind, and setting the configured mode),
// TCP addresses (`--listen`), and sockets systemd hands over (either kind). Access: a Unix socket is
// guarded by its file mode; TCP needs a key from `--api-key-file` on every request when a key file
// is given, and without one only a loopback address may be served.
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The HTTP server: one event loop, any number of listeners.
public final class RenderHTTPServer: @unchecked Sendable {
    public enum Endpoint: Sendable {
        /// Create and bind this Unix socket path.
        case path(String)
        /// Bind this TCP address (`--listen HOST:PORT`; port 0 picks a free port).
        case tcp(host: String, port: Int)
        /// A listening socket inherited from systemd (socket activation), Unix or TCP.
        case inherited(ListeningSocket)
    }

    private let group: MultiThreadedEventLoopGroup
    private let engine: RenderEngine
    private let keys: APIKeys?
    private let logger: Logger
    /// A1111's API state (options, current job), shared by every listener.
    private let a1111: A1111Service
    private let lock = NSLock()
    private var channels: [Channel] = []
    private var createdPaths: [String] = []

    /// - Parameter keys: the credentials TCP listeners require (`--api-key-file`); nil: none.
    public init(engine: RenderEngine, keys: APIKeys?, logger: Logger) {
        // One event loop: I/O is light; the cores belong to the engine's numeric work.
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.engine = engine
        self.keys = keys
        self.logger = logger
        a1111 = A1111Service(engine: engine)
    }

    /// Starts listening on `endpoint`; returns where it is bound (a TCP port of 0 resolved).
    public func start(_ endpoint: Endpoint, mode: UInt16) throws -> ListeningSocket.Address {
        switch endpoint {
        case .path(let path):
            try Self.prepareSocketPath(path)
            let channel = try bootstrap(keys: nil).bind(unixDomainSocketPath: path).wait()
            lock.withLock { channels.append(channel); createdPaths.append(path) }
            guard chmod(path, mode_t(mode)) == 0 else {
                throw ListenerError(path: path, message: "cannot set mode \(String(mode, radix: 8)): \(String(cString: strerror(errno)))")
            }
            return .path(path)
        case .tcp(let host, let port):
            let channel: Channel
            do { channel = try bootstrap(keys: keys).bind(host: host, port: port).wait() } catch {
                throw ListenerError(path: "\(host):\(port)", message: "cannot listen: \(error)")
            }
            return try accept(channel, requested: "\(host):\(port)")
        case .inherited(let socket):
            let channel = try bootstrap(keys: socket.address.isTCP ? keys : nil).withBoundSocket(socket.fileDescriptor).wait()
            guard socket.address.isTCP else {
                lock.withLock { channels.append(channel) }
                return socket.address
            }
            return try accept(channel, requested: "\(socket.address)")
        }
    }

    /// Keeps a bound TCP channel if it may serve: with keys any address, without only loopback.
    private func accept(_ channel: Channel, requested: String) throws -> ListeningSocket.Address {
        guard let local = channel.localAddress, let host = local.ipAddress, let port = local.port else {
            try? channel.close().wait()
            throw ListenerError(path: requested, message: "bound to an address that is not TCP")
        }
        guard keys != nil || Self.isLoopback(host) else {
            try? channel.close().wait()
            throw ListenerError(path: requested, message: "\(host) is reachable from other machines; give --api-key-file, or listen on 127.0.0.1 or [::1]")
        }
        lock.withLock { channels.append(channel) }
        return .tcp(host: host, port: port)
    }

    private func bootstrap(keys: APIKeys?) -> ServerBootstrap {
        let router = RequestRouter(engine: engine, a1111: a1111)
        let maximumBody = engine.configuration.limits.maximumBodyBytes
        return ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 64)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: false)
                    try channel.pipeline.syncOperations.addHandler(HTTPHandler(router: router, maximumBodyBytes: maximumBody, keys: keys))
                }
            }
    }

    /// True for 127.0.0.0/8, ::1 and IPv4-mapped 127.x.
    public static func isLoopback(_ host: String) -> Bool {
        host.hasPrefix("127.") || host == "::1" || host.lowercased().hasPrefix("::ffff:127.")
    }

    /// Stops accepting connections (open connections finish their answers).
    public func stopListening() {
        let (open, paths) = lock.withLock {
            defer { channels = []; createdPaths = [] }
            return (channels, createdPaths)
        }
        for channel in open { try? channel.close().wait() }
        for path in paths { unlink(path) }
    }

    /// Closes everything.
    public func shutdown() {
        stopListening()
        try? group.syncShutdownGracefully()
    }

    /// Makes room for a new socket at `path`: a leftover socket file nobody listens on is removed;
    /// a live socket (another daemon) or any other kind of file is an error.
    static func prepareSocketPath(_ path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            let parent = (path as NSString).deletingLastPathComponent
            if !parent.isEmpty { try? FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) }
            return
        }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw ListenerError(path: path, message: "exists and is not a socket; not replacing it")
        }
        if isListening(path) {
            throw ListenerError(path: path, message: "another process is listening on it (is dbrenderd already running?)")
        }
        unlink(path)
    }

    /// True when a connection to the Unix socket at `path` succeeds.
    static func isListening(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0 }
        }
    }
}

/// The socket cannot be set up.
public struct ListenerError: Error, CustomStringConvertible {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }
}
