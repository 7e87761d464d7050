// One image being denoised: its latents, its own scheduler and generator, its conditioning.
// Jobs are the unit the Denoiser batches: one UNet call serves every job of the same latent size,
// whatever request it belongs to and whatever step it is at.
import Models
import Tensor

/// The state of one image between denoising steps.
public final class DenoisingJob: @unchecked Sendable {
    /// [1, 4, h, w]
    public internal(set) var latents: Tensor
    public internal(set) var scheduler: any Scheduler
    public internal(set) var generator: TorchGenerator
    /// Prompt embedding [1, 77·k, C] (k chunks).
    public let positive: Tensor
    /// Negative-prompt embedding [1, 77·k′, C]; nil when guidance is off (scale ≤ 1).
    public let negative: Tensor?
    public let guidanceScale: Float
    /// Index into `scheduler.timesteps` of the next step.
    public internal(set) var stepIndex: Int
    /// Index at which this job started (image-to-image starts late).
    public let firstStepIndex: Int
    /// The UNet LoRAs of this image's rows.
    public let adapters: [RowAdapters.Adapter]
    /// Whether each step keeps the clean latents its model output implies in `denoised` (for live
    /// previews, and for an interrupted render's image).
    public var tracksDenoised = false
    /// The denoised estimate x₀ [1, 4, h, w] of the last step taken (see LatentPreview); nil before
    /// the first step or without `tracksDenoised`.
    public internal(set) var denoised: Tensor?

    public init(latents: Tensor, scheduler: any Scheduler, generator: TorchGenerator, positive: Tensor,
                negative: Tensor?, guidanceScale: Float, firstStepIndex: Int = 0, adapters: [RowAdapters.Adapter] = []) {
        self.adapters = adapters
        self.latents = latents
        self.scheduler = scheduler
        self.generator = generator
        self.positive = positive
        self.negative = guidanceScale > 1 ? negative : nil
        self.guidanceScale = guidanceScale
        self.stepIndex = firstStepIndex
        self.firstStepIndex = firstStepIndex
    }

    /// True once every timestep has been stepped.
    public var isFinished: Bool { stepIndex >= scheduler.timesteps.count }

    /// Ends denoising now (A1111's interrupt): the job counts as finished after the steps it took.
    public func stopEarly() {
        guard !isFinished else { return }
        stepsWhenStopped = stepIndex - firstStepIndex
        stepIndex = scheduler.timesteps.count
    }
    /// Steps taken before `stopEarly`; nil when the job ran (or runs) to the end.
    public private(set) var stepsWhenStopped: Int?

    /// The latents an image should be decoded from: after `stopEarly`, the last denoised estimate
    /// (what A1111 returns on interrupt: its sampler's last denoised latents), else the latents.
    public var latentsToDecode: Tensor { stepsWhenStopped != nil ? (denoised ?? latents) : latents }
    /// Rows this job adds to a UNet batch: 2 with guidance (unconditional, conditional), else 1.
    public var batchRows: Int { negative == nil ? 1 : 2 }
    /// Model evaluations done and in all.
    public var progress: RenderProgress {
        RenderProgress(step: stepIndex - firstStepIndex, steps: scheduler.timesteps.count - firstStepIndex)
    }
    /// Latent height and width: jobs batch together only when these match.
    public var latentSize: [Int] { Array(latents.shape.dropFirst(2)) }
}
