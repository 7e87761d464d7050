// Running jobs against FakeDaemon: images written under their predictable names, a rerun of a batch
// skipping what exists, a full queue waited out, errors tagged with the prompt-file line.
import Foundation
import RenderAPI
import Testing
@testable import RenderClient

@Suite struct RenderRunnerTests {
    func job(_ prompt: String, seed: UInt64?, count: Int = 1, line: Int, directory: String) -> RenderJob {
        var request = RenderRequestBody(prompt: prompt)
        request.seed = seed
        request.count = count
        return RenderJob(spec: RenderSpec(request: request), output: .batch(directory: directory, line: line),
                         origin: RenderJob.Origin(file: "batch.txt", line: line))
    }

    func streamAnswer(id: String, seed: UInt64, images: [String]) -> [FakeDaemon.Step] {
        Wire.pieces(Wire.streamHead + Wire.chunked(Wire.ndjson(Wire.events(id: id, seed: seed, images: images)), sizes: [100]),
                    sizes: [333])
    }

    @Test func batchWritesThenResumes() throws {
        let directory = try TemporaryDirectory()
        let jobs = [job("dog", seed: 42, count: 2, line: 2, directory: directory.root),
                    job("cat", seed: nil, line: 5, directory: directory.root)]
        let daemon = FakeDaemon(answers: [streamAnswer(id: "a", seed: 42, images: ["dog one", "dog two"]),
                                          streamAnswer(id: "b", seed: 777, images: ["cat"])])
        var events: [RunEvent] = []
        try RenderRunner(client: DaemonClient(http: UnixHTTPClient(socketPath: daemon.path)), skipExisting: true)
            .run(jobs) { events.append($0) }
        #expect(daemon.finish().failures.isEmpty)
        #expect(directory.names == ["0002-42.png", "0002-43.png", "0005-777.png"])
        #expect(try String(contentsOfFile: directory.path("0002-43.png"), encoding: .utf8) == "dog two")
        #expect(events.compactMap { if case let .wrote(path) = $0 { path } else { nil } }
                == ["0002-42.png", "0002-43.png", "0005-777.png"].map(directory.path))
        #expect(events.filter { $0 == .jobFinished }.count == 2)

        // The rerun sends nothing: the seeded job's files exist, and the random-seed line has its one image.
        let idle = FakeDaemon(answers: [])
        var skipped: [[String]] = []
        try RenderRunner(client: DaemonClient(http: UnixHTTPClient(socketPath: idle.path)), skipExisting: true)
            .run(jobs) { if case let .skipped(paths) = $0 { skipped.append(paths) } }
        #expect(skipped == [["0002-42.png", "0002-43.png"].map(directory.path), [directory.path("0005-777.png")]])
        #expect(idle.requests.isEmpty)
    }

    @Test func partlyWrittenJobRunsAgain() throws {
        let directory = try TemporaryDirectory()
        try Data("old".utf8).write(to: directory.url("0001-42.png"))
        let daemon = FakeDaemon(answers: [streamAnswer(id: "a", seed: 42, images: ["new one", "new two"])])
        try RenderRunner(client: DaemonClient(http: UnixHTTPClient(socketPath: daemon.path)), skipExisting: true)
            .run([job("dog", seed: 42, count: 2, line: 1, directory: directory.root)]) { _ in }
        #expect(directory.names == ["0001-42.png", "0001-43.png"])
        #expect(try String(contentsOfFile: directory.path("0001-42.png"), encoding: .utf8) == "new one")
    }

    @Test func fullQueueIsWaitedOut() throws {
        let directory = try TemporaryDirectory()
        let full = Wire.response(status: 503, reason: "Service Unavailable", headers: ["Retry-After: 3"],
                                 body: Wire.errorBody("queue_full", "queue is full"))
        let daemon = FakeDaemon(answers: [[.send(full)], [.send(full)], streamAnswer(id: "a", seed: 1, images: ["x"])])
        var runner = RenderRunner(client: DaemonClient(http: UnixHTTPClient(socketPath: daemon.path)), skipExisting: false)
        var slept: [Int] = []
        runner.sleep = { slept.append($0) }
        var waits: [RunEvent] = []
        try runner.run([job("x", seed: 1, line: 1, directory: directory.root)]) { if case .waiting = $0 { waits.append($0) } }
        #expect(slept == [3, 3])
        #expect(waits == [.waiting(seconds: 3), .waiting(seconds: 3)])
        #expect(directory.names == ["0001-1.png"])
    }

    @Test func errorsNameTheLine() throws {
        let directory = try TemporaryDirectory()
        let daemon = FakeDaemon(answers: [[.send(Wire.response(status: 400, reason: "Bad Request",
                                                              body: Wire.errorBody("invalid_field", "steps must be 1–500", field: "steps")))]])
        do {
            try RenderRunner(client: DaemonClient(http: UnixHTTPClient(socketPath: daemon.path)), skipExisting: true)
                .run([job("x", seed: 1, line: 9, directory: directory.root)]) { _ in }
            Issue.record("no error")
        } catch {
            #expect("\(error)" == "batch.txt:9: invalid_field: steps must be 1–500 (field: steps)")
        }
    }

    @Test func missingImagesAreAnError() throws {
        let directory = try TemporaryDirectory()
        var events = Wire.events(id: "a", seed: 5, images: ["one"])
        events[events.count - 1].parameters?.count = 2
        let daemon = FakeDaemon(answers: [[.send(Wire.streamHead + Wire.chunked(Wire.ndjson(events), sizes: [50]))]])
        #expect(throws: ClientError.malformedResponse("the job ended with 1 of 2 images")) {
            try RenderRunner(client: DaemonClient(http: UnixHTTPClient(socketPath: daemon.path)), skipExisting: false)
                .run([RenderJob(spec: RenderSpec(request: RenderRequestBody(prompt: "x")), output: .file(directory.path("x.png")))]) { _ in }
        }
    }
}
