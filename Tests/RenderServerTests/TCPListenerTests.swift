// dbrenderd on TCP beside its Unix socket (`--listen`), with and without `--api-key-file`: the real
// daemon, driven by curl over the network stack.
import Foundation
import RenderAPI
import Testing
import TestSupport

@Suite("dbrenderd on TCP", .serialized)
struct TCPListenerTests {
    /// A key file in a folder of its own: a bearer token and a Basic user:password.
    private func keyFile(_ lines: String) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dbrenderd-keys-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let file = folder.appendingPathComponent("keys")
        try Data(lines.utf8).write(to: file)
        chmod(file.path, 0o600)
        return file
    }

    @Test("with a key file every TCP request needs a key, bearer or Basic; 401s are counted; the Unix socket needs none; keys never reach the log")
    func apiKeys() throws {
        let keys = try keyFile("sk-first-key\n\n  alice:wonder land  \n")
        defer { try? FileManager.default.removeItem(at: keys.deletingLastPathComponent()) }
        let daemon = try DaemonProcess(arguments: ["--listen", "127.0.0.1:0", "--listen", "[::1]:0", "--api-key-file", keys.path])
        defer { daemon.stop() }
        let addresses = daemon.tcpAddresses
        #expect(addresses.count == 2 && addresses[0].hasPrefix("127.0.0.1:") && addresses[1].hasPrefix("[::1]:"), "\(daemon.log)")
        let basic = "Basic " + Data("alice:wonder land".utf8).base64EncodedString()
        for address in addresses {
            let missing = try daemon.request(tcp: address, "GET", "/v1/health")
            #expect(missing.status == 401 && missing.errorBody?.error.code == "unauthorized", "\(missing.text)")
            #expect(missing.headers.contains("WWW-Authenticate: Bearer"))
            #expect(try daemon.request(tcp: address, "GET", "/v1/health", headers: ["Authorization: Bearer sk-first-key"]).status == 200)
            #expect(try daemon.request(tcp: address, "GET", "/v1/health", headers: ["Authorization: \(basic)"]).status == 200)
            // A prefix, a longer key, the wrong scheme and a wrong Basic password are all refused.
            for wrong in ["Bearer sk-first", "Bearer sk-first-key2", "Token sk-first-key",
                          "Basic " + Data("alice:wonder".utf8).base64EncodedString()] {
                #expect(try daemon.request(tcp: address, "GET", "/v1/health", headers: ["Authorization: \(wrong)"]).status == 401, "\(wrong)")
            }
        }
        // A render over TCP with a key; a refused render's body is read and dropped, the connection answers 401.
        let render = try daemon.request(tcp: addresses[0], "POST", "/v1/renders", json: #"{"prompt": "a dog", "steps": 2, "seed": 1}"#,
                                        headers: ["Authorization: Bearer sk-first-key"])
        #expect(render.status == 200 && (try? render.decode(RenderResponseBody.self))?.images.count == 1, "\(render.text)")
        #expect(try daemon.request(tcp: addresses[0], "POST", "/v1/renders", json: #"{"prompt": "a dog"}"#).status == 401)
        // The Unix socket is guarded by its file mode, not by keys.
        #expect(try daemon.request("GET", "/v1/health").status == 200)
        let metrics = try daemon.request("GET", "/metrics").text
        #expect(metrics.contains("dbrender_auth_failures_total 11"), "\(metrics.split(separator: "\n").filter { $0.contains("auth") })")
        #expect(!daemon.log.contains("sk-first-key") && !daemon.log.contains("wonder"), "a key reached the log")
    }

    @Test("SIGHUP reads the key file again: a new key works, a removed one stops working")
    func keyRotation() throws {
        let keys = try keyFile("old-key\n")
        defer { try? FileManager.default.removeItem(at: keys.deletingLastPathComponent()) }
        let daemon = try DaemonProcess(arguments: ["--listen", "127.0.0.1:0", "--api-key-file", keys.path])
        defer { daemon.stop() }
        let address = try #require(daemon.tcpAddresses.first)
        #expect(try daemon.request(tcp: address, "GET", "/v1/health", headers: ["Authorization: Bearer old-key"]).status == 200)
        try Data("new-key\n".utf8).write(to: keys)
        daemon.signal(SIGHUP)
        try daemon.waitFor("API keys reloaded", timeout: 60)
        #expect(try daemon.request(tcp: address, "GET", "/v1/health", headers: ["Authorization: Bearer new-key"]).status == 200)
        #expect(try daemon.request(tcp: address, "GET", "/v1/health", headers: ["Authorization: Bearer old-key"]).status == 401)
    }

    @Test("without a key file, loopback TCP is open and a non-loopback address is refused at start")
    func loopbackOnlyWithoutKeys() throws {
        let daemon = try DaemonProcess(arguments: ["--listen", "localhost:0"])
        defer { daemon.stop() }
        let address = try #require(daemon.tcpAddresses.first, "\(daemon.log)")
        #expect(try daemon.request(tcp: address, "GET", "/v1/health").status == 200)

        for arguments in [["--listen", "0.0.0.0:0"], ["--listen", "[::]:0"]] {
            let refused = try Self.runToExit(arguments)
            #expect(refused.status != 0)
            #expect(refused.output.contains("reachable from other machines") && refused.output.contains("--api-key-file"), "\(refused.output)")
        }
        // Unusable inputs are refused with their reason, before the model loads.
        #expect(try Self.runToExit(["--listen", "nonsense"]).output.contains("expected HOST:PORT"))
        let missing = try Self.runToExit(["--listen", "127.0.0.1:0", "--api-key-file", "/nonexistent/keys"])
        #expect(missing.status != 0 && missing.output.contains("/nonexistent/keys") && missing.output.contains("cannot be read"), "\(missing.output)")
        let empty = try keyFile("\n  \n")
        defer { try? FileManager.default.removeItem(at: empty.deletingLastPathComponent()) }
        #expect(try Self.runToExit(["--listen", "127.0.0.1:0", "--api-key-file", empty.path]).output.contains("holds no key"))
    }

    /// Runs dbrenderd on models/tiny with `arguments` until it exits; its status and output.
    private static func runToExit(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dbrenderd-refused-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let process = Process()
        process.executableURL = DaemonProcess.binary
        process.arguments = ["--model", DaemonProcess.root.appendingPathComponent("models/tiny").path,
                             "--socket", folder.appendingPathComponent("d.sock").path] + arguments
        let output = Pipe()
        process.standardError = output
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }
}
