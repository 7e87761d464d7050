// A stand-in for dbrenderd in tests: a thread that listens on a temporary Unix socket, accepts one
// connection per scripted answer, records the request and writes the answer in the pieces the script
// gives — pausing where it says, to prove that the client hands over what arrived without waiting for more.
import Foundation
import RenderAPI
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One HTTP request as the fake daemon received it.
struct ReceivedRequest: Sendable {
    var method: String
    var path: String
    var headers: [String: String]  // lowercased names
    var body: Data
}

/// Scripted answers on a temporary socket.
final class FakeDaemon: @unchecked Sendable {
    /// One step of an answer.
    enum Step: @unchecked Sendable {
        case send([UInt8])
        /// Wait until the test signals (the client has seen what was sent so far); 5 s at most.
        case wait(DispatchSemaphore)
    }

    let path: String
    private let listener: Int32
    private let lock = NSLock()
    private var received: [ReceivedRequest] = []
    private var failures: [String] = []
    private let finished = DispatchSemaphore(value: 0)

    /// Starts serving `answers`, one connection each, in order.
    init(answers: [[Step]]) {
        path = "/tmp/dbrender-test-\(UUID().uuidString.prefix(12)).sock"
        #if canImport(Glibc)
        listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #else
        listener = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        precondition(bound == 0 && listen(listener, 8) == 0, "fake daemon cannot listen on \(path)")
        Thread { [self] in
            serve(answers)
            finished.signal()
        }.start()
    }

    deinit {
        close(listener)
        unlink(path)
    }

    /// A socket file that nobody listens on, as a crashed daemon leaves behind; returns its path.
    static func staleSocket(at path: String) -> String {
        #if canImport(Glibc)
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let descriptor = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        close(descriptor)
        return path
    }

    /// Waits until every scripted answer was given; returns the requests and any problems seen.
    func finish() -> (requests: [ReceivedRequest], failures: [String]) {
        if finished.wait(timeout: .now() + 120) == .timedOut { return (requests, ["fake daemon still serving after 120 s"]) }
        return lock.withLock { (received, failures) }
    }

    var requests: [ReceivedRequest] { lock.withLock { received } }

    private func serve(_ answers: [[Step]]) {
        for answer in answers {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return note("accept failed: errno \(errno)") }
            defer { close(connection) }
            guard let request = readRequest(connection) else { return note("no complete request") }
            lock.withLock { received.append(request) }
            for step in answer {
                switch step {
                case let .send(bytes):
                    let sent = bytes.withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Self.noSignal) }
                    guard sent == bytes.count else { return note("short send") }
                case let .wait(semaphore):
                    if semaphore.wait(timeout: .now() + 120) == .timedOut {
                        note("the client did not deliver what was sent before the pause")
                    }
                }
            }
        }
    }

    // A client that hangs up early must fail the test, not kill the test process with SIGPIPE.
    #if canImport(Glibc)
    private static let noSignal = Int32(MSG_NOSIGNAL)
    #else
    private static let noSignal: Int32 = 0
    #endif

    private func note(_ failure: String) { lock.withLock { failures.append(failure) } }

    /// Reads the head up to the empty line, then Content-Length bytes of body.
    private func readRequest(_ connection: Int32) -> ReceivedRequest? {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        func more() -> Bool {
            let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
            if count <= 0 { return false }
            bytes += buffer[..<count]
            return true
        }
        let separator = Array("\r\n\r\n".utf8)
        var headEnd: Int?
        while headEnd == nil {
            guard more() else { return nil }
            headEnd = bytes.indices.dropLast(3).first { Array(bytes[$0..<$0 + 4]) == separator }
        }
        let lines = String(decoding: bytes[..<headEnd!], as: UTF8.self).components(separatedBy: "\r\n")
        let requestLine = lines[0].split(separator: " ")
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            headers[parts[0].lowercased()] = parts[1].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        while bytes.count < headEnd! + 4 + length {
            guard more() else { return nil }
        }
        return ReceivedRequest(method: String(requestLine[0]), path: String(requestLine[1]), headers: headers,
                               body: Data(bytes[(headEnd! + 4)...]))
    }
}

/// Builders of the bytes a daemon sends.
enum Wire {
    /// A complete response with a Content-Length body.
    static func response(status: Int, reason: String, headers: [String] = [], body: [UInt8]) -> [UInt8] {
        let head = (["HTTP/1.1 \(status) \(reason)", "Content-Length: \(body.count)"] + headers).joined(separator: "\r\n")
        return Array((head + "\r\n\r\n").utf8) + body
    }

    /// The head of a chunked NDJSON stream.
    static let streamHead = Array("HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)

    /// `body` in chunked coding, cut into chunks of the given sizes (used in turn), then the last chunk.
    static func chunked(_ body: [UInt8], sizes: [Int]) -> [UInt8] {
        var out: [UInt8] = []
        var offset = 0
        var turn = 0
        while offset < body.count {
            let size = min(sizes[turn % sizes.count], body.count - offset)
            out += Array((String(size, radix: 16) + "\r\n").utf8) + body[offset..<offset + size] + Array("\r\n".utf8)
            offset += size
            turn += 1
        }
        return out + Array("0\r\n\r\n".utf8)
    }

    /// `bytes` cut into pieces of the given sizes, used in turn.
    static func pieces(_ bytes: [UInt8], sizes: [Int]) -> [FakeDaemon.Step] {
        var steps: [FakeDaemon.Step] = []
        var offset = 0
        var turn = 0
        while offset < bytes.count {
            let size = min(sizes[turn % sizes.count], bytes.count - offset)
            steps.append(.send(Array(bytes[offset..<offset + size])))
            offset += size
            turn += 1
        }
        return steps
    }

    /// Events as NDJSON.
    static func ndjson(_ events: [StreamEvent]) -> [UInt8] {
        events.flatMap { Array(APIJSON.encode($0)) + [UInt8(ascii: "\n")] }
    }

    /// The events of a successful one-image job.
    static func events(id: String, seed: UInt64 = 42, images: [String] = ["fake png bytes"], steps: Int = 2) -> [StreamEvent] {
        var queued = StreamEvent(event: "queued", id: id)
        queued.position = 1
        var list = [queued, StreamEvent(event: "started", id: id)]
        for step in 1...steps {
            var progress = StreamEvent(event: "progress", id: id)
            progress.step = step
            progress.steps = steps
            list.append(progress)
        }
        for (index, content) in images.enumerated() {
            var image = StreamEvent(event: "image", id: id)
            image.index = index
            image.image = RenderedImageBody(seed: seed + UInt64(index), format: "png", data: Data(content.utf8).base64EncodedString())
            list.append(image)
        }
        var done = StreamEvent(event: "done", id: id)
        done.parameters = parameters(seed: seed, count: images.count, steps: steps)
        return list + [done]
    }

    static func parameters(seed: UInt64, count: Int, steps: Int = 2) -> RenderParameters {
        RenderParameters(prompt: "a photo of sks dog", negativePrompt: "", steps: steps, guidanceScale: 7.5, sampler: "euler_a",
                         seed: seed, width: 64, height: 64, count: count, format: "png", quality: nil, clipSkip: 1, strength: nil)
    }

    static func errorBody(_ code: String, _ message: String, field: String? = nil) -> [UInt8] {
        Array(APIJSON.encode(ErrorBody(code: code, message: message, field: field)))
    }
}
