// dbrenderd's lifecycle as swift-service-lifecycle services, run by one ServiceGroup that turns
// SIGTERM and SIGINT into a graceful shutdown. The group starts them in this order and shuts them
// down in reverse, each after the one before it has returned:
//   1. WatchdogService  — pings systemd's watchdog until everything else has stopped;
//   2. EngineService    — on shutdown, lets running and queued renders finish within the grace
//                         period, cancels what is left, stops the engine thread;
//   3. ListenerService  — on shutdown, first of all: closes every listener (open connections keep
//                         their answers) and stops accepting renders, telling systemd STOPPING=1;
//   4. ReloadService    — SIGHUP: loads the model (and the API key file) again beside the running
//                         one; the engine swaps it in when the running renders finish.
import Foundation
import Logging
import Models
import RenderServer
import ServiceLifecycle
import UnixSignals

struct WatchdogService: Service {
    let watchdog: SystemdWatchdog
    let notifier: SystemdNotifier

    func run() async throws {
        await cancelWhenGracefulShutdown { await watchdog.pingUntilCancelled(notifier) }
    }
}

struct EngineService: Service {
    let engine: RenderEngine
    let gracePeriod: Double
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        let deadline = Date().addingTimeInterval(gracePeriod)
        while engine.isBusy && Date() < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if engine.isBusy {
            logger.warning("grace period over; cancelling the renders still running")
            engine.cancelAll()
            let hardDeadline = Date().addingTimeInterval(10)
            while engine.isBusy && Date() < hardDeadline { try? await Task.sleep(for: .milliseconds(50)) }
        }
        // Let the event loop flush the last answers before the engine goes away.
        try? await Task.sleep(for: .milliseconds(200))
        engine.stop()
    }
}

struct ListenerService: Service {
    let server: RenderHTTPServer
    let engine: RenderEngine
    let notifier: SystemdNotifier
    let gracePeriod: Double
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        logger.info("stopping: no new renders; waiting for running ones", metadata: ["grace_seconds": "\(gracePeriod)"])
        _ = notifier.send(.stopping)
        server.stopListening()
        engine.stopAccepting()
    }
}

/// SIGHUP reloads; one reload at a time (a second SIGHUP during a load is ignored).
final class ReloadService: Service, @unchecked Sendable {
    let engine: RenderEngine
    let modelURL: URL
    /// Attached to every reloaded model as to the first.
    let tinyAutoencoder: AutoencoderTiny?
    let keys: APIKeys?
    let notifier: SystemdNotifier
    let logger: Logger
    private let lock = NSLock()
    private var reloading = false

    init(engine: RenderEngine, modelURL: URL, tinyAutoencoder: AutoencoderTiny?, keys: APIKeys?, notifier: SystemdNotifier, logger: Logger) {
        self.engine = engine; self.modelURL = modelURL; self.tinyAutoencoder = tinyAutoencoder
        self.keys = keys; self.notifier = notifier; self.logger = logger
    }

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            reload()
        }
    }

    private func reload() {
        guard lock.withLock({ reloading ? false : { reloading = true; return true }() }) else { return }
        _ = notifier.send(SystemdNotification.reloadingNow())
        logger.info("reloading the model", metadata: ["model": "\(modelURL.path)"])
        if let keys {
            do {
                try keys.reload()
                logger.info("API keys reloaded", metadata: ["keys": "\(keys.count)"])
            } catch {
                logger.error("API key file unreadable; keeping the current keys", metadata: ["error": "\(error)"])
            }
        }
        // The load takes seconds of CPU: a thread of its own, not one of Swift concurrency's few.
        Thread.detachNewThread { [self] in
            do {
                let (pipeline, description) = try DBRenderD.load(modelURL, tinyAutoencoder: tinyAutoencoder, logger: logger)
                engine.replacePipeline(pipeline, model: description)
                logger.info("model reloaded; it takes over when the running renders finish",
                            metadata: ["load_seconds": "\(String(format: "%.2f", description.loadSeconds))"])
            } catch {
                logger.error("reload failed; keeping the current model", metadata: ["error": "\(error)"])
            }
            _ = notifier.send(.ready)
            lock.withLock { reloading = false }
        }
    }
}

/// Until the daemon serves, SIGTERM and SIGINT simply end it (a model load of many seconds must not
/// make it deaf to them); cancelled once the ServiceGroup takes the signals over.
final class EarlyStopSignals: @unchecked Sendable {
    private let queue = DispatchQueue(label: "dbrenderd.early-signals")
    private var sources: [DispatchSourceSignal] = []

    init(logger: Logger) {
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler {
                logger.info("stopped before serving")
                exit(0)
            }
            source.resume()
            sources.append(source)
        }
    }

    func cancel() { for source in sources { source.cancel() } }
}
