// OpenAI's Images API on dbrenderd, for code written against the official `openai` clients:
//   POST /v1/images/generations  {prompt, n, size "WxH" | "auto", response_format "b64_json",
//        output_format png | webp, output_compression (WebP quality), quality, stream, partial_images}
//   GET  /v1/models, /v1/models/{id}
// A render is one of our engine's (batched with the others). Streaming answers are server-sent events,
// `image_generation.partial_image` (the first image's denoised estimate through the VAE, at evenly
// spaced steps) then one `image_generation.completed` per image. Errors are OpenAI's
// {"error": {"message", "type", "param", "code"}}.
// Choices where OpenAI's models and ours differ: `model` may be any name (one model is loaded, so it
// cannot change the image); `quality` sets the step count (low 10, medium 20, high 40; auto, standard
// and hd: the daemon's default); URLs and transparent backgrounds are refused by name.
// Our own fields (negative_prompt, seed, steps, guidance_scale, sampler) are accepted too: the openai
// package sends them through `extra_body`.
import Foundation
import NIOHTTP1
import RenderAPI

/// The OpenAI routes. Stateless apart from the engine.
struct OpenAIImagesService: Sendable {
    let engine: RenderEngine

    func route(_ head: HTTPRequestHead, path: String, body: Data) -> RouteResult {
        switch (head.method, path) {
        case (.POST, "/v1/images/generations"): return generate(body)
        case (.GET, "/v1/models"): return json(["object": "list", "data": [modelObject]])
        case (.GET, _) where path.hasPrefix("/v1/models/"):
            let id = String(path.dropFirst("/v1/models/".count)).removingPercentEncoding ?? ""
            guard id == modelID else {
                return Self.error(404, "The model '\(id)' does not exist; this server has '\(modelID)'", type: "invalid_request_error",
                                  param: "model", code: "model_not_found")
            }
            return json(modelObject)
        default:
            return Self.error(path == "/v1/images/generations" ? 405 : 404, "\(head.method) \(path) is not a route of this server",
                              type: "invalid_request_error", param: nil, code: nil)
        }
    }

    private var modelID: String { engine.modelName }
    private var modelObject: [String: Any] { ["id": modelID, "object": "model", "created": 0, "owned_by": "dbrender"] }

    // MARK: Generations

    private func generate(_ data: Data) -> RouteResult {
        guard let object = try? JSONSerialization.jsonObject(with: data), let fields = object as? [String: Any] else {
            return Self.error(400, "The body must be a JSON object", type: "invalid_request_error", param: nil, code: nil)
        }
        let translated: (body: RenderRequestBody, stream: Bool, partialImages: Int)
        do { translated = try translate(fields) } catch {
            return Self.error(400, error.message, type: "invalid_request_error", param: error.param, code: "invalid_value")
        }
        var spec: RenderSpec
        do { spec = try engine.validator.validate(translated.body) } catch {
            let param = error.body.error.field.map(Self.openAIParam)
            return Self.error(error.status == 400 ? 400 : error.status, error.body.error.message, type: "invalid_request_error",
                              param: param, code: error.body.error.code)
        }
        spec.partialImages = translated.partialImages
        let created = Int(Date().timeIntervalSince1970)
        let format = spec.format.rawValue, size = "\(spec.parameters.width)x\(spec.parameters.height)"
        let quality = (fields["quality"] as? String).map { ["low", "medium", "high"].contains($0) ? $0 : "auto" } ?? "auto"
        do {
            if translated.stream {
                let relay = EventRelay()
                let job = try engine.submit(spec, listener: relay.receive)
                return .stream(job, relay, contentType: "text/event-stream") { event in
                    Self.serverSentEvent(event, created: created, format: format, size: size, quality: quality)
                }
            }
            return .waitForRender(try engine.submit(spec)) { job in
                guard job.status == .done else {
                    let message = job.error?.message ?? "the render was \(job.status.rawValue)"
                    // The openai client retries 409 and 5xx by default: a cancelled or failed render would run again.
                    let status = job.status == .cancelled ? 409 : 500
                    return .json(status: status, body: Self.encode(Self.errorObject(message, type: "server_error", param: nil, code: job.error?.code)),
                                 headers: [("x-should-retry", "false")])
                }
                return Self.jsonResult([
                    "created": created, "data": job.images.map { ["b64_json": $0.data] }, "background": "opaque",
                    "output_format": format, "quality": quality, "size": size, "usage": Self.usage,
                ])
            }
        } catch {
            let headers = error.retryAfter.map { [("Retry-After", "\($0)")] } ?? []
            return .json(status: error.status, body: Self.encode(Self.errorObject(error.body.error.message, type: "server_error",
                                                                                   param: nil, code: error.body.error.code)), headers: headers)
        }
    }

    /// A request parameter we cannot honour.
    struct Invalid: Error {
        let param: String
        let message: String
    }

