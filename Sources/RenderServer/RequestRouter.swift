// Routes of the HTTP API (DESIGN.md): renders (create, status, cancel), health, model, samplers,
// metrics — and the compatible APIs beside ours: AUTOMATIC1111's under /sdapi/v1 (A1111Service),
// OpenAI's Images API under /v1/images and /v1/models (OpenAIImagesService).
// Each route answers with a value; HTTPHandler turns it into bytes.
import Foundation
import ImageIO
import NIOHTTP1
import RenderAPI
import Sampling

/// What a route answers.
enum RouteResult {
    case json(status: Int, body: Data, headers: [(String, String)])
    case text(status: Int, body: String, contentType: String)
    case error(APIError)
    /// A plain render: when the job finishes, `answer` gives what to write (not another wait).
    case waitForRender(RenderJob, answer: @Sendable (RenderJob) -> RouteResult)
    /// A streamed render: the job is queued; its events wait in the relay until the stream is open.
    /// `format` turns each event into bytes to send (nil: skip it) and says whether it ends the stream.
    case stream(RenderJob, EventRelay, contentType: String, format: @Sendable (StreamEvent) -> (bytes: Data, isLast: Bool)?)
}

/// Holds a job's first events until the connection is ready to write them, then forwards.
final class EventRelay: @unchecked Sendable {
    private let lock = NSLock()
    private var buffered: [StreamEvent] = []
    private var sink: ((StreamEvent) -> Void)?

    func receive(_ event: StreamEvent) {
        let target: ((StreamEvent) -> Void)? = lock.withLock {
            if sink == nil { buffered.append(event) }
            return sink
        }
        target?(event)
    }

    /// Replays the buffered events, then delivers new ones directly. The sink is installed only
    /// once the buffer is empty (under the lock): installed earlier, an event arriving during the
    /// replay would reach the sink before the ones still being replayed (a `started` before its
    /// `queued`, seen on a loaded machine).
    func attach(_ sink: @escaping (StreamEvent) -> Void) {
        while true {
            let pending: [StreamEvent] = lock.withLock {
                if buffered.isEmpty { self.sink = sink }
                defer { buffered = [] }
                return buffered
            }
            if pending.isEmpty { return }
            for event in pending { sink(event) }
        }
    }
}

/// The API's routes.
struct RequestRouter: Sendable {
    let engine: RenderEngine
    let a1111: A1111Service
    var openAI: OpenAIImagesService { OpenAIImagesService(engine: engine) }

    func route(_ head: HTTPRequestHead, body: Data) -> RouteResult {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        let parts = path.split(separator: "/").map(String.init)
        engine.metrics.request(routeName(parts))
        if path.hasPrefix("/sdapi/") { return a1111.route(head, path: path, body: body) }
        if path.hasPrefix("/v1/images/") || path == "/v1/models" || path.hasPrefix("/v1/models/") {
            return openAI.route(head, path: path, body: body)
        }
        let renderID = parts.count == 3 && parts[0] == "v1" && parts[1] == "renders" ? parts[2] : nil
        let known: Set<String> = ["/v1/renders", "/v1/health", "/v1/model", "/v1/samplers", "/v1/loras", "/metrics"]
        switch (head.method, path) {
        case (.POST, "/v1/renders"):
            return createRender(head, body: body)
        case (.GET, _) where renderID != nil:
            guard let job = engine.job(renderID!) else { return .error(.notFound("no render with id '\(renderID!)'")) }
            var status = job.statusBody
            if job.status == RenderJob.Status.queued { status.position = engine.queuePosition(of: job) }
            return json(status)
        case (.DELETE, _) where renderID != nil:
            guard let job = engine.job(renderID!) else { return .error(.notFound("no render with id '\(renderID!)'")) }
            // The answer says at which step the cancellation was asked for: the render stops
            // within one step of it.
            var answer = job.statusBody
            if !job.isFinished {
                engine.cancel(job)
                answer.status = "cancelling"
            }
            answer.images = nil
            return json(answer)
        case (.GET, "/v1/health"):
            var health = ["status": "ok", "queue": "\(engine.queueDepth)", "active": "\(engine.activeCount)"]
            health["instance"] = engine.configuration.instance
            return json(health)
        case (.GET, "/v1/model"):
            let m = engine.model
            return json(ModelBody(path: m.path, layout: m.layout, nativeSize: m.nativeSize,
                                  textEncoderLayers: m.textEncoderLayers, loadSeconds: m.loadSeconds,
                                  sha256: m.sha256, hash: m.shortHash, schedulerConfig: m.schedulerConfigSource,
                                  tokenizer: m.tokenizerSource))
        case (.GET, "/v1/samplers"):
            return json(SamplersBody(
                samplers: SchedulerFactory.samplerNames.map { .init(name: $0, displayName: SamplerDisplayNames.displayName(of: $0)) },
                defaultSampler: engine.configuration.defaultSampler))
        case (.GET, "/v1/loras"):
            return json(LoRAsBody(loras: (engine.loras?.entries() ?? []).map { .init(name: $0.name, path: $0.url.path, sizeBytes: $0.sizeBytes) }))
        case (.GET, "/metrics"):
            return .text(status: 200, body: engine.metricsText(), contentType: "text/plain; version=0.0.4")
        default:
            if known.contains(path) || renderID != nil {
                return .error(APIError(status: 405, code: "method_not_allowed", message: "\(head.method) is not allowed on \(path)"))
            }
            return .error(.notFound("no route \(path)"))
        }
    }

