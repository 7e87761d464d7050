// WATCHDOG_USEC / WATCHDOG_PID as sd_watchdog_enabled(3) reads them, and the ping loop against a
// real datagram socket.
import Foundation
import Glibc
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

        let unhealthy = Task { await watchdog.pingUntilCancelled(notifier, isHealthy: { false }) }
        try await Task.sleep(for: .milliseconds(100))
        unhealthy.cancel()
        await unhealthy.value
        // Nothing queued: a non-blocking read finds no datagram.
        #expect(recv(receiver.fileDescriptor, &byte, 1, Int32(MSG_DONTWAIT)) < 0)
    }
}
