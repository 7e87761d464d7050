// dbrenderd — keeps an SD 1.x model loaded and serves renders over a Unix socket (HTTP/1.1 + JSON),
// and over TCP with `--listen` (API keys from `--api-key-file`).
// Lifecycle: load the model (memory-mapped), listen, log one "ready" line, serve; SIGHUP loads the
// model (and the API key file) again beside the running one and swaps it in; SIGTERM stops accepting,
// lets in-flight renders finish within the grace period, then exits 0 — as services of a
// swift-service-lifecycle ServiceGroup (DaemonServices.swift).
import ArgumentParser
import Dispatch
import Foundation
import Logging
import Models
import RenderServer
import Sampling
import Tensor
import ServiceLifecycle
import Weights

@main
struct DBRenderD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dbrenderd",
        abstract: "Serve Stable Diffusion 1.x renders over a Unix socket, and over TCP.",
        discussion: """
            The socket defaults to $XDG_RUNTIME_DIR/dbrender.sock (or /run/dbrender/dbrender.sock), or the \
            sockets systemd passes (socket activation; Unix and TCP). --listen adds TCP addresses; with \
            --api-key-file every TCP request needs a key (Authorization: Bearer KEY, or HTTP Basic user:password \
            equal to a line), and without one only loopback addresses may be used. Limits and defaults come \
            from --config (JSON; see README).
            """)

    @Option(help: "A diffusers model folder, or a single original-layout .safetensors / .ckpt file.")
    var model: String

    @Option(help: "Unix socket path to create.")
    var socket: String?

    @Option(help: "JSON configuration file (limits, defaults, socket mode, grace period).")
    var config: String?

    @Option(help: "Compute threads (default: all cores, or $DBRENDER_THREADS).")
    var threads: Int?

    @Option(help: "Mode of the socket file, octal (default 0660).")
    var socketMode: String?

    @Option(help: "Folder of LoRAs (.safetensors) that requests may name; files added later are found without a restart.")
    var loraDir: String?

    @Option(help: ArgumentHelp("TAESD weights (a diffusers AutoencoderTiny folder, or taesd_decoder.safetensors / .pth): the fast decoder a request may choose (\"decoder\": \"taesd\") and the live previews' decoder.", valueName: "path"))
    var taesd: String?

    @Option(help: ArgumentHelp("Also serve HTTP on this TCP address (repeatable), e.g. 127.0.0.1:7860 or [::1]:7860.", valueName: "host:port"))
    var listen: [String] = []

    @Option(help: ArgumentHelp("Credentials for TCP requests, one per line (a bearer token, or user:password for HTTP Basic).", valueName: "file"))
    var apiKeyFile: String?

    @Option(help: ArgumentHelp("This daemon's name in a fleet behind a load balancer: render ids start with it, so a job's GET and DELETE can be routed to it (deploy/nginx/).", valueName: "name"))
    var instance: String?

    func validate() throws {
        if let instance, let problem = ServerConfiguration.problem(withInstanceName: instance) {
            throw ValidationError("--instance: \(problem)")
        }
        for address in listen {
            let (host, _) = try Self.tcpAddress(address)
            // Caught again after binding (a host name may resolve anywhere); a literal address is
            // refused here, before the model loads.
            if apiKeyFile == nil, Self.isNumericAddress(host), !RenderHTTPServer.isLoopback(host) {
                throw ValidationError("--listen \(address) is reachable from other machines: give --api-key-file, or listen on 127.0.0.1 or [::1]")
            }
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "dbrenderd")
        logger.logLevel = .info
        // First, before any thread starts: socket activation reads and clears the environment.
        let endpoints = try Self.endpoints(socket: socket, listen: listen, logger: logger)
        let keys = try apiKeyFile.map { path in
            let keys = try APIKeys(path: path)
            Self.warnIfReadableByOthers(path, logger: logger)
            logger.info("API keys loaded", metadata: ["file": "\(path)", "keys": "\(keys.count)"])
            return keys
        }
        // Then signals, so that a SIGTERM during a long model load is not lost: until the daemon
        // serves, it simply exits.
        let earlyStop = EarlyStopSignals(logger: logger)
        var settings = try config.map { try ServerConfiguration.load(URL(fileURLWithPath: $0)) } ?? ServerConfiguration()
        if let socketMode {
            guard let mode = UInt16(socketMode, radix: 8), mode <= 0o777 else { throw ValidationError("--socket-mode must be octal, like 0660") }
            settings.socketMode = mode
        }
        if let threads { ThreadPool.shared.configure(threads: threads) } else { ThreadPool.shared.configure(threads: ThreadPool.shared.threads) }

        let modelURL = URL(fileURLWithPath: model)
        if let taesd { settings.taesd = taesd }
        let tinyAutoencoder = try settings.taesd.map { try Self.loadTinyAutoencoder($0, logger: logger) }
        let (pipeline, description) = try Self.load(modelURL, tinyAutoencoder: tinyAutoencoder, logger: logger)
        if let loraDir { settings.loraDirectory = loraDir }
        if let instance { settings.instance = instance }
        var loras: LoRALibrary?
        if let directory = settings.loraDirectory {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("the LoRA folder \(directory) does not exist or is not a folder")
            }
            loras = LoRALibrary(directory: URL(fileURLWithPath: directory))
        }
        let engine = RenderEngine(pipeline: pipeline, model: description, configuration: settings, loras: loras, logger: logger)
        engine.start()
        let server = RenderHTTPServer(engine: engine, keys: keys, logger: logger)
        var addresses: [ListeningSocket.Address] = []
        do {
            for endpoint in endpoints { addresses.append(try server.start(endpoint, mode: settings.socketMode)) }
        } catch {
            server.shutdown()  // removes the socket files already made
            throw error
        }
        let sockets = addresses.filter { !$0.isTCP }.map(\.description), tcp = addresses.filter(\.isTCP).map(\.description)
        logger.info("ready", metadata: [
            "model": "\(description.path)", "layout": "\(description.layout)",
            "load_seconds": "\(String(format: "%.2f", description.loadSeconds))", "socket": "\(sockets.joined(separator: " "))",
            "listen": "\(tcp.isEmpty ? "-" : tcp.joined(separator: " "))", "auth": "\(keys == nil ? "none" : "api-key")",
            "hash": "\(description.shortHash ?? "-")", "instance": "\(settings.instance ?? "-")",
            "threads": "\(ThreadPool.shared.threads)", "memory_budget_mb": "\(engine.memoryBudget.bytes >> 20)",
        ])
        let notifier = SystemdNotifier()
        _ = notifier.send(.ready, .status("serving \(description.path)"))
        var services: [any Service] = []
        // Under WatchdogSec=, ping at half the interval, as sd_watchdog_enabled(3) advises.
        if let watchdog = try SystemdWatchdog(environment: ProcessInfo.processInfo.environment) {
            logger.info("systemd watchdog", metadata: ["ping_seconds": "\(watchdog.pingInterval)"])
            services.append(WatchdogService(watchdog: watchdog, notifier: notifier))
        }
        let grace = settings.shutdownGracePeriod
        services += [
            EngineService(engine: engine, gracePeriod: grace, logger: logger),
            ListenerService(server: server, engine: engine, notifier: notifier, gracePeriod: grace, logger: logger),
            ReloadService(engine: engine, modelURL: modelURL, tinyAutoencoder: tinyAutoencoder, keys: keys, notifier: notifier, logger: logger),
        ]
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        earlyStop.cancel()
        try await group.run()
        server.shutdown()
        logger.info("stopped")
    }

    /// Loads TAESD weights (a folder or a single file) for `--taesd`.
    static func loadTinyAutoencoder(_ path: String, logger: Logger) throws -> AutoencoderTiny {
        do {
            let checkpoint = try TinyAutoencoderCheckpoint.open(URL(fileURLWithPath: path))
            let taesd = try AutoencoderTiny(checkpoint: checkpoint)
            logger.info("TAESD loaded", metadata: ["taesd": "\(path)", "decoder": "\(taesd.decoder != nil)", "encoder": "\(taesd.encoder != nil)"])
            return taesd
        } catch {
            throw ValidationError("cannot load TAESD \(path): \(error)")
        }
    }

    /// Loads a model (with TAESD attached, when given) and describes it for logs and `GET /v1/model`.
    static func load(_ url: URL, tinyAutoencoder: AutoencoderTiny?, logger: Logger) throws -> (StableDiffusionPipeline, RenderEngine.ModelDescription) {
        let start = Date()
        let checkpoint: ModelCheckpoint
        do { checkpoint = try ModelCheckpoint.open(url) } catch {
            throw ValidationError("cannot open model \(url.path): \(error)")
        }
        if !checkpoint.skippedKeys.isEmpty {
            logger.info("skipped tensors that belong to no component", metadata: ["count": "\(checkpoint.skippedKeys.count)"])
        }
        var pipeline: StableDiffusionPipeline
        do { pipeline = try StableDiffusionPipeline(checkpoint: checkpoint) } catch {
            throw ValidationError("cannot load model \(url.path): \(error)")
        }
        if let tinyAutoencoder {
            do { pipeline = try pipeline.attachingTinyAutoencoder(tinyAutoencoder) } catch {
                throw ValidationError("the TAESD does not fit model \(url.path): \(error)")
            }
        }
        if checkpoint.schedulerConfigurationSource == .stableDiffusion1Default || checkpoint.tokenizerSource == .stableDiffusion1Default {
            // Not a problem for SD 1.x single files (this is what diffusers' from_single_file does),
            // but said once, so that a wrong schedule is never silent.
            logger.info("the model carries no scheduler config and/or tokenizer: SD 1.x's stand in", metadata: [
                "scheduler_config": "\(checkpoint.schedulerConfigurationSource.rawValue)", "tokenizer": "\(checkpoint.tokenizerSource.rawValue)",
            ])
        }
        let unused = ModelComponent.allCases.reduce(0) { $0 + checkpoint.source($1).unusedKeys.count }
        if unused > 0 { logger.info("unused tensors in the checkpoint", metadata: ["count": "\(unused)"]) }
        // The hash reads every byte once; the first render would page the weights in anyway, and the
        // cache makes later starts of the same files free.
        let hashStart = Date()
        var sha256: String?
        do {
            let (fingerprint, cached) = try ModelFingerprint.of(checkpoint.weightFiles, cache: fingerprintCache())
            sha256 = fingerprint.sha256
            logger.info("model hash", metadata: [
                "sha256": "\(fingerprint.sha256)", "cached": "\(cached)",
                "seconds": "\(String(format: "%.2f", Date().timeIntervalSince(hashStart)))",
            ])
        } catch {
            logger.warning("cannot hash the model; images carry no model hash", metadata: ["error": "\(error)"])
        }
        var description = RenderEngine.ModelDescription(
            path: url.path, layout: checkpoint.layout.rawValue, nativeSize: pipeline.nativeSize,
            textEncoderLayers: pipeline.text.encoder.layers.count, loadSeconds: Date().timeIntervalSince(start),
            sha256: sha256, schedulerConfigSource: checkpoint.schedulerConfigurationSource.rawValue,
            tokenizerSource: checkpoint.tokenizerSource.rawValue)
        description.weightBytes = checkpoint.weightFiles.reduce(0) { total, file in
            total + ((try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0)
        }
        return (pipeline, description)
    }

    /// Where model hashes are kept between starts: systemd's CacheDirectory=, else the XDG cache.
    static func fingerprintCache() -> URL? {
        let environment = ProcessInfo.processInfo.environment
        let directory: String
        if let systemd = environment["CACHE_DIRECTORY"]?.split(separator: ":").first {
            directory = String(systemd)
        } else if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") {
            directory = xdg + "/dbrender"
        } else if let home = environment["HOME"], home.hasPrefix("/") {
            directory = home + "/.cache/dbrender"
        } else {
            return nil
        }
        return URL(fileURLWithPath: directory).appendingPathComponent("model-hashes.json")
    }

    /// The sockets systemd passed, else the path asked for, else the default path; then the TCP
    /// addresses of --listen.
    static func endpoints(socket: String?, listen: [String], logger: Logger) throws -> [RenderHTTPServer.Endpoint] {
        var endpoints: [RenderHTTPServer.Endpoint]
        if let activation = try SocketActivation.takeFromProcess(), !activation.descriptors.isEmpty {
            let sockets = try activation.listeningSockets()
            logger.info("using the sockets systemd passed", metadata: ["sockets": "\(sockets.map(\.address.description).joined(separator: " "))"])
            endpoints = sockets.map { .inherited($0) }
        } else if let socket {
            endpoints = [.path(socket)]
        } else if let runtime = ProcessInfo.processInfo.environment["XDG_RUNTIME_DIR"], !runtime.isEmpty {
            endpoints = [.path(runtime + "/dbrender.sock")]
        } else {
            endpoints = [.path("/run/dbrender/dbrender.sock")]
        }
        for address in listen {
            let (host, port) = try tcpAddress(address)
            endpoints.append(.tcp(host: host, port: port))
        }
        return endpoints
    }

    /// "host:port" or "[ipv6]:port" → (host, port).
    static func tcpAddress(_ text: String) throws -> (host: String, port: Int) {
        let invalid = ValidationError("--listen \(text): expected HOST:PORT, like 127.0.0.1:7860 or [::1]:7860")
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw invalid
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw invalid }
        return (host, port)
    }

    /// True for an IPv4 or IPv6 literal.
    static func isNumericAddress(_ host: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// Keys belong to the service account alone; a file others can read is worth a warning.
    static func warnIfReadableByOthers(_ path: String, logger: Logger) {
        var info = stat()
        if stat(path, &info) == 0, info.st_mode & 0o077 != 0 {
            logger.warning("the API key file can be read by other users; chmod 600 it", metadata: ["file": "\(path)"])
        }
    }
}
