// The engine: one thread that owns the loaded model and does all numeric work. It admits queued
// requests between steps, so a new request joins the running batch instead of waiting for the
// others to finish; each iteration advances every active request of one latent size by one step in
// ONE UNet call (each image with its own timestep, embeddings and scheduler state). Sizes take
// turns, and admission is first come first served, so no request starves.
import Foundation
import ImageIO
import Logging
import Models
import RenderAPI
import Sampling
import Tensor

/// Runs render jobs on a loaded pipeline.
public final class RenderEngine: @unchecked Sendable {
    /// A job being denoised: its images' denoising states.
    private struct ActiveRender {
        let job: RenderJob
        let images: [DenoisingJob]
        var rows: Int { images.reduce(0) { $0 + $1.batchRows } }
        var latentSize: [Int] { images[0].latentSize }
    }

    public let configuration: ServerConfiguration
    public let metrics: Metrics
    public let cache: EmbeddingCache
    /// The LoRA folder (`--lora-dir`); nil without one.
    public let loras: LoRALibrary?
    private let logger: Logger
    private let condition = NSCondition()
    // Guarded by `condition`:
    private var pipeline: StableDiffusionPipeline
    private var modelDescription: ModelDescription
    /// The current model's memory budget, worked out when the model arrives (it reads /proc and the
    /// cgroup files: not once per step).
    private var budget: MemoryBudget
    private var pendingPipeline: (StableDiffusionPipeline, ModelDescription)?
    private var queue: [RenderJob] = []
    private var active: [ActiveRender] = []
    private var jobs: [String: RenderJob] = [:]
    private var finishedOrder: [String] = []
    private var accepting = true
    private var stopped = false
    private var lastSizeServed: [Int]?
    private var thread: Thread?

    /// What `GET /v1/model` reports.
    public struct ModelDescription: Sendable {
        public var path: String
        public var layout: String
        public var nativeSize: Int
        public var textEncoderLayers: Int
        public var loadSeconds: Double
        /// SHA-256 of the weights (see `ModelFingerprint`); nil when it could not be computed.
        public var sha256: String?
        /// Where the scheduler configuration and the tokenizer came from: "model" (its own files)
        /// or "sd1-default" (SD 1.x's, standing in for files a single-file checkpoint lacks).
        public var schedulerConfigSource: String
        public var tokenizerSource: String
        /// Bytes of the weight files (resident once read): what the memory budget sets aside.
        public var weightBytes = 0
        public init(path: String, layout: String, nativeSize: Int, textEncoderLayers: Int, loadSeconds: Double,
                    sha256: String? = nil, schedulerConfigSource: String = "model", tokenizerSource: String = "model") {
            self.path = path; self.layout = layout; self.nativeSize = nativeSize
            self.textEncoderLayers = textEncoderLayers; self.loadSeconds = loadSeconds; self.sha256 = sha256
            self.schedulerConfigSource = schedulerConfigSource; self.tokenizerSource = tokenizerSource
        }
        /// A1111's "Model hash": the first 10 hex digits of the SHA-256.
        public var shortHash: String? { sha256.map { String($0.prefix(10)) } }
    }

    public init(pipeline: StableDiffusionPipeline, model: ModelDescription, configuration: ServerConfiguration,
                loras: LoRALibrary? = nil, logger: Logger) {
        self.loras = loras
        self.pipeline = pipeline
        self.modelDescription = model
        self.budget = Self.budget(configuration, model)
        self.configuration = configuration
        self.metrics = Metrics()
        self.cache = EmbeddingCache(capacityBytes: configuration.embeddingCacheBytes)
        self.logger = logger
    }

    /// Starts the engine thread.
    public func start() {
        let thread = Thread { [weak self] in self?.run() }
        thread.name = "dbrender-engine"
        thread.stackSize = 16 << 20
        self.thread = thread
        thread.start()
    }

    // MARK: Requests

    /// The validator for the current model.
    public var validator: RequestValidator {
        condition.withLock {
            let budget = budget, vae = pipeline.vae.configuration
            return RequestValidator(configuration: configuration, nativeSize: modelDescription.nativeSize,
                                    textEncoderLayers: modelDescription.textEncoderLayers, loraLibrary: loras,
                                    loraTargets: pipeline.loraTargets, hasTinyDecoder: pipeline.tinyAutoencoder?.decoder != nil,
                                    decodeNeedsTiles: { width, height in budget.needsTiledDecode(vae, height: height, width: width) })
        }
    }