    private func createRender(_ head: HTTPRequestHead, body: Data) -> RouteResult {
        let spec: RenderSpec
        do { spec = try engine.validator.validate(body) } catch { return .error(error) }
        let streaming = head.headers["accept"].contains { $0.contains("application/x-ndjson") }
        do {
            if streaming {
                let relay = EventRelay()
                let job = try engine.submit(spec, listener: relay.receive)
                return .stream(job, relay, contentType: "application/x-ndjson") { event in
                    // Our NDJSON: every event but the OpenAI-only full-size partial images.
                    guard event.event != "partial_image" else { return nil }
                    return (APIJSON.encode(event) + Data("\n".utf8), event.event == "done" || event.event == "error")
                }
            }
            return .waitForRender(try engine.submit(spec)) { job in
                switch RequestRouter.finalAnswer(job) {
                case .success(let data): .json(status: 200, body: data, headers: [])
                case .failure(let error): .error(error)
                }
            }
        } catch {
            return .error(error)
        }
    }

    /// The plain answer of a finished render.
    static func finalAnswer(_ job: RenderJob) -> Result<Data, APIError> {
        switch job.status {
        case .done:
            return .success(APIJSON.encode(RenderResponseBody(id: job.id, images: job.images, parameters: job.spec.parameters)))
        case .cancelled:
            return .failure(APIError(status: 409, code: "cancelled", message: "the render was cancelled"))
        default:
            let e = job.error
            return .failure(APIError(status: e?.field == nil ? 500 : 400, code: e?.code ?? "render_failed",
                                     message: e?.message ?? "the render failed", field: e?.field))
        }
    }

    private func json<T: Encodable>(_ value: T) -> RouteResult {
        .json(status: 200, body: APIJSON.encode(value), headers: [])
    }

    private func routeName(_ parts: [String]) -> String {
        parts.count == 3 && parts[1] == "renders" ? "/v1/renders/{id}" : "/" + parts.joined(separator: "/")
    }
}

/// `GET /v1/model`
struct ModelBody: Encodable {
    let path: String
    let layout: String
    let nativeSize: Int
    let textEncoderLayers: Int
    let loadSeconds: Double
    /// SHA-256 of the weights, and its first 10 hex digits (A1111's "Model hash", as in the images).
    let sha256: String?
    let hash: String?
    /// "model" or "sd1-default" (see `CompanionSource`).
    let schedulerConfig: String
    let tokenizer: String
    enum CodingKeys: String, CodingKey {
        case path, layout, nativeSize = "native_size", textEncoderLayers = "text_encoder_layers", loadSeconds = "load_seconds"
        case sha256, hash, schedulerConfig = "scheduler_config", tokenizer
    }
}
