// A fleet of two dbrenderd behind Debian's nginx, configured by the shipped deploy/nginx/dbrender.conf:
// new renders are balanced over both daemons, a job's GET and DELETE reach the daemon that owns it,
// streams pass through unbuffered, nginx's own errors come in the daemons' JSON shape, and when a
// daemon is killed mid-render its client gets a clear error while new work goes to the survivor and
// the survivor's renders finish. Real processes on real sockets: nginx, two daemons, curl and the
// dbrender client.
import Foundation
import RenderAPI
import Testing
import TestSupport

@Suite("dbrenderd fleet behind nginx", .serialized)
struct NginxFleetTests {
    /// Long enough (500 steps at 128 px on the tiny model: seconds) that a render is still running
    /// while the test looks at it; a busy machine only makes it longer.
    static let longRender = #"{"prompt": "a dog", "steps": 500, "width": 128, "height": 128, "seed": 7}"#
    static let shortRender = #"{"prompt": "a cat", "steps": 3, "width": 64, "height": 64, "seed": 1}"#

    /// The instance a render id names ("a.r_…" → "a").
    static func instance(of id: String) -> String { String(id.prefix { $0 != "." }) }

    /// Waits until a stream in progress has shown `event`, and returns the stream's first event.
    static func waitForEvent(_ event: String, in partial: () -> String) throws -> StreamEvent {
        var first: StreamEvent?
        try waitUntil {
            let events = partial().split(separator: "\n").compactMap { try? JSONDecoder().decode(StreamEvent.self, from: Data($0.utf8)) }
            first = events.first
            return events.contains { $0.event == event }
        }
        return try #require(first)
    }

    /// Daemons "a" and "b" on models/tiny, and nginx with the shipped configuration in front of them.
    struct Fleet {
        let a: DaemonProcess, b: DaemonProcess, nginx: NginxProcess
        init() throws {
            a = try DaemonProcess(arguments: ["--instance", "a"])
            b = try DaemonProcess(arguments: ["--instance", "b"])
            nginx = try NginxProcess(daemons: ["a": a.socket, "b": b.socket])
        }
        func stop() { nginx.stop(); a.stop(); b.stop() }
    }

    static func active(_ daemon: DaemonProcess) throws -> Int {
        let health = try JSONSerialization.jsonObject(with: daemon.request("GET", "/v1/health").body) as? [String: String]
        return Int(health?["active"] ?? "") ?? -1
    }

    @Test("new renders go to the least busy daemon; GET and DELETE by id reach the owner; streams pass as they come; nginx's errors are JSON")
    func balancingAndRouting() throws {
        let fleet = try Fleet()
        defer { fleet.stop() }
        let (a, b, nginx) = (fleet.a, fleet.b, fleet.nginx)

        // While one daemon renders, least_conn sends all new work to the other (round robin would
        // alternate).
        let first = try nginx.startStream(Self.longRender)
        let firstStarted = try Self.waitForEvent("started", in: first.partial)
        for _ in 0..<2 {
            let render = try nginx.request("POST", "/v1/renders", json: Self.shortRender)
            let id = (try? render.decode(RenderResponseBody.self))?.id ?? ""
            #expect(render.status == 200 && Self.instance(of: id) != Self.instance(of: firstStarted.id), "\(render.text.prefix(300))")
        }
        let second = try nginx.startStream(Self.longRender)
        let secondStarted = try Self.waitForEvent("started", in: second.partial)
        let ids = [firstStarted.id, secondStarted.id]
        #expect(Set(ids.map(Self.instance)) == ["a", "b"], "\(ids)")
        // Seen while both still run: nginx passes events on as they come.
        #expect(try Self.active(a) == 1 && Self.active(b) == 1)

        for id in ids {
            let status = try nginx.request("GET", "/v1/renders/\(id)")
            #expect(status.status == 200 && (try? status.decode(JobStatusBody.self))?.id == id, "\(status.text)")
        }
        let cancel = try nginx.request("DELETE", "/v1/renders/\(ids[0])")
        #expect(cancel.status == 200 && (try? cancel.decode(JobStatusBody.self))?.status == "cancelling", "\(cancel.text)")
        let cancelled = try first.wait()
        #expect(cancelled.events.last?.event == "error" && cancelled.events.last?.error?.code == "cancelled", "\(cancelled.text.suffix(300))")
        #expect(try nginx.request("DELETE", "/v1/renders/\(ids[1])").status == 200)
        _ = try second.wait()
        let after = try nginx.request("GET", "/v1/renders/\(ids[0])")
        #expect((try? after.decode(JobStatusBody.self))?.status == "cancelled", "\(after.text)")

        // An id that names no instance, a route outside the APIs, a body over the limit: JSON errors.
        let unknown = try nginx.request("GET", "/v1/renders/zz.r_abc")
        #expect(unknown.status == 404 && unknown.errorBody?.error.code == "not_found", "\(unknown.text)")
        let route = try nginx.request("GET", "/index.html")
        #expect(route.status == 404 && route.errorBody?.error.code == "not_found", "\(route.text)")
        let large = nginx.directory.appendingPathComponent("large.json")
        try Data(repeating: UInt8(ascii: " "), count: 16 * 1024 * 1024 + 1).write(to: large)
        let tooLarge = try nginx.request("POST", "/v1/renders", json: "@" + large.path)
        #expect(tooLarge.status == 413 && tooLarge.errorBody?.error.code == "body_too_large", "\(tooLarge.status) \(tooLarge.text)")

        // Every API passes: ours, OpenAI's and A1111's.
        #expect(try nginx.request("GET", "/v1/models").status == 200)
        #expect(try nginx.request("GET", "/sdapi/v1/samplers").status == 200)
    }

