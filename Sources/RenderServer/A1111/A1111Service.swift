// AUTOMATIC1111's API on dbrenderd: txt2img and img2img become renders of our engine (batched with
// every other request), and A1111's one global "state" — what /progress reports and /interrupt stops —
// is the oldest A1111 render still running or queued. Answers are A1111's JSON: {images, parameters,
// info} with `info` a JSON string (Processed.js()), and errors as A1111's FastAPI app gives them
// (422 {"detail": [{"loc", "msg", "type"}]} for a bad field; {"error", "detail", "body", "errors"}
// for the others).
import Foundation
import ImageIO
import NIOHTTP1
import RenderAPI

/// The A1111 routes' shared state and answers. Thread-safe.
final class A1111Service: @unchecked Sendable {
    let engine: RenderEngine
    let options = A1111Options()
    private let lock = NSLock()
    /// A1111 renders in submission order, with when they were submitted (for eta_relative); finished
    /// ones are dropped as the next lookup passes them.
    private var renders: [(job: RenderJob, timestamp: String)] = []

    init(engine: RenderEngine) { self.engine = engine }

    var model: A1111ModelNames { A1111ModelNames(path: engine.model.path, sha256: engine.model.sha256) }

    // MARK: Routes

    func route(_ head: HTTPRequestHead, path: String, body: Data) -> RouteResult {
        let query = head.uri.split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
        switch (head.method, path) {
        case (.POST, "/sdapi/v1/txt2img"): return generate(.textToImage, body: body)
        case (.POST, "/sdapi/v1/img2img"): return generate(.imageToImage, body: body)
        case (.GET, "/sdapi/v1/progress"): return json(progress(skipImage: query.contains("skip_current_image=true")))
        case (.POST, "/sdapi/v1/interrupt"), (.POST, "/sdapi/v1/skip"):
            // With one batch per request, skipping the current image is stopping the render.
            if let job = current() { engine.interrupt(job) }
            return json(path.hasSuffix("/skip") ? NSNull() : [String: Any]() as Any)  // A1111: {} and null
        case (.GET, "/sdapi/v1/samplers"):
            return json(A1111Samplers.samplers.map { ["name": $0.name, "aliases": $0.aliases, "options": $0.options] as [String: Any] })
        case (.GET, "/sdapi/v1/schedulers"):
            return json(A1111Samplers.schedules.map {
                ["name": $0.name, "label": $0.label, "aliases": $0.aliases ?? NSNull(), "default_rho": $0.defaultRho ?? -1,
                 "need_inner_model": $0.needsInnerModel] as [String: Any]
            })
        case (.GET, "/sdapi/v1/sd-models"):
            let m = model
            return json([["title": m.title, "model_name": m.modelName, "hash": m.shortHash ?? NSNull(), "sha256": m.sha256 ?? NSNull(),
                          "filename": m.path, "config": NSNull()] as [String: Any]])
        case (.GET, "/sdapi/v1/options"): return json(options.snapshot(model: model, previewType: engine.hasTinyDecoder ? "TAESD" : "Approx cheap"))
        case (.POST, "/sdapi/v1/options"):
            guard let object = try? JSONSerialization.jsonObject(with: body), let settings = object as? [String: Any] else {
                return validationError(field: "body", message: "the body must be a JSON object of settings")
            }
            do { try options.apply(settings, model: model, textEncoderLayers: engine.model.textEncoderLayers) } catch {
                return validationError(field: error.key, message: error.message)
            }
            return json(NSNull())
        case (.GET, "/sdapi/v1/loras"):
            let entries = engine.loras?.entries() ?? []
            return json(entries.map { ["name": $0.name, "alias": $0.name, "path": $0.url.path, "metadata": [String: Any]()] as [String: Any] })
        case (.GET, "/sdapi/v1/scripts"): return json(["txt2img": [String](), "img2img": [String]()])
        case (.GET, "/sdapi/v1/sd-vae"), (.GET, "/sdapi/v1/upscalers"), (.GET, "/sdapi/v1/hypernetworks"),
             (.GET, "/sdapi/v1/face-restorers"), (.GET, "/sdapi/v1/prompt-styles"), (.GET, "/sdapi/v1/latent-upscale-modes"):
            return json([Any]())
        case (.GET, "/sdapi/v1/embeddings"): return json(["loaded": [String: Any](), "skipped": [String: Any]()])
        case (.POST, "/sdapi/v1/refresh-checkpoints"), (.POST, "/sdapi/v1/refresh-loras"), (.POST, "/sdapi/v1/refresh-vae"):
            return json(NSNull())
        default:
            let known = ["/sdapi/v1/txt2img", "/sdapi/v1/img2img", "/sdapi/v1/progress", "/sdapi/v1/interrupt", "/sdapi/v1/skip",
                         "/sdapi/v1/samplers", "/sdapi/v1/schedulers", "/sdapi/v1/sd-models", "/sdapi/v1/options", "/sdapi/v1/loras"]
            if known.contains(path) { return .json(status: 405, body: Self.encode(["detail": "Method Not Allowed"]), headers: []) }
            return .json(status: 404, body: Self.encode(["detail": "Not Found"]), headers: [])
        }
    }

