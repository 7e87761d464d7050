// Test harness: the real dbrenderd binary as a child process on a real Unix socket in a temporary
// folder, driven with curl (what users use against it).
import Foundation
import RenderAPI
import TestSupport

/// A running daemon for one test.
final class DaemonProcess: @unchecked Sendable {
    let directory: URL
    let socket: String
    let process = Process()
    private let logPipe = Pipe()
    private let logLock = NSLock()
    private var logText = ""

    /// The package root (tests find the model and binaries from their own path).
    static let root = Fixtures.packageRoot

    /// The dbrenderd binary built beside the test bundle.
    static var binary: URL { Fixtures.builtProduct("dbrenderd") }

    /// Starts the daemon on models/tiny and waits for its ready line.
    /// - Parameter cacheHome: `XDG_CACHE_HOME` for the daemon (its model-hash cache); default: a
    ///   fresh folder of this daemon's own, so that tests never touch the user's cache.
    /// - Parameter environment: variables set for the daemon on top of this process's.
    init(configuration: String? = nil, arguments: [String] = [], model: URL? = nil, cacheHome: URL? = nil,
         environment: [String: String] = [:]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dbrenderd-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        socket = directory.appendingPathComponent("d.sock").path
        var args = ["--model", (model ?? Self.root.appendingPathComponent("models/tiny")).path, "--socket", socket]
        if let configuration {
            let file = directory.appendingPathComponent("config.json")
            try Data(configuration.utf8).write(to: file)
            args += ["--config", file.path]
        }
        process.executableURL = Self.binary
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["XDG_CACHE_HOME": (cacheHome ?? directory.appendingPathComponent("cache")).path].merging(environment) { $1 }) { $1 }
        process.arguments = args + arguments
        process.standardError = logPipe
        process.standardOutput = logPipe
        logPipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.logLock.withLock { self.logText += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
        try waitFor("ready", timeout: 180)
    }

    /// Everything the daemon logged so far.
    var log: String { logLock.withLock { logText } }

    /// Waits until the log contains `text`.
    func waitFor(_ text: String, timeout: Double) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !log.contains(text) {
            guard process.isRunning else { throw HarnessError("dbrenderd exited (\(process.terminationStatus)) before '\(text)':\n\(log)") }
            guard Date() < deadline else { throw HarnessError("no '\(text)' from dbrenderd within \(timeout) s:\n\(log)") }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    /// Sends a signal and waits for the exit status.
    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    func waitForExit(timeout: Double) throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            guard Date() < deadline else { throw HarnessError("dbrenderd did not exit within \(timeout) s") }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return process.terminationStatus
    }

    func stop() {
        if process.isRunning {
            signal(SIGKILL)
            process.waitUntilExit()
        }
        logPipe.fileHandleForReading.readabilityHandler = nil
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }

    // MARK: curl

