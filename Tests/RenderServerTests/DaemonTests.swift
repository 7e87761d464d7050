// dbrenderd as users meet it: the real process on a real Unix socket with the tiny model, driven by
// curl. Render, stream, bad input, limits, cancellation, disconnects, batching, signals.
import Foundation
import ImageIO
import RenderAPI
import Testing
import TestSupport

/// Serialized: several tests measure "within one step", which a second daemon on 2 cores would blur.
@Suite("dbrenderd", .serialized)
struct DaemonTests {
    private func body(_ fields: [String: Any]) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: fields), as: UTF8.self)
    }

    @Test("serves health, model, samplers and metrics; unknown routes and methods are errors")
    func apiSurface() throws {
        let daemon = try DaemonProcess()
        defer { daemon.stop() }
        #expect(try daemon.request("GET", "/v1/health").status == 200)
        let model = try daemon.request("GET", "/v1/model")
        #expect(model.status == 200 && model.text.contains("\"layout\":\"diffusers\"") && model.text.contains("\"native_size\":64"))
        // models/tiny carries its own scheduler config and tokenizer (a single file would say "sd1-default").
        #expect(model.text.contains("\"scheduler_config\":\"model\"") && model.text.contains("\"tokenizer\":\"model\""), "\(model.text)")
        // The model hash is the SHA-256 of the weight files in unet, vae, text_encoder order (coreutils as oracle).
        let sha256 = try Self.sha256sum(["unet/diffusion_pytorch_model.safetensors", "vae/diffusion_pytorch_model.safetensors",
                                          "text_encoder/model.safetensors"].map { "models/tiny/" + $0 })
        #expect(model.text.contains("\"sha256\":\"\(sha256)\"") && model.text.contains("\"hash\":\"\(sha256.prefix(10))\""), "\(model.text)")
        let samplers = try daemon.request("GET", "/v1/samplers").decode(SamplersBody.self)
        #expect(samplers.samplers.map(\.name) == ["ddim", "pndm", "euler", "euler_a", "dpmpp_2m", "dpmpp_2m_karras", "heun", "lms", "lcm"])
        #expect(samplers.defaultSampler == "euler_a")
        let metrics = try daemon.request("GET", "/metrics")
        #expect(metrics.status == 200 && metrics.text.contains("# TYPE dbrender_queue_depth gauge"))
        let missing = try daemon.request("GET", "/v1/nothing")
        #expect(missing.status == 404 && missing.errorBody?.error.code == "not_found")
        #expect(try daemon.request("PUT", "/v1/health").status == 405)
        #expect(try daemon.request("GET", "/v1/renders/r_unknown").status == 404)
        // The socket file carries the default mode 0660.
        var info = stat()
        #expect(lstat(daemon.socket, &info) == 0 && info.st_mode & 0o777 == 0o660)
    }

    @Test("a render answers PNGs with seeds seed, seed + 1 and A1111 parameters; the same request gives the same bytes")
    func render() throws {
        let daemon = try DaemonProcess()
        defer { daemon.stop() }
        let request = body(["prompt": "a photo of sks dog", "steps": 4, "seed": 42, "count": 2, "sampler": "dpmpp_2m"])
        let first = try daemon.request("POST", "/v1/renders", json: request)
        #expect(first.status == 200, "\(first.text)")
        let answer = try first.decode(RenderResponseBody.self)
        #expect(answer.images.map(\.seed) == [42, 43])
        #expect(answer.parameters.steps == 4 && answer.parameters.width == 64 && answer.parameters.sampler == "dpmpp_2m")
        let png = try #require(Data(base64Encoded: answer.images[0].data))
        let decoded = try ImageFile.decode(png)
        #expect(decoded.image.width == 64 && decoded.image.height == 64)
        #expect(decoded.parameters?.contains("Seed: 42") == true && decoded.parameters?.contains("Sampler: DPM++ 2M") == true)
        let hash = try #require(try daemon.request("GET", "/v1/model").decode(ModelHashBody.self).hash)
        #expect(decoded.parameters?.contains("Model hash: \(hash), Model: tiny") == true, "\(decoded.parameters ?? "")")
        // The empty negative prompt was warm from the start: the first render missed only its prompt.
        var metrics = try daemon.request("GET", "/metrics").text
        #expect(metrics.contains("dbrender_embedding_cache_hits_total 1") && metrics.contains("dbrender_embedding_cache_misses_total 1"), "\(metrics)")
        let again = try daemon.request("POST", "/v1/renders", json: request).decode(RenderResponseBody.self)
        #expect(again.images.map(\.data) == answer.images.map(\.data))
        // The second render found both embeddings in the cache: the text encoder did not run.
        metrics = try daemon.request("GET", "/metrics").text
        #expect(metrics.contains("dbrender_embedding_cache_hits_total 3") && metrics.contains("dbrender_embedding_cache_misses_total 1"), "\(metrics)")
        // A missing seed is chosen and reported.
        let random = try daemon.request("POST", "/v1/renders", json: body(["prompt": "x", "steps": 1])).decode(RenderResponseBody.self)
        #expect(random.images[0].seed == random.parameters.seed)
        // WebP, lossy.
        let webp = try daemon.request("POST", "/v1/renders", json: body(["prompt": "x", "steps": 2, "format": "webp", "quality": 80]))
        let webpImage = try webp.decode(RenderResponseBody.self).images[0]
        #expect(webpImage.format == "webp" && ImageFormat(sniffing: Data(base64Encoded: webpImage.data)!) == .webp)
    }

    @Test("a streamed render sends queued, started, one progress per step, image, done — each with the id")
    func stream() throws {
        let daemon = try DaemonProcess()
        defer { daemon.stop() }
        let response = try daemon.request("POST", "/v1/renders", json: body(["prompt": "a dog", "steps": 5, "seed": 1]),
                                          headers: ["Accept: application/x-ndjson"])
        #expect(response.status == 200 && response.headers.lowercased().contains("application/x-ndjson"))
        let events = response.events
        #expect(events.map(\.event) == ["queued", "started"] + Array(repeating: "progress", count: 5) + ["image", "done"])
        #expect(Set(events.map(\.id)).count == 1)
        #expect(events.compactMap(\.step) == [1, 2, 3, 4, 5] && events.compactMap(\.steps).allSatisfy { $0 == 5 })
        #expect(events[0].position == 0)
        let status = try daemon.request("GET", "/v1/renders/\(events[0].id)").decode(JobStatusBody.self)
        #expect(status.status == "done" && status.images?.count == 1)
    }

    @Test("preview_every: progress events carry a latent-size PNG preview every N steps; the image is unchanged")
    func livePreviews() throws {
        let daemon = try DaemonProcess()
        defer { daemon.stop() }
        let fields: [String: Any] = ["prompt": "a dog", "steps": 7, "seed": 4, "sampler": "dpmpp_2m"]
        let events = try daemon.request("POST", "/v1/renders", json: body(fields.merging(["preview_every": 2]) { $1 }),
                                        headers: ["Accept: application/x-ndjson"]).events
        let previews = events.filter { $0.event == "progress" && $0.preview != nil }
        #expect(previews.compactMap(\.step) == [2, 4, 6], "\(events.map { "\($0.event) \($0.step ?? -1) \($0.preview != nil)" })")
        for event in previews {
            let png = try #require(Data(base64Encoded: event.preview!.data))
            let image = try ImageFile.decode(png).image
            #expect(image.width == 8 && image.height == 8 && event.preview?.format == "png")  // 64 px → 8 latent pixels
        }
        let withPreviews = try #require(events.first { $0.event == "image" }?.image?.data)
        let plain = try daemon.request("POST", "/v1/renders", json: body(fields)).decode(RenderResponseBody.self)
        #expect(plain.images[0].data == withPreviews)
        #expect(try daemon.request("POST", "/v1/renders", json: body(["prompt": "x", "preview_every": -1])).status == 400)
    }

    @Test("each bad input gets its own status, code and field, and the daemon keeps serving")
    func badInput() throws {
        let daemon = try DaemonProcess()
        defer { daemon.stop() }
        let junkImage = Data("not an image at all".utf8).base64EncodedString()
        let cases: [(String, Int, String, String?)] = [
            ("{bad", 400, "malformed_json", nil),
            ("[1, 2]", 400, "malformed_json", nil),
            (body(["prompt": "x", "colour": "red"]), 400, "unknown_field", "colour"),
            (body(["prompt": 5]), 400, "invalid_type", "prompt"),
            (body(["prompt": "x", "steps": "many"]), 400, "invalid_type", "steps"),
            (body(["negative_prompt": "x"]), 400, "missing_field", "prompt"),
            (body(["prompt": "x", "steps": 0]), 400, "out_of_range", "steps"),
            (body(["prompt": "x", "steps": 501]), 400, "out_of_range", "steps"),
            (body(["prompt": "x", "count": 17]), 400, "out_of_range", "count"),
            (body(["prompt": "x", "guidance_scale": 51]), 400, "out_of_range", "guidance_scale"),
            (body(["prompt": "x", "width": 100]), 400, "invalid_size", "width"),
            (body(["prompt": "x", "height": 4096]), 400, "invalid_size", "height"),
            (body(["prompt": "x", "width": 1024, "height": 1032]), 400, "invalid_size", "width"),
            (body(["prompt": String(repeating: "a", count: 8193)]), 400, "too_long", "prompt"),
            (body(["prompt": "x", "sampler": "k_euler"]), 400, "unknown_sampler", "sampler"),
            (body(["prompt": "x", "format": "gif"]), 400, "out_of_range", "format"),
            (body(["prompt": "x", "quality": 80]), 400, "out_of_range", "quality"),
            (body(["prompt": "x", "init_image": junkImage]), 400, "invalid_image", "init_image"),
            (body(["prompt": "x", "strength": 0.5]), 400, "out_of_range", "strength"),
            (body(["prompt": "a (dog:1.2.3)"]), 400, "invalid_prompt", "prompt"),
            (body(["prompt": "x", "negative_prompt": "(blur:1..5)"]), 400, "invalid_prompt", "negative_prompt"),
            (body(["prompt": "x", "prompt_syntax": "markdown"]), 400, "out_of_range", "prompt_syntax"),
        ]
        for (request, status, code, field) in cases {
            let response = try daemon.request("POST", "/v1/renders", json: request)
            #expect(response.status == status, "\(request.prefix(60)): \(response.status) \(response.text)")
            #expect(response.errorBody?.error.code == code, "\(request.prefix(60)): \(response.text)")
            #expect(response.errorBody?.error.field == field, "\(request.prefix(60)): \(response.text)")
        }
        #expect(try daemon.request("GET", "/v1/health").status == 200)
        #expect(try daemon.request("POST", "/v1/renders", json: body(["prompt": "still serving", "steps": 1])).status == 200)
        #expect(daemon.process.isRunning)
    }

    @Test("a body over the limit gets 413; a full queue gets 503 with Retry-After")
    func limits() throws {
        let daemon = try DaemonProcess(configuration: #"{"limits": {"maximum_body_bytes": 2048, "maximum_queued_jobs": 1}, "maximum_batch_rows": 2}"#)
        defer { daemon.stop() }
        let big = try daemon.request("POST", "/v1/renders", json: body(["prompt": String(repeating: "a", count: 3000)]))
        #expect(big.status == 413 && big.errorBody?.error.code == "body_too_large")
        // One running (fills the batch), one queued (fills the queue), the third is refused.
        let (running, _) = try daemon.start("POST", "/v1/renders", json: body(["prompt": "a", "steps": 500]), headers: ["Accept: application/x-ndjson"])
        try waitUntil { try daemon.request("GET", "/v1/health").text.contains("\"active\":\"1\"") }
        let (queued, _) = try daemon.start("POST", "/v1/renders", json: body(["prompt": "b", "steps": 500]), headers: ["Accept: application/x-ndjson"])
        try waitUntil { try daemon.request("GET", "/v1/health").text.contains("\"queue\":\"1\"") }
        let refused = try daemon.request("POST", "/v1/renders", json: body(["prompt": "c", "steps": 1]))
        #expect(refused.status == 503 && refused.errorBody?.error.code == "queue_full")
        #expect(refused.headers.lowercased().contains("retry-after:"))
        running.terminate()
        queued.terminate()
    }

    @Test("DELETE stops a running render within one step; a client that hangs up cancels its render")
    func cancellation() throws {
        let daemon = try DaemonProcess()
        defer { daemon.stop() }
        let (_, wait) = try daemon.start("POST", "/v1/renders", json: body(["prompt": "long", "steps": 500]), headers: ["Accept: application/x-ndjson"])
        var id = ""
        // The id comes from the stream's first line.
        try waitUntil {
            let files = try FileManager.default.contentsOfDirectory(atPath: daemon.directory.path).filter { $0.hasPrefix("bg-") && $0.hasSuffix(".out") }
            guard let file = files.first, let text = try? String(contentsOf: daemon.directory.appendingPathComponent(file), encoding: .utf8),
                  let first = text.split(separator: "\n").first,
                  let event = try? JSONDecoder().decode(StreamEvent.self, from: Data(first.utf8)) else { return false }
            id = event.id
            return text.contains("\"progress\"")
        }
        let deleted = try daemon.request("DELETE", "/v1/renders/\(id)")
        #expect(deleted.status == 200)
        let askedAt = try #require(try deleted.decode(JobStatusBody.self).step)
        let events = try wait().events
        #expect(events.last?.event == "error" && events.last?.error?.code == "cancelled")
        let lastStep = events.compactMap(\.step).max() ?? 0
        #expect(lastStep <= askedAt + 1, "cancelled after step \(lastStep); DELETE came after step \(askedAt)")
        #expect(try daemon.request("GET", "/v1/renders/\(id)").decode(JobStatusBody.self).status == "cancelled")

        // Hang up after the first two events (an event, not a time: under load one second may pass
        // before the first byte): `head` exits, curl dies on its next write, the daemon cancels.
        let hangUp = Process()
        hangUp.executableURL = URL(fileURLWithPath: "/bin/sh")
        hangUp.arguments = ["-c", "curl -sN --unix-socket \"$0\" -H 'Accept: application/x-ndjson' -d \"$1\" http://localhost/v1/renders | head -n 2",
                            daemon.socket, body(["prompt": "dropped", "steps": 500])]
        let firstLines = Pipe()
        hangUp.standardOutput = firstLines
        try hangUp.run()
        let dropped = String(decoding: firstLines.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        hangUp.waitUntilExit()
        let droppedID = try #require(dropped.split(separator: "\n").first.flatMap {
            try? JSONDecoder().decode(StreamEvent.self, from: Data($0.utf8)).id
        }, "no first event: \(dropped)")
        try waitUntil { try daemon.request("GET", "/v1/renders/\(droppedID)").decode(JobStatusBody.self).status == "cancelled" }
        #expect(try daemon.request("GET", "/v1/health").text.contains("\"active\":\"0\""))
    }

    @Test("concurrent requests share UNet calls and give the images each gives alone")
    func batching() throws {
        let daemon = try DaemonProcess()
        defer { daemon.stop() }
        // The second prompt is two 77-token chunks and its negative prompt one: rows of three context
        // lengths (77, 154, 77) share each call.
        let long = Array(repeating: "a red car on a wet street", count: 14).joined(separator: ", ")
        let requests = [body(["prompt": "a photo of sks dog", "steps": 20, "seed": 5]),
                        body(["prompt": long, "steps": 12, "seed": 9, "sampler": "dpmpp_2m", "negative_prompt": "blurry"])]
        let started = try requests.map { try daemon.start("POST", "/v1/renders", json: $0) }
        let together = try started.map { try $0.1().decode(RenderResponseBody.self) }
        let metrics = try daemon.request("GET", "/metrics").text
        let calls = metricValue(metrics, "dbrender_unet_calls_total"), rows = metricValue(metrics, "dbrender_unet_rows_total")
        #expect(rows > 2 * calls, "no UNet call held both requests: \(rows) rows in \(calls) calls")
        for (request, shared) in zip(requests, together) {
            let alone = try daemon.request("POST", "/v1/renders", json: request).decode(RenderResponseBody.self)
            let a = try ImageFile.decode(Data(base64Encoded: alone.images[0].data)!).image.pixels
            let b = try ImageFile.decode(Data(base64Encoded: shared.images[0].data)!).image.pixels
            let worst = zip(a, b).map { abs(Int($0) - Int($1)) }.max() ?? 255
            #expect(worst <= 1, "batched image differs from the solo render by \(worst)")
        }
    }

    @Test("A1111 prompt syntax by default, plain on request; long prompts are chunked; the infotext keeps the prompt as written")
    func promptSyntax() throws {
        let daemon = try DaemonProcess()
        defer { daemon.stop() }
        func render(_ fields: [String: Any]) throws -> RenderResponseBody {
            let response = try daemon.request("POST", "/v1/renders", json: body(["steps": 2, "seed": 3].merging(fields) { $1 }))
            #expect(response.status == 200, "\(response.text)")
            return try response.decode(RenderResponseBody.self)
        }
        let emphasised = try render(["prompt": "a (photo:1.2) of [dog]"])
        #expect(emphasised.parameters.promptSyntax == "a1111")
        let infotext = try ImageFile.decode(Data(base64Encoded: emphasised.images[0].data)!).parameters ?? ""
        #expect(infotext.hasPrefix("a (photo:1.2) of [dog]\n"), "\(infotext)")
        // The same words unweighted, and the weighted text taken literally: three cache entries, three images.
        let unweighted = try render(["prompt": "a photo of dog"])
        let plain = try render(["prompt": "a (photo:1.2) of [dog]", "prompt_syntax": "plain"])
        #expect(plain.parameters.promptSyntax == "plain")
        #expect(Set([emphasised, unweighted, plain].map(\.images[0].data)).count == 3)
        let metrics = try daemon.request("GET", "/metrics").text
        #expect(metricValue(metrics, "dbrender_embedding_cache_misses_total") == 3, "\(metrics)")
        // About 200 tokens: three chunks, all read (the render differs from the first chunk's alone).
        let words = (0..<100).map { ["red", "green", "blue", "star", "circle"][$0 % 5] }
        let long = try render(["prompt": words.joined(separator: ", ")])
        let firstChunk = try render(["prompt": words.prefix(38).joined(separator: ", ")])
        #expect(long.images[0].data != firstChunk.images[0].data)
    }

    @Test("SIGTERM lets the running render finish, then exits 0 and removes the socket")
    func gracefulShutdown() throws {
        let daemon = try DaemonProcess()
        defer { daemon.stop() }
        let (_, wait) = try daemon.start("POST", "/v1/renders", json: body(["prompt": "finish me", "steps": 60]), headers: ["Accept: application/x-ndjson"])
        try waitUntil { try daemon.request("GET", "/v1/health").text.contains("\"active\":\"1\"") }
        daemon.signal(SIGTERM)
        #expect(try daemon.waitForExit(timeout: 180) == 0)
        #expect(try wait().events.last?.event == "done")
        #expect(!FileManager.default.fileExists(atPath: daemon.socket))
    }

    @Test("SIGHUP loads the model again and swaps it in; queued renders are not lost")
    func reload() throws {
        let daemon = try DaemonProcess()
        defer { daemon.stop() }
        let (_, first) = try daemon.start("POST", "/v1/renders", json: body(["prompt": "one", "steps": 40]), headers: ["Accept: application/x-ndjson"])
        try waitUntil { try daemon.request("GET", "/v1/health").text.contains("\"active\":\"1\"") }
        daemon.signal(SIGHUP)
        let (_, second) = try daemon.start("POST", "/v1/renders", json: body(["prompt": "two", "steps": 5]), headers: ["Accept: application/x-ndjson"])
        #expect(try first().events.last?.event == "done")
        #expect(try second().events.last?.event == "done")
        try daemon.waitFor("model swapped in", timeout: 180)
        #expect(try daemon.request("POST", "/v1/renders", json: body(["prompt": "three", "steps": 2])).status == 200)
    }

    @Test("a stale socket file is replaced; a live one (another daemon) is not")
    func staleSocket() throws {
        let first = try DaemonProcess()
        defer { first.stop() }
        // A second daemon on the same path must refuse, leaving the first one serving.
        let second = Process()
        second.executableURL = DaemonProcess.binary
        second.arguments = ["--model", DaemonProcess.root.appendingPathComponent("models/tiny").path, "--socket", first.socket]
        let errors = Pipe()
        second.standardError = errors
        try second.run()
        second.waitUntilExit()
        #expect(second.terminationStatus != 0)
        #expect(String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).contains("another process is listening"))
        #expect(try first.request("GET", "/v1/health").status == 200)
        // Killed hard, the first leaves its socket file behind; a new daemon replaces it.
        first.signal(SIGKILL)
        _ = try first.waitForExit(timeout: 120)
        #expect(FileManager.default.fileExists(atPath: first.socket))
        let third = Process()
        third.executableURL = DaemonProcess.binary
        third.arguments = ["--model", DaemonProcess.root.appendingPathComponent("models/tiny").path, "--socket", first.socket]
        third.standardError = FileHandle.nullDevice
        try third.run()
        defer { third.terminate(); third.waitUntilExit() }
        try waitUntil { (try? DaemonProcess.curl(socket: first.socket, method: "GET", path: "/v1/health", json: nil, headers: [],
                                                   maxTime: 2, directory: FileManager.default.temporaryDirectory).status) == 200 }
    }

    @Test("dbrender renders a batch prompt file into --out-dir, and a second run resumes by skipping what exists")
    func clientBatchResume() throws {
        let daemon = try DaemonProcess()
        defer { daemon.stop() }
        let client = DaemonProcess.binary.deletingLastPathComponent().appendingPathComponent("dbrender")
        let prompts = daemon.directory.appendingPathComponent("prompts.txt")
        try Data("""
            # two renders, one with per-line overrides
            a photo of sks dog
            --seed 7 --steps 3 --count 2 a photo of sks dog on the beach

            """.utf8).write(to: prompts)
        let out = daemon.directory.appendingPathComponent("out")
        func run() throws -> (status: Int32, output: String) {
            try runProcess(client, ["--prompts", prompts.path, "--out-dir", out.path, "--socket", daemon.socket, "--steps", "2", "--seed", "1"])
        }
        let first = try run()
        #expect(first.status == 0, "\(first.output)")
        let files = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
        #expect(files.count == 3, "\(files)")
        let written = try files.map { try Data(contentsOf: out.appendingPathComponent($0)) }
        #expect(written.allSatisfy { ImageFormat(sniffing: $0) == .png })
        let rendersBefore = try daemon.request("GET", "/metrics").text.split(separator: "\n").first { $0.hasPrefix("dbrender_renders_total{status=\"done\"}") }
        let second = try run()
        #expect(second.status == 0 && second.output.contains("skipped"), "\(second.output)")
        let rendersAfter = try daemon.request("GET", "/metrics").text.split(separator: "\n").first { $0.hasPrefix("dbrender_renders_total{status=\"done\"}") }
        #expect(rendersBefore == rendersAfter, "the resumed batch rendered again")
        #expect(try files.map { try Data(contentsOf: out.appendingPathComponent($0)) } == written)
    }

    @Test("Ctrl-C in dbrender cancels its running render on the daemon, says so in one line and exits 130")
    func clientInterrupt() throws {
        let daemon = try DaemonProcess()
        defer { daemon.stop() }
        let process = Process()
        process.executableURL = DaemonProcess.binary.deletingLastPathComponent().appendingPathComponent("dbrender")
        process.arguments = ["a long render", "--steps", "500", "--socket", daemon.socket,
                             "--out", daemon.directory.appendingPathComponent("never.png").path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        try waitUntil { try daemon.request("GET", "/v1/health").text.contains("\"active\":\"1\"") }
        kill(process.processIdentifier, SIGINT)
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 130, "\(output)")
        #expect(output.contains("interrupted; cancelled job r_"), "\(output)")
        try waitUntil(timeout: 120) {
            try daemon.request("GET", "/metrics").text.contains("dbrender_renders_total{status=\"cancelled\"} 1")
        }
        #expect(!FileManager.default.fileExists(atPath: daemon.directory.appendingPathComponent("never.png").path))
    }

    @Test("socket activation: dbrenderd serves on the sockets systemd-socket-activate passes it (Unix and TCP), then stops cleanly")
    func socketActivation() throws {
        let activate = "/usr/bin/systemd-socket-activate"
        guard FileManager.default.isExecutableFile(atPath: activate) else {
            Issue.record("\(activate) is missing: install the Debian package systemd (scripts/setup.sh does)")
            return
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dbrenderd-activation-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // One shell owns (and reaps) the activator, the daemon it execs and the curl clients.
        let script = """
            set -u
            sock="$1/activated.sock"
            port=$((20000 + RANDOM % 30000))
            # systemd-socket-activate execs the daemon, so $pid is dbrenderd itself.
            \(activate) -l "$sock" -l "127.0.0.1:$port" "$2" --model "$3" 2>"$1/daemon.log" &
            pid=$!
            ( sleep 400; kill -KILL $pid ) >/dev/null 2>&1 &
            guard=$!
            for i in $(seq 1 1800); do
                code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 120 --unix-socket "$sock" http://localhost/v1/health) && [ "$code" = 200 ] && break
                sleep 0.1
            done
            echo "health $code"
            curl -s -o /dev/null -w 'tcp %{http_code}\\n' --max-time 60 "http://127.0.0.1:$port/v1/health"
            curl -s -o /dev/null -w 'render %{http_code}\\n' --max-time 300 --unix-socket "$sock" -X POST http://localhost/v1/renders -d '{"prompt": "activated", "steps": 2}'
            kill -TERM $pid
            wait $pid
            echo "exit $?"
            # Children of the test process inherit a mask that blocks SIGTERM: only KILL ends the guard.
            pkill -KILL -P $guard; kill -KILL $guard 2>/dev/null
            cat "$1/daemon.log"
            """
        let text = try runProcess(URL(fileURLWithPath: "/bin/bash"), ["-c", script, "bash", directory.path, DaemonProcess.binary.path,
                                                                     DaemonProcess.root.appendingPathComponent("models/tiny").path]).output
        #expect(text.contains("health 200") && text.contains("render 200") && text.contains("tcp 200"), "\(text)")
        #expect(text.contains("exit 0"), "\(text)")
        #expect(text.contains("using the sockets systemd passed") && text.contains("] ready"), "\(text)")
    }

    @Test("the model hash is computed once, then read from the cache while the weights are unchanged")
    func modelHashCache() throws {
        let cacheHome = FileManager.default.temporaryDirectory.appendingPathComponent("dbrenderd-cache-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: cacheHome) }
        let first = try DaemonProcess(cacheHome: cacheHome)
        let hash = try first.request("GET", "/v1/model").decode(ModelHashBody.self).sha256
        first.stop()
        #expect(first.log.contains("cached=false"), "\(first.log)")
        #expect(FileManager.default.fileExists(atPath: cacheHome.appendingPathComponent("dbrender/model-hashes.json").path))
        let second = try DaemonProcess(cacheHome: cacheHome)
        defer { second.stop() }
        #expect(second.log.contains("cached=true"), "\(second.log)")
        #expect(try second.request("GET", "/v1/model").decode(ModelHashBody.self).sha256 == hash)
    }

    // MARK: Helpers

    /// The hash fields of `GET /v1/model`.
    struct ModelHashBody: Decodable {
        let sha256: String?
        let hash: String?
    }

    /// coreutils' SHA-256 of the files (relative to the repository) concatenated.
    static func sha256sum(_ files: [String]) throws -> String {
        let run = try runProcess(URL(fileURLWithPath: "/bin/bash"), ["-c", "cat \"$@\" | sha256sum", "bash"] + files, in: DaemonProcess.root)
        return String(run.output.prefix(64))
    }

    private func metricValue(_ text: String, _ name: String) -> Double {
        text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) } ?? -1
    }
}
