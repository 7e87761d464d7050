// WATCHDOG_USEC / WATCHDOG_PID as sd_watchdog_enabled(3) reads them, and the ping loop against a
// real datagram socket.
import Foundation
import Glibc
import Synchronization
import Testing
@testable import RenderServer

@Suite struct SystemdWatchdogTests {
    @Test func pingsAtHalfTheInterval() throws {
        let watchdog = try #require(try SystemdWatchdog(environment: ["WATCHDOG_USEC": "30000000"], pid: 7))
        #expect(watchdog.timeout == .seconds(30))
        #expect(watchdog.pingInterval == .seconds(15))
    }

    @Test func honoursWatchdogPID() throws {
        #expect(try SystemdWatchdog(environment: ["WATCHDOG_USEC": "1000", "WATCHDOG_PID": "7"], pid: 7) != nil)
        // The variables leaked into a child: the watchdog is not ours.
        #expect(try SystemdWatchdog(environment: ["WATCHDOG_USEC": "1000", "WATCHDOG_PID": "8"], pid: 7) == nil)
        #expect(try SystemdWatchdog(environment: ["WATCHDOG_PID": "7"], pid: 7) == nil)
        #expect(try SystemdWatchdog(environment: [:], pid: 7) == nil)
    }

    @Test(arguments: [
        ("WATCHDOG_USEC", "0"), ("WATCHDOG_USEC", "-5"), ("WATCHDOG_USEC", "30s"),
        ("WATCHDOG_USEC", "18446744073709551615"), ("WATCHDOG_PID", "0"), ("WATCHDOG_PID", "abc"),
    ])
    func rejectsMalformedValues(variable: String, value: String) {
        var environment = ["WATCHDOG_USEC": "1000", "WATCHDOG_PID": "7"]
        environment[variable] = value
        #expect(throws: SystemdEnvironmentError.invalidValue(variable: variable, value: value)) {
            try SystemdWatchdog(environment: environment, pid: 7)
        }
    }

    /// Waits on events only: each receive returns as soon as a ping arrives (deadline
    /// `receiveTimeout`), and the unhealthy loop is watched until it has asked three times, however
    /// long a loaded machine takes to run it.
    @Test func pingLoopSendsUntilCancelledAndSkipsWhenUnhealthy() async throws {
        let receiver = try NotifyReceiver()
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": receiver.notifySocket])
        let watchdog = SystemdWatchdog(timeout: .milliseconds(40))
        let task = Task { await watchdog.pingUntilCancelled(notifier) }
        // The blocking receive runs on its own thread: on a cooperative pool of two threads, busy
        // with other suites, it would otherwise starve the ping task it is waiting for.
        func receiveOffPool() async -> String? {
            await withCheckedContinuation { continuation in
                Thread.detachNewThread { continuation.resume(returning: receiver.receive()) }
            }
        }
        #expect(await receiveOffPool() == "WATCHDOG=1")
        #expect(await receiveOffPool() == "WATCHDOG=1")
        task.cancel()
        await task.value
        // Drop pings sent between the second receive and the cancellation.
        var byte: UInt8 = 0
        while recv(receiver.fileDescriptor, &byte, 1, Int32(MSG_DONTWAIT)) >= 0 {}

        let checks = Atomic<Int>(0)
        let unhealthy = Task {
            await watchdog.pingUntilCancelled(notifier, isHealthy: { checks.add(1, ordering: .relaxed); return false })
        }
        let deadline = ContinuousClock.now + .seconds(receiveTimeout)
        while checks.load(ordering: .relaxed) < 3 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        unhealthy.cancel()
        await unhealthy.value
        #expect(checks.load(ordering: .relaxed) >= 3, "the unhealthy loop ran \(checks.load(ordering: .relaxed)) times")
        // Asked three times, sent nothing: a non-blocking read finds no datagram.
        #expect(recv(receiver.fileDescriptor, &byte, 1, Int32(MSG_DONTWAIT)) < 0)
    }
}