    struct Response {
        let status: Int
        let headers: String
        let body: Data
        var text: String { String(decoding: body, as: UTF8.self) }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try JSONDecoder().decode(type, from: body) }
    }

    /// One HTTP request through `curl --unix-socket`. A `json` that starts with "@" names a file
    /// holding the body (curl's syntax), for bodies too large for an argument.
    func request(_ method: String = "GET", _ path: String, json: String? = nil, headers: [String] = [],
                 maxTime: Double? = nil) throws -> Response {
        try Self.curl(socket: socket, method: method, path: path, json: json, headers: headers, maxTime: maxTime, directory: directory)
    }

    /// The TCP addresses the daemon logged in its ready line (`--listen`), as "host:port".
    var tcpAddresses: [String] {
        guard let line = log.split(separator: "\n").first(where: { $0.contains(" ready") }),
              let field = line.split(separator: " ").first(where: { $0.hasPrefix("listen=") }) else { return [] }
        // "listen=127.0.0.1:4000 [::1]:4001": the field runs to the next key=value.
        let rest = line[field.startIndex...].dropFirst("listen=".count)
        return rest.split(separator: " ").prefix { !$0.contains("=") }.map(String.init).filter { $0 != "-" }
    }

    /// One HTTP request over TCP to `http://ADDRESS` (an address of `tcpAddresses`).
    func request(tcp address: String, _ method: String = "GET", _ path: String, json: String? = nil,
                 headers: [String] = []) throws -> Response {
        try Self.curl(socket: nil, base: "http://" + address, method: method, path: path, json: json, headers: headers,
                      maxTime: nil, directory: directory)
    }

    /// A request running in the background; `wait()` gives its response.
    func start(_ method: String = "POST", _ path: String, json: String?, headers: [String] = []) throws -> (Process, () throws -> Response) {
        try Self.start(socket: socket, method, path, json: json, headers: headers, directory: directory)
    }

    /// A request to `socket` running in the background; `wait()` gives its response. `partial()`
    /// reads what has arrived so far (a stream in progress).
    static func start(socket: String, _ method: String = "POST", _ path: String, json: String?, headers: [String] = [],
                      directory: URL) throws -> (Process, () throws -> Response) {
        let (process, wait, _) = try startWatching(socket: socket, method, path, json: json, headers: headers, directory: directory)
        return (process, wait)
    }

    static func startWatching(socket: String, _ method: String = "POST", _ path: String, json: String?, headers: [String] = [],
                              directory: URL) throws -> (Process, wait: () throws -> Response, partial: () -> String) {
        let id = UUID().uuidString.prefix(8)
        let bodyFile = directory.appendingPathComponent("bg-\(id).out"), headerFile = directory.appendingPathComponent("bg-\(id).h")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = Self.curlArguments(socket: socket, method: method, path: path, json: json, headers: headers,
                                               maxTime: nil, bodyFile: bodyFile, headerFile: headerFile)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return (process, {
            process.waitUntilExit()
            return try Self.response(bodyFile: bodyFile, headerFile: headerFile)
        }, { (try? String(contentsOf: bodyFile, encoding: .utf8)) ?? "" })
    }

    static func curl(socket: String?, base: String = "http://localhost", method: String, path: String, json: String?,
                     headers: [String], maxTime: Double?, directory: URL) throws -> Response {
        let id = UUID().uuidString.prefix(8)
        let bodyFile = directory.appendingPathComponent("r-\(id).out"), headerFile = directory.appendingPathComponent("r-\(id).h")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = curlArguments(socket: socket, base: base, method: method, path: path, json: json, headers: headers,
                                          maxTime: maxTime, bodyFile: bodyFile, headerFile: headerFile)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return try response(bodyFile: bodyFile, headerFile: headerFile)
    }

    private static func curlArguments(socket: String?, base: String = "http://localhost", method: String, path: String,
                                      json: String?, headers: [String], maxTime: Double?, bodyFile: URL, headerFile: URL) -> [String] {
        var args = ["curl", "-s", "-N", "-X", method, "-o", bodyFile.path, "-D", headerFile.path]
        if let socket { args += ["--unix-socket", socket] }
        if let json { args += ["-H", "Content-Type: application/json", "--data-binary", json] }
        for header in headers { args += ["-H", header] }
        if let maxTime { args += ["--max-time", "\(maxTime)"] }
        return args + [base + path]
    }

    private static func response(bodyFile: URL, headerFile: URL) throws -> Response {
        let headers = (try? String(contentsOf: headerFile, encoding: .utf8)) ?? ""
        let status = headers.split(separator: "\r\n").first.flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) } ?? 0
        return Response(status: status, headers: headers, body: (try? Data(contentsOf: bodyFile)) ?? Data())
    }
}

/// Polls `condition` until it holds; throws after `timeout` seconds (a deadline of minutes, not a wait).
func waitUntil(timeout: Double = 180, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if try condition() { return }
        guard Date() < deadline else { throw HarnessError("condition not met within \(timeout) s") }
        Thread.sleep(forTimeInterval: 0.02)
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension DaemonProcess.Response {
    /// The NDJSON events of a streamed answer.
    var events: [StreamEvent] {
        text.split(separator: "\n").compactMap { try? JSONDecoder().decode(StreamEvent.self, from: Data($0.utf8)) }
    }
    var errorBody: ErrorBody? { try? decode(ErrorBody.self) }
}
