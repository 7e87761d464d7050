// Where the daemon listens: a Unix socket path it creates (replacing a stale socket file only when
// nothing answers on it, never a file of another kind, and setting the configured mode), or a
// socket systemd hands over.
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The HTTP server on a Unix socket.
public final class RenderHTTPServer: @unchecked Sendable {
    public enum Endpoint: Sendable {
        /// Create and bind this path.
        case path(String)
        /// A listening socket inherited from systemd (socket activation).
        case inherited(fileDescriptor: Int32, path: String?)
    }

    private let group: MultiThreadedEventLoopGroup
    private let engine: RenderEngine
    private let logger: Logger
    private var channel: Channel?
    private var createdPath: String?

    public init(engine: RenderEngine, logger: Logger) {
        // One event loop: I/O is light; the cores belong to the engine's numeric work.
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.engine = engine
        self.logger = logger
    }

    /// Starts listening; returns the socket path.
    public func start(_ endpoint: Endpoint, mode: UInt16) throws -> String {
        let router = RequestRouter(engine: engine)
        let maximumBody = engine.configuration.limits.maximumBodyBytes
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 64)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: false)
                    try channel.pipeline.syncOperations.addHandler(HTTPHandler(router: router, maximumBodyBytes: maximumBody))
                }
            }
        switch endpoint {
        case .path(let path):
            try Self.prepareSocketPath(path)
            channel = try bootstrap.bind(unixDomainSocketPath: path).wait()
            createdPath = path
            guard chmod(path, mode_t(mode)) == 0 else {
                throw ListenerError(path: path, message: "cannot set mode \(String(mode, radix: 8)): \(String(cString: strerror(errno)))")
            }
            return path
        case .inherited(let fd, let path):
            channel = try bootstrap.withBoundSocket(fd).wait()
            return path ?? "fd \(fd)"
        }
    }

    /// Stops accepting connections (open connections finish their answers).
    public func stopListening() {
        try? channel?.close().wait()
        if let createdPath { unlink(createdPath) }
        createdPath = nil
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
