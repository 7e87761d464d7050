// SystemdNotifier against real AF_UNIX datagram sockets bound by the test, at a path and in the
// abstract namespace: what arrives must be exactly what sd_notify would have sent.
import Foundation
import Glibc
import Synchronization
import Testing
@testable import RenderServer

/// How long a receiver waits for a datagram before it gives up, in seconds.
let receiveTimeout = 120

/// A datagram socket standing in for systemd's notification socket.
final class NotifyReceiver: Sendable {
    let fileDescriptor: Int32
    /// The `NOTIFY_SOCKET` value that reaches this receiver.
    let notifySocket: String
    private let pathToRemove: String?

    /// Binds a socket file in a fresh temporary directory.
    init(path: ()) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sdn-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("notify").path
        fileDescriptor = try Self.bind(sunPath: Array(path.utf8) + [0])
        notifySocket = path
        pathToRemove = path
    }

    /// Binds an abstract-namespace socket; `nameLength` pads the name to test the limits.
    init(abstractNameLength: Int = 0) throws {
        var name = "dbrender-test-\(getpid())-\(UUID().uuidString)"
        if abstractNameLength > 0 { name = String((name + String(repeating: "x", count: abstractNameLength)).prefix(abstractNameLength)) }
        // The kernel compares abstract names over the bound length: no trailing NUL.
        fileDescriptor = try Self.bind(sunPath: [0] + Array(name.utf8))
        notifySocket = "@" + name
        pathToRemove = nil
    }

    deinit {
        close(fileDescriptor)
        if let pathToRemove { try? FileManager.default.removeItem(atPath: (pathToRemove as NSString).deletingLastPathComponent) }
    }

    /// The next datagram, or nil after `receiveTimeout` (a generous deadline: on a loaded machine
    /// the sender may not run for tens of seconds; a datagram that is on time is returned at once).
    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(fileDescriptor, &buffer, buffer.count, 0)
        return count < 0 ? nil : String(decoding: buffer.prefix(count), as: UTF8.self)
    }

    private static func bind(sunPath: [UInt8]) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno)!) }
        var timeout = timeval(tv_sec: receiveTimeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: sunPath) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)! + sunPath.count)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, length) }
        }
        guard result == 0 else {
            let code = errno
            close(fd)
            throw POSIXError(.init(rawValue: code)!)
        }
        return fd
    }
}

@Suite struct SystemdNotifierTests {
    @Test func sendsReadyAndStatusToAPathSocket() throws {
        let receiver = try NotifyReceiver(path: ())
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": receiver.notifySocket])
        #expect(notifier.isEnabled)
        #expect(notifier.send(.ready, .status("model loaded")) == .sent)
        #expect(receiver.receive() == "READY=1\nSTATUS=model loaded")
    }

    @Test func sendsToAnAbstractSocketWithTheExactNameLength() throws {
        let receiver = try NotifyReceiver()
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": receiver.notifySocket])
        #expect(notifier.address?.isAbstract == true)
        // family + NUL + name: one byte more (a trailing NUL) would address another socket.
        #expect(Int(notifier.address!.length) == 2 + receiver.notifySocket.utf8.count)
        #expect(notifier.send(.watchdog) == .sent)
        #expect(receiver.receive() == "WATCHDOG=1")
    }

    @Test func abstractNamesMayFillTheWholeSunPath() throws {
        // 108 bytes of sun_path: the NUL and a 107-byte name.
        let receiver = try NotifyReceiver(abstractNameLength: 107)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": receiver.notifySocket])
        #expect(notifier.send(.stopping) == .sent)
        #expect(receiver.receive() == "STOPPING=1")
        let tooLong = SystemdNotifier(environment: ["NOTIFY_SOCKET": receiver.notifySocket + "y"])
        #expect(tooLong.send(.stopping) == .failed(.addressTooLong(receiver.notifySocket + "y")))
    }

