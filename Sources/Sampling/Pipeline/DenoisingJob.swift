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
    /// Live previews: every this many steps the denoised estimate is kept in `preview`; 0: never.
    public var previewInterval = 0
    /// The latest preview's clean latents [1, 4, h, w] (see LatentPreview) and the step it was made at.
    public internal(set) var preview: (latents: Tensor, step: Int)?

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
    /// Rows this job adds to a UNet batch: 2 with guidance (unconditional, conditional), else 1.
    public var batchRows: Int { negative == nil ? 1 : 2 }
    /// Model evaluations done and in all.
    public var progress: RenderProgress {
        RenderProgress(step: stepIndex - firstStepIndex, steps: scheduler.timesteps.count - firstStepIndex)
    }
    /// Latent height and width: jobs batch together only when these match.
    public var latentSize: [Int] { Array(latents.shape.dropFirst(2)) }
}