    /// The memory the current model's renders may take.
    public var memoryBudget: MemoryBudget { condition.withLock { budget } }

    /// The configured bytes, or half of what the process may use (cgroup included) less the weights.
    private static func budget(_ configuration: ServerConfiguration, _ model: ModelDescription) -> MemoryBudget {
        configuration.memoryBudgetBytes.map(MemoryBudget.init(bytes:)) ?? .automatic(weightBytes: model.weightBytes)
    }

    public var model: ModelDescription { condition.withLock { modelDescription } }

    /// Whether the current model has TAESD attached (requests may choose it; previews use it).
    public var hasTinyDecoder: Bool { condition.withLock { pipeline.tinyAutoencoder?.decoder != nil } }

    /// Queues a validated render; `listener` sees every event from `queued` on.
    public func submit(_ spec: RenderSpec, listener: ((StreamEvent) -> Void)? = nil) throws(APIError) -> RenderJob {
        let job = RenderJob(id: Self.newID(instance: configuration.instance), spec: spec)
        if let listener { job.addListener(listener) }
        condition.lock()
        guard accepting else {
            condition.unlock()
            throw APIError(status: 503, code: "shutting_down", message: "the daemon is shutting down", retryAfter: 5)
        }
        guard queue.count < configuration.limits.maximumQueuedJobs else {
            let retry = retryAfterSeconds()
            condition.unlock()
            throw APIError(status: 503, code: "queue_full",
                           message: "\(configuration.limits.maximumQueuedJobs) renders are queued (the limit); retry later", retryAfter: retry)
        }
        queue.append(job)
        jobs[job.id] = job
        // Announced while the lock is held: the engine thread cannot take the job (and announce
        // `started`) before `queued` is out. Listeners only buffer or hand off, never call back in.
        job.markQueued(position: queue.count - 1)
        condition.signal()
        condition.unlock()
        return job
    }

    /// The job with `id`, running, queued or recently finished.
    public func job(_ id: String) -> RenderJob? { condition.withLock { jobs[id] } }

    /// Jobs ahead of `job` in the queue (nil when it is not queued).
    public func queuePosition(of job: RenderJob) -> Int? { condition.withLock { queue.firstIndex { $0 === job } } }

    /// Cancels a queued or running job; it stops within one step.
    public func cancel(_ job: RenderJob) {
        job.requestCancellation()
        condition.withLock { condition.signal() }
    }

    /// A1111's interrupt: a running job stops denoising within one step and finishes with images
    /// decoded from its last denoised estimate (a queued job starts and stops at once).
    public func interrupt(_ job: RenderJob) {
        job.requestInterrupt()
        condition.withLock { condition.signal() }
    }

    public var queueDepth: Int { condition.withLock { queue.count } }
    public var activeCount: Int { condition.withLock { active.count } }
    /// True while any job is queued or running.
    public var isBusy: Bool { condition.withLock { !queue.isEmpty || !active.isEmpty } }

    /// The Prometheus text of /metrics.
    public func metricsText() -> String {
        let (depth, running) = condition.withLock { (queue.count, active.count) }
        return metrics.render(queueDepth: depth, activeJobs: running, cache: cache.statistics)
    }

    /// Stops accepting new jobs (SIGTERM); queued and running ones go on.
    public func stopAccepting() { condition.withLock { accepting = false } }

    /// Cancels everything still queued or running (the grace period ran out).
    public func cancelAll() {
        condition.withLock {
            for job in queue { job.requestCancellation() }
            for render in active { render.job.requestCancellation() }
            condition.signal()
        }
    }

    /// Ends the engine thread after the current step.
    public func stop() { condition.withLock { stopped = true; condition.signal() } }

    /// Swaps in a newly loaded model once the running renders have finished; queued renders wait
    /// for it and then run on the new model.
    public func replacePipeline(_ newPipeline: StableDiffusionPipeline, model: ModelDescription) {
        condition.withLock {
            pendingPipeline = (newPipeline, model)
            condition.signal()
        }
    }

    /// Seconds a client should wait before retrying a full queue: the running work's rough length.
    private func retryAfterSeconds() -> Int { max(1, min(60, queue.count)) }

    /// "r_" and 72 random bits in base64url (no dots), after "<instance>." in a fleet.
    static func newID(instance: String?) -> String {
        var bytes = [UInt8](repeating: 0, count: 9)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        let random = "r_" + Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        return instance.map { "\($0).\(random)" } ?? random
    }

