// Ctrl-C and SIGTERM as a flag the long-running subcommands poll between steps.
import Dispatch
import Foundation

/// Set by SIGINT/SIGTERM: the run stops at the next micro-batch and saves a checkpoint.
final class InterruptFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var set = false
    private var sources: [DispatchSourceSignal] = []

    init() {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [unowned self] in self.lock.withLock { self.set = true } }
            source.resume()
            sources.append(source)
        }
    }

    var isSet: Bool { lock.withLock { set } }
}
