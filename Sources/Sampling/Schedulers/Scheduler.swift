// The interface between the denoising loop and a noise scheduler, modelled on diffusers'
// `SchedulerMixin` as `StableDiffusionPipeline` / `StableDiffusionImg2ImgPipeline` drive it:
//
//     var scheduler = try SchedulerFactory.make(name: "euler_a", configuration: config, steps: 30)
//     var generator = TorchGenerator(seed: seed)
//     var latents = generator.randn([1, 4, h, w]) · scheduler.initNoiseSigma
//     for i in scheduler.timesteps.indices {                       // img2img: from firstStepIndex(strength:)
//         let input = scheduler.scaleModelInput(latents, stepIndex: i)
//         let output = unet(input, scheduler.timesteps[i]) (with classifier-free guidance)
//         latents = scheduler.step(modelOutput: output, stepIndex: i, sample: latents, generator: &generator)
//     }
//
// One scheduler value serves one image: it holds that image's history (multistep solvers, Heun's
// half-finished step), and `step` draws that image's noise from the generator it is handed, in
// diffusers' order, so the same seed reproduces diffusers' image. The pipeline may batch UNet calls
// across images and requests; it then steps each image's own scheduler with the image's own generator.
import Tensor

/// A diffusion sampler: a list of timesteps and an update rule for one image's latents `[1, 4, h, w]`.
///
/// Call `step` exactly once per index of `timesteps`, in increasing order, starting at 0 (text-to-image)
/// or at `firstStepIndex(strength:)` (image-to-image). Some schedulers evaluate the model more than
/// once per denoising step (Heun: twice, except the last) or repeat a timestep (PNDM's PLMS warm-up);
/// `timesteps` lists every evaluation, so a loop over it needs no special cases.
public protocol Scheduler: Sendable {
    /// The diffusers class this scheduler reproduces (e.g. "EulerAncestralDiscreteScheduler").
    var className: String { get }

    /// The number of denoising steps this scheduler was built for (the user's `steps`).
    var inferenceSteps: Int { get }

    /// Model evaluations per denoising step (diffusers' `order`: 2 for Heun, 1 for the others);
    /// image-to-image skips `order` entries of `timesteps` per skipped denoising step.
    var order: Int { get }

    /// The timestep passed to the model at each call of `step`, in loop order.
    var timesteps: [Float] { get }

    /// The noise levels σ of the k-diffusion style schedulers, one more than `timesteps` (the last is
    /// the level after the final step, usually 0). Empty for DDIM and PNDM, which work on ᾱ instead.
    var sigmas: [Float] { get }

    /// Standard deviation of the initial latents: text-to-image starts from `randn(shape) · initNoiseSigma`.
    var initNoiseSigma: Float { get }

    /// The latents as the model must see them at `timesteps[stepIndex]` (Euler-family schedulers divide
    /// by √(σ² + 1); the others return `sample` itself).
    func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor

    /// Advances `sample` past `timesteps[stepIndex]` given the model's (guided) output there, and
    /// returns the new latents. Ancestral and stochastic schedulers draw their noise from `generator`
    /// (one `randn` of the sample's shape per step, as diffusers' `randn_tensor`); the others leave it
    /// untouched.
    mutating func step(modelOutput: Tensor, stepIndex: Int, sample: Tensor, generator: inout TorchGenerator) -> Tensor

    /// Image-to-image: `original` latents noised to the level at which the loop starts when it starts
    /// at `stepIndex` (diffusers' `add_noise` at `timesteps[stepIndex]` after `set_begin_index`).
    func addNoise(original: Tensor, noise: Tensor, stepIndex: Int) -> Tensor

    /// What the model predicts (the configuration's `prediction_type`).
    var predictionType: PredictionType { get }

    /// ᾱ (the signal fraction, `alphas_cumprod`) at `timesteps[stepIndex]`. The default derives it
    /// from σ, ᾱ = 1 / (1 + σ²); DDIM, PNDM and LCM, which have no σ's, read their own ᾱ table.
    func alphaBar(stepIndex: Int) -> Float
}

extension Scheduler {
    public func alphaBar(stepIndex: Int) -> Float {
        let sigma = sigmas[stepIndex]
        return 1 / (1 + sigma * sigma)
    }
}

extension Scheduler {
    /// Image-to-image: the index of `timesteps` at which denoising starts for `strength` in 0…1
    /// (1 = from pure noise, all steps; 0.6 = the last 60 % of the steps). diffusers'
    /// `StableDiffusionImg2ImgPipeline.get_timesteps`: ⌊steps · strength⌋ steps run, and each skipped
    /// step skips `order` timesteps. Equal to `timesteps.count` (nothing to run) when the strength is
    /// too small for even one step; diffusers rejects that case, and so should the caller.
    public func firstStepIndex(strength: Double) throws(SchedulerError) -> Int {
        guard strength >= 0 && strength <= 1 else { throw .invalidStrength(strength) }
        let stepsToRun = min(Int(Double(inferenceSteps) * strength), inferenceSteps)
        let skipped = max(inferenceSteps - stepsToRun, 0)
        return min(skipped * order, timesteps.count)
    }
}
