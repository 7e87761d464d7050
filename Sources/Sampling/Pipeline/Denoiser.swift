// One denoising step for many images at once: every job contributes its (unconditional and)
// conditional rows to ONE batched UNet call, each row at its job's own timestep; then each job
// applies guidance, uncond + g·(cond − uncond) as diffusers computes it, and its own scheduler step.
import Models
import Tensor

/// Runs batched UNet steps over denoising jobs.
public struct Denoiser: Sendable {
    public let unet: UNet2DCondition

    public init(unet: UNet2DCondition) { self.unet = unet }

    /// Advances every unfinished job in `jobs` by one scheduler step with a single UNet call.
    /// All jobs must have the same latent size.
    public func step(_ jobs: [DenoisingJob]) {
        let active = jobs.filter { !$0.isFinished }
        guard let first = active.first else { return }
        precondition(active.allSatisfy { $0.latentSize == first.latentSize }, "jobs of different latent sizes cannot share a UNet call")
        let rows = active.reduce(0) { $0 + $1.batchRows }
        let latentShape = first.latents.shape, latentCount = first.latents.count
        let contextShape = first.positive.shape, contextCount = first.positive.count
        let input = Tensor(uninitialized: [rows] + latentShape.dropFirst())  // [rows, 4, h, w]
        let context = Tensor(uninitialized: [rows] + contextShape.dropFirst())  // [rows, 77, C]
        var timesteps: [Float] = []
        var row = 0
        for job in active {
            let scaled = job.scheduler.scaleModelInput(job.latents, stepIndex: job.stepIndex)
            let t = job.scheduler.timesteps[job.stepIndex]
            // diffusers' order: cat([negative, positive]) with the latents repeated.
            for embedding in [job.negative, job.positive].compactMap({ $0 }) {
                (input.pointer + row * latentCount).update(from: scaled.pointer, count: latentCount)
                (context.pointer + row * contextCount).update(from: embedding.pointer, count: contextCount)
                timesteps.append(t)
                row += 1
            }
        }
        // Each job's LoRAs apply to its own rows only.
        let adapters = RowAdapters(rows: active.flatMap { job in Array(repeating: job.adapters, count: job.batchRows) })
        let output = adapters.isEmpty
            ? unet(input, timesteps: timesteps, context: context)  // [rows, 4, h, w]
            : RowAdapters.$current.withValue(adapters) { unet(input, timesteps: timesteps, context: context) }
        row = 0
        for job in active {
            let prediction = Tensor(uninitialized: latentShape)
            if job.negative != nil {
                let uncond = output.pointer + row * latentCount, cond = output.pointer + (row + 1) * latentCount
                let g = job.guidanceScale
                for i in 0..<latentCount { prediction.pointer[i] = uncond[i] + g * (cond[i] - uncond[i]) }
            } else {
                prediction.pointer.update(from: output.pointer + row * latentCount, count: latentCount)
            }
            row += job.batchRows
            job.latents = job.scheduler.step(modelOutput: prediction, stepIndex: job.stepIndex, sample: job.latents, generator: &job.generator)
            job.stepIndex += 1
        }
    }
}