    @Test("a daemon killed mid-render: its client gets a clear error, new renders go to the survivor, the survivor's render finishes")
    func killedDaemon() throws {
        let fleet = try Fleet()
        defer { fleet.stop() }
        let (a, b, nginx) = (fleet.a, fleet.b, fleet.nginx)

        // The survivor's render, through curl; then the victim's, through the dbrender client, which
        // least_conn sends to the other daemon.
        let survivorStream = try nginx.startStream(Self.longRender)
        let survivorID = try Self.waitForEvent("started", in: survivorStream.partial).id
        let (survivor, victim) = Self.instance(of: survivorID) == "a" ? (a, b) : (b, a)
        let clientLog = nginx.directory.appendingPathComponent("client.log")
        FileManager.default.createFile(atPath: clientLog.path, contents: nil)
        let client = Process()
        client.executableURL = Fixtures.builtProduct("dbrender")
        client.arguments = ["a dog", "--socket", nginx.socket, "--steps", "500", "--width", "128", "--height", "128",
                            "--out", nginx.directory.appendingPathComponent("victim.png").path]
        let logHandle = try FileHandle(forWritingTo: clientLog)
        client.standardOutput = logHandle
        client.standardError = logHandle
        try client.run()
        try waitUntil { try Self.active(victim) == 1 }

        victim.signal(SIGKILL)
        client.waitUntilExit()
        let said = (try? String(contentsOf: clientLog, encoding: .utf8)) ?? ""
        #expect(client.terminationStatus != 0)
        #expect(said.contains("the stream ended before the render finished"), "\(said.suffix(400))")
        let victimInstance = Self.instance(of: survivorID) == "a" ? "b" : "a"
        #expect(said.contains("(job \(victimInstance).r_"), "the error names the job: \(said.suffix(400))")
        #expect(!FileManager.default.fileExists(atPath: nginx.directory.appendingPathComponent("victim.png").path))

        // New renders all go to the survivor, and succeed.
        for _ in 0..<3 {
            let render = try nginx.request("POST", "/v1/renders", json: Self.shortRender)
            let answer = try? render.decode(RenderResponseBody.self)
            #expect(render.status == 200 && answer.map { Self.instance(of: $0.id) } == Self.instance(of: survivorID), "\(render.text.prefix(300))")
        }
        // The survivor's long render was not disturbed.
        let finished = try survivorStream.wait()
        #expect(finished.events.last?.event == "done", "\(finished.text.suffix(300))")
        #expect(try survivor.request("GET", "/v1/health").status == 200)

        // The victim's jobs are gone with it: asking for one is a clear 503, not a hang.
        let orphan = try nginx.request("GET", "/v1/renders/\(victimInstance).r_AAAAAAAAAAAA")
        #expect(orphan.status == 503 && orphan.errorBody?.error.code == "unavailable" && orphan.headers.contains("Retry-After"),
                "\(orphan.status) \(orphan.text)")
    }
}
