// Ctrl-C while a job runs: cancel it on the daemon (`DELETE /v1/renders/{id}`), then exit 130.
// The signal is taken by a dispatch source, so the cancel request is sent from an ordinary thread rather
// than from inside a signal handler, where almost nothing is safe to call. Once Ctrl-C is taken, this
// handler alone ends the process: the cancellation it asks for also ends the job's stream, and the main
// thread, seeing that, must not report it as a failure and exit 1 first (it did on a loaded machine).
import Dispatch
import Foundation
import RenderClient

/// Remembers the running job's id and cancels it when SIGINT arrives.
final class InterruptHandler: @unchecked Sendable {
    private let lock = NSLock()
    private var jobID: String?
    /// Set before the cancel request is sent, so any end of the stream that it causes comes after.
    private var isInterrupted = false
    private let source: DispatchSourceSignal

    init(client: DaemonClient, reporter: TerminalReporter) {
        // The default action would end the process before the source sees the signal.
        signal(SIGINT, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGINT, queue: DispatchQueue(label: "dbrender.interrupt"))
        var quickClient = client
        // Ctrl-C must not hang: a daemon that does not answer promptly is left to notice the closed stream.
        quickClient.http.connectTimeout = 2
        quickClient.http.readTimeout = 5
        // Held strongly: the handler lives as long as the process, and a Ctrl-C after the last job must
        // still find it.
        source.setEventHandler { self.interrupted(client: quickClient, reporter: reporter) }
        source.resume()
    }

    /// Follows the job ids of the stream, so that the handler knows which job to cancel.
    func track(_ event: RunEvent) {
        lock.withLock {
            switch event {
            case let .stream(streamEvent): jobID = streamEvent.id
            case .jobFinished, .jobStarting: jobID = nil
            default: break
            }
        }
    }

    /// Parks the calling thread for good when Ctrl-C has been taken: the handler exits the process.
    func waitIfInterrupted() {
        guard lock.withLock({ isInterrupted }) else { return }
        DispatchSemaphore(value: 0).wait()
    }

    private func interrupted(client: DaemonClient, reporter: TerminalReporter) -> Never {
        var message = "interrupted"
        let id = lock.withLock { () -> String? in
            isInterrupted = true
            return jobID
        }
        if let id {
            do {
                try client.cancel(jobID: id)
                message += "; cancelled job \(id)"
            } catch {
                message += "; could not cancel job \(id): \(error)"
            }
        }
        reporter.fail(message)
        exit(130)
    }
}