    // MARK: The loop

    private func run() {
        warmEmptyPrompt(pipeline: condition.withLock { pipeline })
        while true {
            guard let (group, pipeline) = nextWork() else { return }
            let start = DispatchTime.now().uptimeNanoseconds
            let stepping = group.flatMap(\.images).filter { !$0.isFinished }  // interrupted ones are finished
            if !stepping.isEmpty {
                // Rows per UNet call within the memory budget: a large request runs as several calls.
                let latent = stepping[0].latentSize
                let rows = condition.withLock { budget }.unetRows(pipeline.denoiser.unet.configuration,
                                                                  latentHeight: latent[0], latentWidth: latent[1])
                pipeline.denoiser.step(stepping, maximumRows: rows)
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                metrics.unetCall(rows: stepping.reduce(0) { $0 + $1.batchRows }, imageSteps: stepping.count, seconds: seconds)
            }
            for render in group {
                render.job.markProgress(render.images[0].progress, preview: newPreview(of: render, pipeline: pipeline))
                emitPartialImage(of: render, pipeline: pipeline)
                if render.images.allSatisfy(\.isFinished) { complete(render, pipeline: pipeline) }
            }
        }
    }

    /// Blocks until there is a step to run; returns the renders to step together and the pipeline,
    /// after admitting queued jobs and retiring cancelled ones. Nil when the engine stops.
    private func nextWork() -> ([ActiveRender], StableDiffusionPipeline)? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if stopped { return nil }
            retireCancelled()
            if active.isEmpty, let (next, description) = pendingPipeline {
                pipeline = next
                modelDescription = description
                budget = Self.budget(configuration, description)
                pendingPipeline = nil
                cache.removeAll()
                warmEmptyPrompt(pipeline: next)
                logger.info("model swapped in", metadata: ["model": "\(description.path)"])
            }
            admit()
            if let group = chooseGroup() { return (group, pipeline) }
            condition.wait()
        }
    }

    /// Cancelled jobs leave the queue and the batch (between steps: within one step of the request);
    /// interrupted running ones stop denoising and go on to decoding what they have.
    private func retireCancelled() {
        for render in active where render.job.interruptRequested { render.images.forEach { $0.stopEarly() } }
        for job in queue where job.cancelRequested { finishLocked(job, .cancelled, ErrorBody.Detail(code: "cancelled", message: "the render was cancelled", field: nil)) }
        queue.removeAll { $0.isFinished }
        for render in active where render.job.cancelRequested {
            finishLocked(render.job, .cancelled, ErrorBody.Detail(code: "cancelled", message: "the render was cancelled", field: nil))
        }
        active.removeAll { $0.job.isFinished }
    }

    /// Moves queued jobs into the batch in arrival order while the batch has room (a job larger than
    /// the room runs alone rather than never). Not while a new model waits to be swapped in.
    private func admit() {
        guard pendingPipeline == nil else { return }
        while let job = queue.first {
            let rows = job.spec.request.count * (job.spec.request.guidanceScale > 1 ? 2 : 1)
            let used = active.reduce(0) { $0 + $1.rows }
            guard active.isEmpty || used + rows <= configuration.maximumBatchRows else { return }
            queue.removeFirst()
            do {
                let images = try pipeline.makeJobs(for: job.spec.request, embeddings: try embeddings(for: job.spec.request, loraEntries: job.spec.loraEntries))
                // Each image keeps its denoised estimate (a pass over its latents per step): previews
                // show the first image's, and an interrupted render decodes them.
                for image in images { image.tracksDenoised = true }
                active.append(ActiveRender(job: job, images: images))
                job.markStarted()
            } catch let error as RenderError {
                let detail: ErrorBody.Detail
                if case let .invalidRequest(field, message) = error {
                    detail = ErrorBody.Detail(code: "invalid_request", message: message, field: field)
                } else {
                    detail = ErrorBody.Detail(code: "render_failed", message: "\(error)", field: nil)
                }
                finishLocked(job, .failed, detail)
            } catch {
                finishLocked(job, .failed, ErrorBody.Detail(code: "render_failed", message: "\(error)", field: nil))
            }
        }
    }

    /// The renders to step next: all active renders of one latent size, sizes taking turns.
    private func chooseGroup() -> [ActiveRender]? {
        guard !active.isEmpty else { return nil }
        var sizes: [[Int]] = []
        for render in active where !sizes.contains(render.latentSize) { sizes.append(render.latentSize) }
        let next: [Int]
        if let last = lastSizeServed, let i = sizes.firstIndex(of: last) { next = sizes[(i + 1) % sizes.count] } else { next = sizes[0] }
        lastSizeServed = next
        return active.filter { $0.latentSize == next }
    }

    /// Puts the empty prompt's embedding (the negative prompt of every guided request that gives
    /// none) in the cache, pinned, before the first request needs it.
    private func warmEmptyPrompt(pipeline: StableDiffusionPipeline) {
        let chunks = try! pipeline.text.chunks(of: "")  // an empty prompt has no weight to misread
        cache.insert(EmbeddingCache.Key(chunks: chunks, clipSkip: 1), pipeline.text.encode(chunks, clipSkip: 1), pinned: true)
    }

    /// Prompt and negative-prompt embeddings through the cache; misses share one text-encoder call,
    /// with the request's text-encoder LoRAs (which are part of the key).
    private func embeddings(for request: RenderRequest, loraEntries: [LoRALibrary.Entry]) throws -> (positive: Tensor, negative: Tensor) {
        let text = pipeline.text
        let chunked = try pipeline.promptChunks(request)
        let prompts = [chunked.positive, chunked.negative]
        let adapting = zip(request.loras, loraEntries).filter { !($0.0.weights.updates[.textEncoder]?.isEmpty ?? true) }
        let identities = adapting.map { use, entry in
            EmbeddingCache.LoRAIdentity(path: entry.url.path, sizeBytes: entry.sizeBytes, modified: entry.modified, weight: use.weight)
        }
        let keys = prompts.map { EmbeddingCache.Key(chunks: $0, clipSkip: request.clipSkip, loras: identities) }
        var found = keys.map { cache.lookup($0) }
        let missing = found.indices.filter { found[$0] == nil }
        if !missing.isEmpty {
            let adapters = adapting.compactMap { use, _ in use.weights.updates[.textEncoder].map { RowAdapters.Adapter(updates: $0, weight: use.weight) } }
            let encode = { text.encode(missing.map { prompts[$0] }, clipSkip: request.clipSkip) }
            // One adapter list per encoder row: every chunk of every missing prompt.
            let rows = missing.reduce(0) { $0 + prompts[$1].chunks.count }
            let encoded = adapters.isEmpty ? encode()
                : RowAdapters.$current.withValue(RowAdapters(rows: Array(repeating: adapters, count: rows)), operation: encode)
            for (slot, i) in missing.enumerated() {
                found[i] = encoded[slot]
                cache.insert(keys[i], encoded[slot], pinned: request.negativePrompt.isEmpty && i == 1 && identities.isEmpty)
            }
        }
        return (found[0]!, found[1]!)
    }

    /// OpenAI's partial images: at step ⌊steps · (i + 1) / (n + 1)⌋ for i < n, the first image's denoised
    /// estimate through the request's decoder, in the request's format (at most three per render).
    private func emitPartialImage(of render: ActiveRender, pipeline: StableDiffusionPipeline) {
        let count = render.job.spec.partialImages, first = render.images[0], progress = first.progress
        guard count > 0, progress.step < progress.steps, let denoised = first.denoised else { return }
        let targets = (0..<count).map { progress.steps * ($0 + 1) / (count + 1) }
        guard let index = targets.firstIndex(of: progress.step), progress.step > 0,
              let data = try? ImageFile.encode(pipeline.decode(denoised, with: render.job.spec.request.decoder, tiled: render.job.spec.request.vaeTiling), format: render.job.spec.format, quality: render.job.spec.quality)
        else { return }
        var event = StreamEvent(event: "partial_image", id: render.job.id)
        event.index = index
        event.image = RenderedImageBody(seed: render.job.spec.parameters.seed, format: render.job.spec.format.rawValue, data: data.base64EncodedString())
        render.job.emit(event)
    }

    /// The first image's preview, as a PNG, at every `preview_every`-th step but the last: its denoised
    /// estimate through TAESD at full size when the daemon has one (A1111's "TAESD" live preview),
    /// else A1111's "Approx cheap" projection at latent size.
    private func newPreview(of render: ActiveRender, pipeline: StableDiffusionPipeline) -> RenderedImageBody? {
        let first = render.images[0], every = render.job.spec.previewEvery
        let progress = first.progress
        guard every > 0, progress.step % every == 0, progress.step < progress.steps, let denoised = first.denoised else { return nil }
        let image = pipeline.tinyAutoencoder?.decoder != nil
            ? pipeline.decode(denoised, with: .taesd) : LatentPreview.cheapApproximation(denoised)
        guard let png = try? ImageFile.encode(image, format: .png) else { return nil }
        return RenderedImageBody(seed: render.job.spec.parameters.seed, format: "png", data: png.base64EncodedString())
    }

    /// A1111's "Lora hashes" field: `name: hash` of each LoRA file, ", "-separated (":" and "," in a
    /// name are written as "_", as A1111 does); no field without LoRAs.
    private func loraHashes(_ spec: RenderSpec) -> [Infotext.Field] {
        guard let library = loras, !spec.loraEntries.isEmpty else { return [] }
        let pairs = spec.loraEntries.compactMap { entry in
            library.shortHash(of: entry).map { "\(entry.name.replacingOccurrences(of: ":", with: "_").replacingOccurrences(of: ",", with: "_")): \($0)" }
        }
        return pairs.isEmpty ? [] : [Infotext.Field("Lora hashes", pairs.joined(separator: ", "))]
    }

    /// The A1111 infotext of image `seed` of a render: the standard fields, then — in A1111's order —
    /// "Denoising strength" (image-to-image), "Clip skip" (when not 1) and "Lora hashes".
    func infotext(_ spec: RenderSpec, seed: UInt64) -> String {
        var extra: [Infotext.Field] = []
        if let strength = spec.parameters.strength { extra.append(.init("Denoising strength", String(strength))) }
        if spec.parameters.clipSkip != 1 { extra.append(.init("Clip skip", String(spec.parameters.clipSkip))) }
        return GenerationParameters(
            prompt: spec.parameters.prompt, negativePrompt: spec.parameters.negativePrompt, steps: spec.parameters.steps,
            sampler: spec.parameters.sampler, cfgScale: spec.parameters.guidanceScale, seed: seed,
            width: spec.parameters.width, height: spec.parameters.height, modelHash: model.shortHash,
            modelName: modelName, extra: extra + loraHashes(spec)).infotext
    }

    /// The model's name as A1111 shows it: the file or folder name.
    public var modelName: String { URL(fileURLWithPath: model.path).lastPathComponent }

    /// Decodes and encodes a finished render's images, then finishes the job.
    private func complete(_ render: ActiveRender, pipeline: StableDiffusionPipeline) {
        let spec = render.job.spec
        for (i, image) in render.images.enumerated() {
            if render.job.cancelRequested { break }
            let seed = spec.parameters.seed &+ UInt64(i)
            let rgb = pipeline.decode(image.latentsToDecode, with: spec.request.decoder, tiled: spec.request.vaeTiling)
            let infotext = self.infotext(spec, seed: seed)
            do {
                let data = try ImageFile.encode(rgb, format: spec.format, quality: spec.quality, parameters: infotext)
                render.job.addImage(RenderedImageBody(seed: seed, format: spec.format.rawValue, data: data.base64EncodedString()), index: i)
                metrics.imageRendered()
            } catch {
                condition.withLock {
                    finishLocked(render.job, .failed, ErrorBody.Detail(code: "encode_failed", message: "\(error)", field: nil))
                    active.removeAll { $0.job === render.job }
                }
                return
            }
        }
        condition.withLock {
            if render.job.cancelRequested {
                finishLocked(render.job, .cancelled, ErrorBody.Detail(code: "cancelled", message: "the render was cancelled", field: nil))
            } else {
                finishLocked(render.job, .done, nil)
            }
            active.removeAll { $0.job === render.job }
        }
    }

    /// Records a job's end and forgets the oldest finished jobs past the retention bound. Call with
    /// the lock held.
    private func finishLocked(_ job: RenderJob, _ status: RenderJob.Status, _ error: ErrorBody.Detail?) {
        guard !job.isFinished else { return }
        job.finish(status, error: error)
        metrics.renderFinished(status.rawValue, submitted: job.submitted, started: job.started)
        if let error, status == .failed { metrics.error(error.code) }
        finishedOrder.append(job.id)
        while finishedOrder.count > configuration.retainedFinishedJobs {
            jobs[finishedOrder.removeFirst()] = nil
        }
    }
}
