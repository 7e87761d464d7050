// Socket activation: the LISTEN_* parsing as sd_listen_fds(3) does it (pure, on dictionaries), the
// validation of real sockets of every wrong kind, and one end-to-end take from the process
// environment on a descriptor that the test places itself (not 3, which the test runner owns).
import Foundation
import Glibc
import Testing
@testable import RenderServer

/// Socket helpers for these tests; each returns a descriptor the caller closes.
enum TestSockets {
    static func unixStream(path: String?, listen shouldListen: Bool = true) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno)!) }
        if let path { try bind(fd, sunPath: Array(path.utf8) + [0]) }
        if shouldListen { guard listen(fd, 8) == 0 else { throw POSIXError(.init(rawValue: errno)!) } }
        return fd
    }

    static func bind(_ fd: Int32, sunPath: [UInt8]) throws {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: sunPath) }
        let length = socklen_t(2 + sunPath.count)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, length) }
        }
        guard result == 0 else { throw POSIXError(.init(rawValue: errno)!) }
    }

    static func temporarySocketPath() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sda-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent("dbrender.sock").path
    }
}

@Suite struct SystemdSocketActivationTests {
    // MARK: Parsing

    @Test func parsesDescriptorsAndNames() throws {
        let environment = ["LISTEN_PID": "1234", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "dbrenderd.socket:admin"]
        let activation = try #require(try SocketActivation.parse(environment: environment, pid: 1234))
        #expect(activation.descriptors == [
            .init(fileDescriptor: 3, name: "dbrenderd.socket"), .init(fileDescriptor: 4, name: "admin"),
        ])
    }

    @Test func namesDefaultToUnknownAndEmptyNamesCount() throws {
        let unnamed = try #require(try SocketActivation.parse(environment: ["LISTEN_PID": "9", "LISTEN_FDS": "2"], pid: 9))
        #expect(unnamed.descriptors.map(\.name) == ["unknown", "unknown"])
        let empty = try #require(try SocketActivation.parse(
            environment: ["LISTEN_PID": "9", "LISTEN_FDS": "3", "LISTEN_FDNAMES": "a::"], pid: 9, firstDescriptor: 10))
        #expect(empty.descriptors == [.init(fileDescriptor: 10, name: "a"), .init(fileDescriptor: 11, name: ""), .init(fileDescriptor: 12, name: "")])
    }

    @Test func notActivatedWhenVariablesAreMissingOrForAnotherProcess() throws {
        #expect(try SocketActivation.parse(environment: [:], pid: 9) == nil)
        #expect(try SocketActivation.parse(environment: ["LISTEN_FDS": "1"], pid: 9) == nil)
        #expect(try SocketActivation.parse(environment: ["LISTEN_PID": "9"], pid: 9) == nil)
        // Inherited from the activated parent: not ours, even though the rest is malformed.
        #expect(try SocketActivation.parse(environment: ["LISTEN_PID": "8", "LISTEN_FDS": "x"], pid: 9) == nil)
    }

    @Test(arguments: [
        ("LISTEN_PID", "0"), ("LISTEN_PID", "-9"), ("LISTEN_PID", "nine"), ("LISTEN_PID", ""),
        ("LISTEN_FDS", "0"), ("LISTEN_FDS", "-1"), ("LISTEN_FDS", "one"), ("LISTEN_FDS", "2147483645"),
    ])
    func rejectsWhatSdListenFdsRejects(variable: String, value: String) {
        var environment = ["LISTEN_PID": "9", "LISTEN_FDS": "1"]
        environment[variable] = value
        #expect(throws: SystemdEnvironmentError.invalidValue(variable: variable, value: value)) {
            try SocketActivation.parse(environment: environment, pid: 9)
        }
    }

    @Test func rejectsANameCountThatDoesNotMatch() {
        #expect(throws: SystemdEnvironmentError.nameCountMismatch(names: 1, descriptors: 2)) {
            try SocketActivation.parse(environment: ["LISTEN_PID": "9", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "a"], pid: 9)
        }
    }

    @Test func picksTheOnlyOrTheNamedDescriptor() throws {
        let two = SocketActivation(descriptors: [.init(fileDescriptor: -1, name: "a"), .init(fileDescriptor: -1, name: "b")])
        #expect(throws: SocketActivationError.ambiguousDescriptors(wanted: nil, available: ["a", "b"])) {
            try two.listeningSocket()
        }
        #expect(throws: SocketActivationError.ambiguousDescriptors(wanted: "c", available: ["a", "b"])) {
            try two.listeningSocket(named: "c")
        }
        // The named one is chosen, then validated: -1 is not open.
        #expect(throws: SocketActivationError.systemCallFailed(call: "fstat", fileDescriptor: -1, errno: EBADF)) {
            try two.listeningSocket(named: "b")
        }
    }

    // MARK: Validation of real descriptors

    @Test func acceptsAListeningUnixStreamSocketAndReportsItsPath() throws {
        let path = try TestSockets.temporarySocketPath()
        let fd = try TestSockets.unixStream(path: path)
        defer { close(fd); unlink(path) }
        let socket = try ListeningSocket(validating: fd)
        #expect(socket.fileDescriptor == fd)
        #expect(socket.address == .path(path))
    }

    @Test func reportsAbstractAndUnnamedAddresses() throws {
        let name = "dbrender-test-\(UUID().uuidString)"
        let abstract = try TestSockets.unixStream(path: nil, listen: false)
        defer { close(abstract) }
        try TestSockets.bind(abstract, sunPath: [0] + Array(name.utf8))
        #expect(listen(abstract, 1) == 0)
        #expect(try ListeningSocket(validating: abstract).address.description == "@" + name)

        // bind() with only the family autobinds the socket to a 5-hex-digit abstract name.
        let autobound = try TestSockets.unixStream(path: nil, listen: false)
        defer { close(autobound) }
        try TestSockets.bind(autobound, sunPath: [])
        #expect(listen(autobound, 1) == 0)
        guard case .abstract(let generated) = try ListeningSocket(validating: autobound).address else {
            Issue.record("expected an autobound abstract address")
            return
        }
        #expect(generated.count == 5)

        var unnamed = sockaddr_un()
        unnamed.sun_family = sa_family_t(AF_UNIX)
        #expect(ListeningSocket.address(of: unnamed, length: 2) == .unnamed)
    }

    @Test func rejectsABoundSocketThatIsNotListening() throws {
        let path = try TestSockets.temporarySocketPath()
        let fd = try TestSockets.unixStream(path: path, listen: false)
        defer { close(fd); unlink(path) }
        #expect(throws: SocketActivationError.notListening(fileDescriptor: fd)) { try ListeningSocket(validating: fd) }
    }

    @Test func rejectsADatagramSocket() throws {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        #expect(throws: SocketActivationError.wrongSocketType(fileDescriptor: fd, type: Int32(SOCK_DGRAM.rawValue))) {
            try ListeningSocket(validating: fd)
        }
    }

    @Test func acceptsATCPListenerAndSaysWhereItIsBound() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(bound == 0 && listen(fd, 1) == 0)
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        let socket = try ListeningSocket(validating: fd)
        #expect(socket.address == .tcp(host: "127.0.0.1", port: Int(UInt16(bigEndian: actual.sin_port))))
        #expect(socket.address.isTCP && socket.address.description.hasPrefix("127.0.0.1:"))
    }

    @Test func rejectsAPipeAndAClosedDescriptor() throws {
        var ends: [Int32] = [0, 0]
        try #require(pipe(&ends) == 0)
        defer { close(ends[0]); close(ends[1]) }
        #expect(throws: SocketActivationError.notASocket(fileDescriptor: ends[0])) { try ListeningSocket(validating: ends[0]) }
        // Never open (above any descriptor limit); a just-closed number could be reused by a parallel test.
        let closed = Int32.max
        #expect(throws: SocketActivationError.systemCallFailed(call: "fstat", fileDescriptor: closed, errno: EBADF)) {
            try ListeningSocket(validating: closed)
        }
    }

    // MARK: From the process environment

    @Test func takesFromTheProcessSetsCloseOnExecAndClearsTheEnvironment() throws {
        let path = try TestSockets.temporarySocketPath()
        let listener = try TestSockets.unixStream(path: path)
        defer { close(listener); unlink(path) }
        // A free descriptor number far above what the runner uses, as systemd would place it.
        var target: Int32 = 700
        while fcntl(target, F_GETFD) >= 0 { target += 1 }
        try #require(dup2(listener, target) == target)  // dup2 leaves FD_CLOEXEC clear, as exec does
        defer { close(target) }
        #expect(fcntl(target, F_GETFD) & FD_CLOEXEC == 0)

        setenv("LISTEN_PID", "\(getpid())", 1)
        setenv("LISTEN_FDS", "1", 1)
        setenv("LISTEN_FDNAMES", "dbrenderd.socket", 1)
        let activation = try #require(try SocketActivation.takeFromProcess(firstDescriptor: target))
        #expect(activation.descriptors == [.init(fileDescriptor: target, name: "dbrenderd.socket")])
        #expect(fcntl(target, F_GETFD) & FD_CLOEXEC != 0)
        for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] { #expect(getenv(name) == nil) }

        let socket = try activation.listeningSocket(named: "dbrenderd.socket")
        #expect(socket.address == .path(path))

        // The variables are gone: a second take finds nothing.
        #expect(try SocketActivation.takeFromProcess(firstDescriptor: target) == nil)
    }
}