    @Test func pathLengthLeavesRoomForTheTerminatingNUL() throws {
        let longest = "/" + String(repeating: "p", count: 106)
        #expect(try NotifySocketAddress(parsing: longest).length == 2 + 108)
        #expect(throws: SystemdNotifyError.addressTooLong(longest + "p")) {
            try NotifySocketAddress(parsing: longest + "p")
        }
    }

    @Test func reloadingCarriesTheMonotonicClock() throws {
        let receiver = try NotifyReceiver(path: ())
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": receiver.notifySocket])
        let before = SystemdNotification.monotonicMicroseconds()
        #expect(notifier.send(.reloadingNow(), .status("reloading model")) == .sent)
        let after = SystemdNotification.monotonicMicroseconds()
        let lines = try #require(receiver.receive()).split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines[0] == "RELOADING=1")
        #expect(lines[2] == "STATUS=reloading model")
        let stamp = try #require(lines[1].hasPrefix("MONOTONIC_USEC=") ? UInt64(lines[1].dropFirst(15)) : nil)
        #expect((before...after).contains(stamp))
    }

    @Test func otherAssignments() {
        #expect(SystemdNotification.payload([.mainPID(4242)]) == "MAINPID=4242")
        #expect(SystemdNotification.payload([.extendTimeout(microseconds: 90_000_000)]) == "EXTEND_TIMEOUT_USEC=90000000")
        #expect(SystemdNotification.payload([.reloading(monotonicMicroseconds: 12), .ready]) == "RELOADING=1\nMONOTONIC_USEC=12\nREADY=1")
    }

    @Test func statusCannotSmuggleAnotherAssignment() {
        #expect(SystemdNotification.payload([.status("line one\nREADY=1\r\nx")]) == "STATUS=line one READY=1 x")
    }

    @Test func doesNothingWithoutNotifySocket() {
        let notifier = SystemdNotifier(environment: [:])
        #expect(!notifier.isEnabled)
        #expect(notifier.send(.ready) == .disabled)
        #expect(SystemdNotifier(address: nil).send(.watchdog) == .disabled)
    }

    @Test(arguments: ["run/systemd/notify", "vsock:2:1234", "@", "/", "", "/a\u{0}b"])
    func rejectsAddressesThatAreNotUnixSockets(value: String) {
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": value])
        #expect(notifier.isEnabled, "systemd asked for notifications; losing them is worth reporting")
        #expect(notifier.send(.ready) == .failed(.unsupportedAddress(value)))
    }

    @Test func reportsAVanishedManagerInsteadOfThrowing() {
        let missing = "/nonexistent-\(UUID().uuidString)/notify"
        let outcome = SystemdNotifier(environment: ["NOTIFY_SOCKET": missing]).send(.ready)
        #expect(outcome == .failed(.sendFailed(address: missing, errno: ENOENT)))
        if case .failed(let error) = outcome { #expect(error.description.contains("No such file")) }
    }

    @Test func isSafeToUseFromManyThreadsAtOnce() throws {
        let receiver = try NotifyReceiver()
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": receiver.notifySocket])
        // The receiver drains on its own thread, as systemd does: the socket queues only a few
        // datagrams (net.unix.max_dgram_qlen) before senders wait.
        let received = Mutex<Set<String>>([])
        let drained = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            for _ in 0..<64 {
                guard let message = receiver.receive() else { break }
                received.withLock { _ = $0.insert(message) }
            }
            drained.signal()
        }
        let outcomes = Mutex<[SystemdNotifier.Outcome]>([])
        DispatchQueue.concurrentPerform(iterations: 64) { index in
            let outcome = notifier.send(.status("thread \(index)"))
            outcomes.withLock { $0.append(outcome) }
        }
        drained.wait()
        #expect(outcomes.withLock { $0 } == Array(repeating: .sent, count: 64))
        #expect(received.withLock { $0 } == Set((0..<64).map { "STATUS=thread \($0)" }))
    }

    @Test func givesUpWhenTheManagerStopsReading() throws {
        let receiver = try NotifyReceiver()
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": receiver.notifySocket], sendTimeout: .milliseconds(50))
        // Nobody reads: the queue fills, then a send fails after the timeout instead of hanging.
        var outcome = SystemdNotifier.Outcome.sent
        for _ in 0..<10_000 where outcome == .sent { outcome = notifier.send(.watchdog) }
        #expect(outcome == .failed(.sendFailed(address: receiver.notifySocket, errno: EAGAIN)))
    }
}
