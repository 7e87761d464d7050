// The text-to-image and image-to-image pipelines of diffusers (StableDiffusionPipeline,
// StableDiffusionImg2ImgPipeline) for SD 1.x, on our networks:
//   prompt → chunks of tokens → embeddings (prompt and negative prompt, A1111's syntax and lengths)
//   seed + i → image i's generator → initial latents (randn · init sigma, or the init image's
//   latents noised to the first timestep)
//   → denoising steps, guided pairs in ONE UNet call → VAE decode → clamp → 8-bit RGB.
// The same seed, weights and sampler give diffusers' image.
import Foundation
import ImageIO
import Models
import Tensor
import Weights

/// A loaded SD 1.x model that renders images.
public struct StableDiffusionPipeline: Sendable {
    public let text: TextConditioner
    public let denoiser: Denoiser
    public let vae: AutoencoderKL
    public let schedulerConfiguration: SchedulerConfiguration
    /// Pixels per latent pixel (8 for SD 1.x).
    public let vaeScaleFactor: Int
    /// The size the model was trained at (512 for SD 1.5): the default width and height.
    public let nativeSize: Int
    /// The modules a LoRA may adapt, with their weight shapes (`LoRAWeights.load` checks files against
    /// it); empty for a pipeline over the trainer's networks.
    public let loraTargets: LoRATargets
    /// TAESD, when one was attached (`attachingTinyAutoencoder`): the fast decoder a request may ask
    /// for (`decoder: .taesd`) and the live previews' decoder.
    public private(set) var tinyAutoencoder: AutoencoderTiny?

    /// Builds the networks from an opened checkpoint, with its tokenizer and scheduler
    /// configuration — SD 1.x's where it carries none (single files; see `CheckpointCompanions`).
    public init(checkpoint: ModelCheckpoint) throws {
        let c = checkpoint.configurations
        let tokenizer = try checkpoint.tokenizer()
        text = TextConditioner(
            tokenizer: tokenizer,
            encoder: try CLIPTextEncoder(configuration: c.textEncoder, parameters: checkpoint.source(.textEncoder)))
        denoiser = Denoiser(unet: try UNet2DCondition(configuration: c.unet, parameters: checkpoint.source(.unet)))
        vae = try AutoencoderKL(configuration: c.vae, parameters: checkpoint.source(.vae))
        schedulerConfiguration = try checkpoint.schedulerConfiguration()
        vaeScaleFactor = c.vae.downsamplingFactor
        nativeSize = c.unet.sampleSize * vaeScaleFactor
        loraTargets = LoRATargets(weightShapes: Dictionary(uniqueKeysWithValues: [(LoRAComponent.unet, ModelComponent.unet), (.textEncoder, .textEncoder)].map {
            let source = checkpoint.source($0.1)
            return ($0.0, Dictionary(uniqueKeysWithValues: source.keys.compactMap { key in source.storedShape(key).map { (key, $0) } }))
        }))
    }

    /// A pipeline over networks built elsewhere — the trainer's, whose weights change between
    /// validation renders (the pipeline reads them live, nothing is copied).
    public init(text: TextConditioner, unet: UNet2DCondition, vae: AutoencoderKL, schedulerConfiguration: SchedulerConfiguration) {
        self.text = text
        denoiser = Denoiser(unet: unet)
        self.vae = vae
        self.schedulerConfiguration = schedulerConfiguration
        vaeScaleFactor = vae.configuration.downsamplingFactor
        nativeSize = unet.configuration.sampleSize * vaeScaleFactor
        loraTargets = LoRATargets(weightShapes: [:])
    }

    /// Opens and loads a diffusers folder or a single checkpoint file.
    public static func load(_ url: URL) throws -> StableDiffusionPipeline {
        try StableDiffusionPipeline(checkpoint: try ModelCheckpoint.open(url))
    }

    // MARK: Rendering

    /// Renders every image of `request`.
    /// - Parameters:
    ///   - progress: called after each step with the steps done so far.
    ///   - isCancelled: polled between steps; returning true stops the render with `.cancelled`.
    public func render(
        _ request: RenderRequest,
        progress: (RenderProgress) -> Void = { _ in },
        isCancelled: () -> Bool = { false }
    ) throws -> [RenderedImage] {
        let jobs = try makeJobs(for: request)
        while !jobs.allSatisfy(\.isFinished) {
            if isCancelled() { throw RenderError.cancelled }
            denoiser.step(jobs)
            progress(jobs[0].progress)
        }
        return jobs.enumerated().map { i, job in
            RenderedImage(image: decode(job.latents, with: request.decoder, tiled: request.vaeTiling), seed: request.seed &+ UInt64(i))
        }
    }