    // MARK: txt2img, img2img

    private func generate(_ kind: A1111Request.Kind, body: Data) -> RouteResult {
        let request: A1111Request, translation: A1111Request.Translation
        do {
            request = try A1111Request(kind: kind, json: body)
            translation = try request.translate(options: options, model: model, textEncoderLayers: engine.model.textEncoderLayers)
        } catch {
            if error.status != 422 { return httpError(status: error.status, detail: error.message, retryAfter: nil) }
            return validationError(field: error.field, message: error.message)
        }
        let spec: RenderSpec
        do { spec = try engine.validator.validate(translation.body, decodedInitImage: translation.initImage) } catch {
            let field = error.body.error.field.map(Self.a1111Field) ?? "body"
            return validationError(field: field, message: error.body.error.message.replacingOccurrences(of: error.body.error.field ?? "\u{0}", with: field))
        }
        let job: RenderJob
        do { job = try engine.submit(spec) } catch {
            return httpError(status: error.status, detail: error.body.error.message, retryAfter: error.retryAfter)
        }
        let timestamp = Self.timestamp()
        lock.withLock { renders.append((job, timestamp)) }
        return .waitForRender(job) { [self] job in answer(job, request: request, translation: translation, timestamp: timestamp) }
    }

    /// The finished render as A1111 answers it.
    private func answer(_ job: RenderJob, request: A1111Request, translation: A1111Request.Translation, timestamp: String) -> RouteResult {
        guard job.status == .done else {
            let detail = job.error?.message ?? (job.status == .cancelled ? "the render was cancelled" : "the render failed")
            return httpError(status: job.status == .cancelled ? 409 : 500, detail: detail, retryAfter: nil)
        }
        let spec = job.spec, p = spec.parameters
        let seeds = job.images.map(\.seed)
        let count = seeds.count
        var parameters = request.fields
        if !translation.includeInitImages { parameters["init_images"] = NSNull(); parameters["mask"] = NSNull() }
        let m = model
        var info: [String: Any] = [
            "prompt": p.prompt, "all_prompts": Array(repeating: p.prompt, count: count),
            "negative_prompt": p.negativePrompt, "all_negative_prompts": Array(repeating: p.negativePrompt, count: count),
            "seed": seeds.first ?? p.seed, "all_seeds": seeds,
            // No variation seeds here: the subseeds are the seeds (their strength is 0).
            "subseed": seeds.first ?? p.seed, "all_subseeds": seeds, "subseed_strength": 0,
            "width": p.width, "height": p.height, "sampler_name": translation.sampler.displayName, "cfg_scale": p.guidanceScale,
            "steps": p.steps, "batch_size": translation.batchSize, "restore_faces": false, "face_restoration_model": NSNull(),
            "sd_model_name": m.modelName, "sd_model_hash": m.shortHash ?? NSNull(), "sd_vae_name": NSNull(), "sd_vae_hash": NSNull(),
            "seed_resize_from_w": -1, "seed_resize_from_h": -1, "denoising_strength": p.strength ?? NSNull(),
            "extra_generation_params": ["Schedule type": translation.sampler.scheduleLabel],
            "index_of_first_image": 0, "infotexts": seeds.map { engine.infotext(spec, seed: $0) }, "styles": [String](),
            "job_timestamp": timestamp, "clip_skip": p.clipSkip, "is_using_inpainting_conditioning": false, "version": "dbrender",
        ]
        if p.strength == nil { info["denoising_strength"] = request.fields["denoising_strength"] ?? NSNull() }
        let infoText = String(decoding: Self.encode(info), as: UTF8.self)
        let images: [String] = translation.sendImages ? job.images.map(\.data) : []
        return json(["images": images, "parameters": parameters, "info": infoText])
    }

