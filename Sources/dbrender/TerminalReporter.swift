// What the user sees while jobs run. On a terminal: one progress line on stderr, redrawn in place with
// `\r` (bar, steps, ETA). Otherwise (a log, a pipe): plain lines — "queued (2 ahead)", "step 3/30".
// Written paths go to stdout either way, so that `dbrender … | xargs` gets nothing but paths.
import Foundation
import RenderAPI
import RenderClient

/// Shows a run's events. Locked: the Ctrl-C handler writes its last line from another thread.
final class TerminalReporter: @unchecked Sendable {
    private let lock = NSLock()
    private let isTerminal = isatty(STDERR_FILENO) != 0
    private var meter = ProgressMeter()
    /// "[3/10] " in a batch, so the progress line says which job it is.
    private var prefix = ""
    /// The progress line on screen (terminal mode), redrawn after a path is printed above it.
    private var statusLine: String?
    private let start = ContinuousClock.now

    func handle(_ event: RunEvent) {
        lock.withLock {
            switch event {
            case let .jobStarting(number, total, job):
                meter = ProgressMeter()
                prefix = total > 1 ? "[\(number)/\(total)] " : ""
                if total > 1 { printLine(prefix + Self.label(job)) }
                status("sending", plainLine: false)
            case let .stream(streamEvent):
                show(streamEvent)
            case let .wrote(path):
                clearStatus()
                FileHandle.standardOutput.write(Data((path + "\n").utf8))
                if let statusLine { draw(statusLine) }
            case let .skipped(paths):
                for path in paths { printLine("\(path): skipped (exists)") }
            case let .waiting(seconds):
                printLine(prefix + "queue full, trying again in \(seconds) s")
            case .jobFinished:
                clearStatus()
                statusLine = nil
            }
        }
    }

    /// Prints the one line that explains why dbrender stops.
    func fail(_ message: String) {
        lock.withLock {
            clearStatus()
            statusLine = nil
            writeError("dbrender: \(message)\n")
        }
    }

    private func show(_ event: StreamEvent) {
        switch event.event {
        case "queued":
            status("queued" + (event.position.map { " (\($0) ahead)" } ?? ""))
        case "started":
            status("started")
        case "progress":
            guard let step = event.step, let steps = event.steps else { return }
            meter.record(step: step, steps: steps, at: seconds())
            // A pipe gets every step as its own line; a terminal gets the bar redrawn in place.
            isTerminal ? status(meter.bar()) : printLine(prefix + "step \(step)/\(steps)")
        case "done":
            if !isTerminal { printLine(prefix + "done") }
        default:
            break
        }
    }

    /// Sets the progress line: redrawn in place on a terminal; elsewhere a plain line, if `plainLine`.
    private func status(_ text: String, plainLine: Bool = true) {
        if isTerminal {
            statusLine = prefix + text
            draw(prefix + text)
        } else if plainLine {
            printLine(prefix + text)
        }
    }

    private func draw(_ text: String) { writeError("\r" + text + "\u{1B}[K") }

    private func clearStatus() {
        if isTerminal && statusLine != nil { writeError("\r\u{1B}[K") }
    }

    /// A line of its own on stderr, above the progress line.
    private func printLine(_ text: String) {
        clearStatus()
        writeError(text + "\n")
        if let statusLine { draw(statusLine) }
    }

    private func writeError(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }

    private func seconds() -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// "0007: a photo of sks dog on the beach", the prompt cut at 60 characters.
    private static func label(_ job: RenderJob) -> String {
        let prompt = job.spec.request.prompt
        let short = prompt.count > 60 ? prompt.prefix(59) + "…" : Substring(prompt)
        return (job.origin.map { "line \($0.line): " } ?? "") + short
    }
}