    /// The request's prompt and negative prompt, read in its prompt syntax and chunked.
    public func promptChunks(_ request: RenderRequest) throws -> (positive: PromptChunks, negative: PromptChunks) {
        func chunks(_ prompt: String, field: String) throws -> PromptChunks {
            do { return try text.chunks(of: prompt, syntax: request.promptSyntax) } catch {
                throw RenderError.invalidRequest(field: field, message: "\(error)")
            }
        }
        return (try chunks(request.prompt, field: "prompt"), try chunks(request.negativePrompt, field: "negative_prompt"))
    }

    /// The prompt's and negative prompt's embeddings, in one text-encoder call.
    public func encodePrompts(_ request: RenderRequest) throws -> (positive: PromptEmbedding, negative: PromptEmbedding) {
        guard request.clipSkip >= 1 && request.clipSkip <= text.encoder.layers.count else {
            throw RenderError.invalidRequest(field: "clip_skip", message: "must be 1 to \(text.encoder.layers.count)")
        }
        let (positive, negative) = try promptChunks(request)
        // Text-encoder LoRAs adapt the prompt and the negative prompt alike, as in diffusers: every
        // chunk's encoder row.
        let adapters = request.loras.adapters(for: .textEncoder)
        let encode = { text.encode([positive, negative], clipSkip: request.clipSkip) }
        let rows = positive.chunks.count + negative.chunks.count
        let embeddings = adapters.isEmpty
            ? encode()
            : RowAdapters.$current.withValue(RowAdapters(rows: Array(repeating: adapters, count: rows)), operation: encode)
        return (PromptEmbedding(embedding: embeddings[0], chunks: positive), PromptEmbedding(embedding: embeddings[1], chunks: negative))
    }

    /// The denoising jobs of a request (one per image), ready for `Denoiser.step`. `embeddings`
    /// lets a caller with a cache skip the text encoder.
    public func makeJobs(for request: RenderRequest, embeddings: (positive: Tensor, negative: Tensor)? = nil) throws -> [DenoisingJob] {
        let (width, height) = try outputSize(request)
        guard request.steps >= 1 else { throw RenderError.invalidRequest(field: "steps", message: "must be at least 1") }
        guard request.count >= 1 else { throw RenderError.invalidRequest(field: "count", message: "must be at least 1") }
        guard request.guidanceScale.isFinite else {
            throw RenderError.invalidRequest(field: "guidance_scale", message: "must be a finite number")
        }
        if request.decoder == .taesd && tinyAutoencoder?.decoder == nil {
            throw RenderError.invalidRequest(field: "decoder", message: "no TAESD decoder is loaded (dbrenderd --taesd PATH)")
        }
        let (positive, negative) = try embeddings ?? {
            let e = try encodePrompts(request)
            return (e.positive.embedding, e.negative.embedding)
        }()
        let initLatents = request.initImage.map { image -> (mean: Tensor, std: Tensor) in
            let pixels = LatentImages.tensor(from: image)
            let (mean, logVariance) = request.vaeTiling ? vae.encodeTiled(pixels) : vae.encode(pixels)
            let std = Tensor(uninitialized: logVariance.shape)
            for i in 0..<std.count { std.pointer[i] = Foundation.exp(0.5 * logVariance.pointer[i]) }
            return (mean, std)
        }
        let latentShape = [1, vae.configuration.latentChannels, height / vaeScaleFactor, width / vaeScaleFactor]
        return try (0..<request.count).map { i in
            let scheduler: any Scheduler
            do {
                scheduler = try SchedulerFactory.make(name: request.sampler, configuration: schedulerConfiguration,
                                                      steps: request.steps, eta: request.eta)
            } catch {
                throw RenderError.invalidRequest(field: "sampler", message: "\(error)")
            }
            var generator = TorchGenerator(seed: request.seed &+ UInt64(i))
            guard let initLatents else {
                let latents = generator.randn(latentShape)
                Scale.forwardInPlace(latents, by: scheduler.initNoiseSigma)
                return DenoisingJob(latents: latents, scheduler: scheduler, generator: generator,
                                    positive: positive, negative: negative, guidanceScale: request.guidanceScale,
                                    adapters: request.loras.adapters(for: .unet))
            }
            // diffusers' img2img order of draws from image i's generator: the VAE posterior sample,
            // then the noise added at the first timestep.
            let start: Int
            do { start = try scheduler.firstStepIndex(strength: request.strength) } catch {
                throw RenderError.invalidRequest(field: "strength", message: "\(error)")
            }
            guard start < scheduler.timesteps.count else {
                throw RenderError.invalidRequest(field: "strength", message: "\(request.strength) × \(request.steps) steps leaves no step to run")
            }
            let sample = generator.randn(initLatents.mean.shape)
            let latents = Tensor(uninitialized: initLatents.mean.shape)
            let scaling = vae.configuration.scalingFactor
            for j in 0..<latents.count {
                latents.pointer[j] = scaling * (initLatents.mean.pointer[j] + initLatents.std.pointer[j] * sample.pointer[j])
            }
            let noise = generator.randn(latents.shape)
            return DenoisingJob(latents: scheduler.addNoise(original: latents, noise: noise, stepIndex: start),
                                scheduler: scheduler, generator: generator, positive: positive, negative: negative,
                                guidanceScale: request.guidanceScale, firstStepIndex: start,
                                adapters: request.loras.adapters(for: .unet))
        }
    }