    // MARK: Progress

    /// The oldest A1111 render not yet finished (running before queued), with its submission time;
    /// finished ones are forgotten.
    private func currentEntry() -> (job: RenderJob, timestamp: String)? {
        lock.withLock {
            renders.removeAll { $0.job.isFinished }
            return renders.first { $0.job.status == .running } ?? renders.first
        }
    }

    func current() -> RenderJob? { currentEntry()?.job }

    private func progress(skipImage: Bool) -> [String: Any] {
        let entry = currentEntry()
        var state: [String: Any] = ["skipped": false, "interrupted": false, "stopping_generation": false, "job": "",
                                    "job_count": 0, "job_timestamp": "0", "job_no": 0, "sampling_step": 0, "sampling_steps": 0]
        guard let (job, timestamp) = entry else {
            return ["progress": 0, "eta_relative": 0, "state": state, "current_image": NSNull(), "textinfo": NSNull()]
        }
        let steps = job.progress
        state["job"] = "job(\(job.id))"
        state["job_count"] = 1
        state["job_timestamp"] = timestamp
        state["interrupted"] = job.interruptRequested
        state["sampling_step"] = steps.step
        state["sampling_steps"] = steps.steps
        // A1111's formula: 0.01 + (jobs done + this job's fraction) / jobs; eta from the time so far.
        var fraction = 0.01
        if steps.steps > 0 { fraction += Double(steps.step) / Double(steps.steps) }
        let elapsed = Date().timeIntervalSince(job.started ?? job.submitted)
        let eta = elapsed / fraction - elapsed
        let image: Any = skipImage ? NSNull() : (job.latestPreview?.data ?? NSNull())
        return ["progress": min(fraction, 1), "eta_relative": eta, "state": state, "current_image": image, "textinfo": NSNull()]
    }

    // MARK: JSON

    private func json(_ value: Any) -> RouteResult { .json(status: 200, body: Self.encode(value), headers: []) }

    /// FastAPI's answer to a field that fails validation.
    private func validationError(field: String, message: String) -> RouteResult {
        engine.metrics.error("invalid_request")
        let location: [String] = ["body"] + field.split(separator: ".").map(String.init)
        return .json(status: 422, body: Self.encode(["detail": [["loc": location, "msg": message, "type": "value_error"]]]), headers: [])
    }

    /// A1111's answer to an HTTPException (its api_middleware's shape).
    private func httpError(status: Int, detail: String, retryAfter: Int?) -> RouteResult {
        let headers = retryAfter.map { [("Retry-After", "\($0)")] } ?? []
        // `errors` is str() of the exception: Starlette's "<status>: <detail>".
        return .json(status: status, body: Self.encode(["error": "HTTPException", "detail": detail, "body": "", "errors": "\(status): \(detail)"]),
                     headers: headers)
    }

    static func encode(_ value: Any) -> Data {
        (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])) ?? Data("null".utf8)
    }

    /// A field of our API under its A1111 name.
    static func a1111Field(_ ours: String) -> String {
        [
            "guidance_scale": "cfg_scale", "sampler": "sampler_name", "count": "batch_size",
            "format": "override_settings.samples_format", "clip_skip": "override_settings.CLIP_stop_at_last_layers",
            "init_image": "init_images", "strength": "denoising_strength", "loras": "prompt",
            "preview_every": "show_progress_every_n_steps",
        ][ours] ?? ours
    }

    /// A1111's job_timestamp: local time as YYYYMMDDhhmmss.
    private static func timestamp() -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMddHHmmss"
        formatter.locale = Locale(identifier: "en_US_POSIX")
        return formatter.string(from: Date())
    }
}
