// Test harness: Debian's nginx as a child process, serving deploy/nginx/dbrender.conf — the file we
// ship, not a copy written for the test. Only three things change: the daemons' socket paths (the
// test's own, for instances a and b), and the listening address (a Unix socket in a temporary folder,
// so that no TCP port can clash). Everything nginx writes (pid, logs, temporary bodies) stays in that
// folder.
import Foundation
import Testing
import TestSupport

/// A running nginx in front of a fleet of DaemonProcess instances.
final class NginxProcess: @unchecked Sendable {
    let directory: URL
    /// The Unix socket nginx listens on (curl --unix-socket, or dbrender --socket).
    let socket: String
    let process = Process()

    static var shippedConfiguration: URL { DaemonProcess.root.appendingPathComponent("deploy/nginx/dbrender.conf") }

    /// Starts nginx with the shipped configuration; `daemons` maps each instance the configuration
    /// names (a, b) to the socket of the daemon that plays it.
    init(daemons: [String: String]) throws {
        let nginx = try #require(["/usr/sbin/nginx", "/usr/bin/nginx"].first { FileManager.default.isExecutableFile(atPath: $0) },
                                 "nginx is not installed: scripts/setup.sh installs the Debian package `nginx`")
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("nginx-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("temp"), withIntermediateDirectories: true)
        socket = directory.appendingPathComponent("nginx.sock").path

        var fleet = try String(contentsOf: Self.shippedConfiguration, encoding: .utf8)
        try Self.replace("listen 127.0.0.1:8080;", with: "listen unix:\(socket);", in: &fleet)
        for (instance, path) in daemons {
            try Self.replace("unix:/run/dbrender/\(instance).sock", with: "unix:\(path)", in: &fleet)
        }
        try Data(fleet.utf8).write(to: directory.appendingPathComponent("dbrender.conf"))

        let d = directory.path
        // As root, nginx's workers would run as nobody and could not open the daemons' 0660 sockets;
        // in production its user joins the sockets' group instead (deploy/nginx/README.md).
        let user = geteuid() == 0 ? "user root;\n" : ""
        let main = """
            daemon off;
            \(user)worker_processes 1;
            pid \(d)/nginx.pid;
            error_log \(d)/error.log info;
            events { worker_connections 256; }
            http {
                access_log \(d)/access.log;
                client_body_temp_path \(d)/temp/body;
                proxy_temp_path \(d)/temp/proxy;
                fastcgi_temp_path \(d)/temp/fastcgi;
                uwsgi_temp_path \(d)/temp/uwsgi;
                scgi_temp_path \(d)/temp/scgi;
                include \(d)/dbrender.conf;
            }

            """
        try Data(main.utf8).write(to: directory.appendingPathComponent("nginx.conf"))
        process.executableURL = URL(fileURLWithPath: nginx)
        process.arguments = ["-p", d, "-c", "\(d)/nginx.conf", "-e", "\(d)/error.log"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: socket) {
            guard process.isRunning else { throw HarnessError("nginx exited (\(process.terminationStatus)):\n\(errorLog)") }
            guard Date() < deadline else { throw HarnessError("nginx made no socket within 60 s:\n\(errorLog)") }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    /// `text` must be in `configuration`: a test of the shipped file fails loudly when the file changes
    /// under it, rather than testing something else.
    private static func replace(_ text: String, with replacement: String, in configuration: inout String) throws {
        guard configuration.contains(text) else { throw HarnessError("deploy/nginx/dbrender.conf no longer contains '\(text)'") }
        configuration = configuration.replacingOccurrences(of: text, with: replacement)
    }

    var errorLog: String { (try? String(contentsOf: directory.appendingPathComponent("error.log"), encoding: .utf8)) ?? "" }

    /// One request through nginx.
    func request(_ method: String = "GET", _ path: String, json: String? = nil, headers: [String] = []) throws -> DaemonProcess.Response {
        try DaemonProcess.curl(socket: socket, method: method, path: path, json: json, headers: headers, maxTime: nil, directory: directory)
    }

    /// A streamed render through nginx, running in the background.
    func startStream(_ json: String) throws -> (Process, wait: () throws -> DaemonProcess.Response, partial: () -> String) {
        try DaemonProcess.startWatching(socket: socket, "POST", "/v1/renders", json: json, headers: ["Accept: application/x-ndjson"],
                                        directory: directory)
    }

    func stop() {
        if process.isRunning {
            // SIGQUIT: graceful; the master waits for its worker and removes the socket.
            kill(process.processIdentifier, SIGQUIT)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }
}