    /// Latents [1, 4, h, w] (as the scheduler leaves them) → RGB image, through the model's VAE or
    /// the attached TAESD (which must be there: `makeJobs` checks a request's choice). `tiled`: the
    /// VAE decodes by tiles when the latents exceed one (diffusers' tiled_decode); TAESD never tiles.
    public func decode(_ latents: Tensor, with decoder: ImageDecoder = .vae, tiled: Bool = false) -> RGBImage {
        switch decoder {
        case .vae:
            let scaled = Self.divided(latents, by: vae.configuration.scalingFactor)
            return LatentImages.rgbImage(from: tiled ? vae.decodeTiled(scaled) : vae.decode(scaled))
        case .taesd:
            guard let taesd = tinyAutoencoder, let tinyDecoder = taesd.decoder else {
                preconditionFailure("a TAESD decode without a TAESD decoder attached")
            }
            return LatentImages.rgbImage(from: tinyDecoder(Self.divided(latents, by: taesd.configuration.scalingFactor)))
        }
    }

    private static func divided(_ latents: Tensor, by scale: Float) -> Tensor {
        let scaled = Tensor(uninitialized: latents.shape)
        for i in 0..<latents.count { scaled.pointer[i] = latents.pointer[i] / scale }
        return scaled
    }

    /// This pipeline with TAESD attached.
    /// - Throws: `RenderError.invalidRequest(field: "taesd", …)` when its latents are not this model's
    ///   (channels or pixels per latent pixel differ) or it has no decoder.
    public func attachingTinyAutoencoder(_ taesd: AutoencoderTiny) throws -> StableDiffusionPipeline {
        let c = taesd.configuration
        guard taesd.decoder != nil else {
            throw RenderError.invalidRequest(field: "taesd", message: "the weights hold no TAESD decoder (an encoder-only file?)")
        }
        guard c.latentChannels == vae.configuration.latentChannels, c.downsamplingFactor == vaeScaleFactor else {
            throw RenderError.invalidRequest(
                field: "taesd", message: "it decodes \(c.latentChannels)-channel latents at \(c.downsamplingFactor) px per latent pixel; "
                    + "this model's VAE has \(vae.configuration.latentChannels) channels at \(vaeScaleFactor)")
        }
        var pipeline = self
        pipeline.tinyAutoencoder = taesd
        return pipeline
    }

    /// Width and height of the request's images: the init image's size, the request's, or the model's.
    func outputSize(_ request: RenderRequest) throws -> (width: Int, height: Int) {
        let width = request.initImage?.width ?? request.width ?? nativeSize
        let height = request.initImage?.height ?? request.height ?? nativeSize
        for (field, value) in [("width", width), ("height", height)] {
            guard value >= vaeScaleFactor, value % vaeScaleFactor == 0 else {
                let source = request.initImage == nil ? "" : " (the init image's size)"
                throw RenderError.invalidRequest(field: request.initImage == nil ? field : "init_image",
                                                 message: "\(field) \(value)\(source) must be a positive multiple of \(vaeScaleFactor)")
            }
        }
        return (width, height)
    }
}