    /// OpenAI's parameters → our request.
    private func translate(_ fields: [String: Any]) throws(Invalid) -> (body: RenderRequestBody, stream: Bool, partialImages: Int) {
        func string(_ key: String) throws(Invalid) -> String? {
            guard let value = fields[key], !(value is NSNull) else { return nil }
            guard let text = value as? String else { throw Invalid(param: key, message: "'\(key)' must be a string") }
            return text
        }
        func integer(_ key: String) throws(Invalid) -> Int? {
            guard let value = fields[key], !(value is NSNull) else { return nil }
            guard let number = value as? NSNumber, !A1111Request.isBoolean(number), Double(number.intValue) == number.doubleValue else {
                throw Invalid(param: key, message: "'\(key)' must be an integer")
            }
            return number.intValue
        }
        guard let prompt = try string("prompt") else { throw Invalid(param: "prompt", message: "'prompt' is required") }
        var body = RenderRequestBody(prompt: prompt)
        // Our own fields, for clients that pass them through (the openai package's `extra_body`).
        body.negativePrompt = try string("negative_prompt")
        body.sampler = try string("sampler")
        body.steps = try integer("steps")
        if let seed = try integer("seed") {
            guard seed >= 0 else { throw Invalid(param: "seed", message: "'seed' must be 0 or more") }
            body.seed = UInt64(seed)
        }
        if let guidance = fields["guidance_scale"] as? NSNumber, !A1111Request.isBoolean(guidance) { body.guidanceScale = guidance.doubleValue }
        body.count = try integer("n") ?? 1
        if let size = try string("size"), size != "auto" {
            let parts = size.split(separator: "x").map { Int($0) }
            guard parts.count == 2, let width = parts[0], let height = parts[1] else {
                throw Invalid(param: "size", message: "'size' must be \"WIDTHxHEIGHT\" (e.g. \"512x512\") or \"auto\", got \"\(size)\"")
            }
            body.width = width
            body.height = height
        }
        if let format = try string("response_format"), format != "b64_json" {
            throw Invalid(param: "response_format", message: "response_format '\(format)' is not supported: images come back as b64_json")
        }
        let outputFormat = try string("output_format") ?? "png"
        guard ["png", "webp", "jpeg"].contains(outputFormat) else {
            throw Invalid(param: "output_format", message: "output_format '\(outputFormat)' is not supported; use png, webp or jpeg")
        }
        body.format = outputFormat
        let compression = try integer("output_compression")
        if let compression, !(0...100).contains(compression) {
            throw Invalid(param: "output_compression", message: "'output_compression' must be 0 to 100")
        }
        switch outputFormat {
        case "jpeg": body.quality = compression ?? 100  // OpenAI's default compression is 100
        case "webp": if let compression, compression < 100 { body.quality = compression }  // 100: lossless
        default: break  // PNG is lossless whatever the value
        }
        if let background = try string("background"), background == "transparent" {
            throw Invalid(param: "background", message: "transparent backgrounds are not supported")
        }
        switch try string("quality") {
        case "low": body.steps = 10
        case "medium": body.steps = 20
        case "high": body.steps = 40
        case nil, "auto", "standard", "hd": break
        case let other?: throw Invalid(param: "quality", message: "unknown quality '\(other)'")
        }
        let stream = (fields["stream"] as? NSNumber).map { A1111Request.isBoolean($0) && $0.boolValue } ?? false
        let partialImages = try integer("partial_images") ?? 0
        guard (0...3).contains(partialImages) else { throw Invalid(param: "partial_images", message: "'partial_images' must be 0 to 3") }
        return (body, stream, stream ? partialImages : 0)
    }

    /// One engine event as a server-sent event, or nil for events OpenAI's stream has no place for.
    static func serverSentEvent(_ event: StreamEvent, created: Int, format: String, size: String, quality: String) -> (bytes: Data, isLast: Bool)? {
        func sse(_ type: String, _ payload: [String: Any]) -> Data {
            var object = payload
            object["type"] = type
            return Data("event: \(type)\ndata: ".utf8) + encode(object) + Data("\n\n".utf8)
        }
        let common: [String: Any] = ["created_at": created, "size": size, "quality": quality, "background": "opaque", "output_format": format]
        switch event.event {
        case "partial_image":
            guard let image = event.image else { return nil }
            return (sse("image_generation.partial_image",
                        common.merging(["b64_json": image.data, "partial_image_index": event.index ?? 0]) { $1 }), false)
        case "image":
            guard let image = event.image else { return nil }
            return (sse("image_generation.completed", common.merging(["b64_json": image.data, "usage": usage]) { $1 }), false)
        case "done":
            return (Data("data: [DONE]\n\n".utf8), true)
        case "error":
            let detail = event.error
            let error = errorObject(detail?.message ?? "the render failed", type: "server_error", param: nil, code: detail?.code)
            return (Data("event: error\ndata: ".utf8) + encode(error) + Data("\n\n".utf8), true)
        default:
            return nil
        }
    }

    /// Token counts do not apply to a diffusion model; the object is there because clients read it.
    static var usage: [String: Any] { ["input_tokens": 0, "output_tokens": 0, "total_tokens": 0,
                                       "input_tokens_details": ["image_tokens": 0, "text_tokens": 0]] }

    // MARK: JSON

    private func json(_ value: Any) -> RouteResult { Self.jsonResult(value) }
    static func jsonResult(_ value: Any) -> RouteResult { .json(status: 200, body: encode(value), headers: []) }

    static func errorObject(_ message: String, type: String, param: String?, code: String?) -> [String: Any] {
        ["error": ["message": message, "type": type, "param": param ?? NSNull(), "code": code ?? NSNull()] as [String: Any]]
    }

    static func error(_ status: Int, _ message: String, type: String, param: String?, code: String?) -> RouteResult {
        .json(status: status, body: encode(errorObject(message, type: type, param: param, code: code)), headers: [])
    }

    static func encode(_ value: Any) -> Data { A1111Service.encode(value) }

    /// A field of our API under its OpenAI name.
    static func openAIParam(_ ours: String) -> String {
        ["count": "n", "width": "size", "height": "size", "format": "output_format", "quality": "output_compression"][ours] ?? ours
    }
}
