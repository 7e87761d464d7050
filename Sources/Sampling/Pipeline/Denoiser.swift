// One denoising step for many images at once: every job contributes its (unconditional and)
// conditional rows to ONE batched UNet call (or a few, when a memory budget bounds the rows per call), each row at its job's own timestep; then each job
// applies guidance, uncond + g·(cond − uncond) as diffusers computes it, and its own scheduler step.
// Rows whose texts differ in length (a long prompt beside a one-chunk negative prompt, or requests
// with prompts of different lengths) still share the call: the UNet takes a context length per row.
import Models
import Tensor

/// Runs batched UNet steps over denoising jobs.
public struct Denoiser: Sendable {
    public let unet: UNet2DCondition

    public init(unet: UNet2DCondition) { self.unet = unet }

    /// Advances every unfinished job in `jobs` by one scheduler step with a single UNet call — or,
    /// when their rows exceed `maximumRows`, with one call per run of consecutive jobs that fits (a
    /// job's own rows always share a call). All jobs must have the same latent size. A row's result
    /// does not depend on the call it shares, so the split changes memory, not bytes.
    public func step(_ jobs: [DenoisingJob], maximumRows: Int = .max) {
        var chunk: [DenoisingJob] = [], rows = 0
        for job in jobs where !job.isFinished {
            if !chunk.isEmpty && rows + job.batchRows > maximumRows {
                stepTogether(chunk)
                chunk = []
                rows = 0
            }
            chunk.append(job)
            rows += job.batchRows
        }
        if !chunk.isEmpty { stepTogether(chunk) }
    }

    /// One UNet call for every row of `active` (unfinished jobs), then each job's scheduler step.
    private func stepTogether(_ active: [DenoisingJob]) {
        guard let first = active.first else { return }
        precondition(active.allSatisfy { $0.latentSize == first.latentSize }, "jobs of different latent sizes cannot share a UNet call")
        let rows = active.reduce(0) { $0 + $1.batchRows }
        let latentShape = first.latents.shape, latentCount = first.latents.count
        let channels = first.positive.shape[2]
        // Texts of different lengths (77 per chunk) share the call: each row's context is its own
        // tokens, zero-padded to the longest, and its cross-attention stops at its own length.
        let embeddings = active.flatMap { job in [job.negative, job.positive].compactMap { $0 } }
        let lengths = embeddings.map { $0.shape[1] }
        let longest = lengths.max()!
        let input = Tensor(uninitialized: [rows] + latentShape.dropFirst())  // [rows, 4, h, w]
        let context = Tensor(zeros: [rows, longest, channels])  // [rows, 77·k, C]
        var timesteps: [Float] = []
        var inputs: [Tensor] = []  // each job's model input, for its denoised estimate
        var row = 0
        for job in active {
            let scaled = job.scheduler.scaleModelInput(job.latents, stepIndex: job.stepIndex)
            inputs.append(scaled)
            let t = job.scheduler.timesteps[job.stepIndex]
            // diffusers' order: cat([negative, positive]) with the latents repeated.
            for embedding in [job.negative, job.positive].compactMap({ $0 }) {
                (input.pointer + row * latentCount).update(from: scaled.pointer, count: latentCount)
                (context.pointer + row * longest * channels).update(from: embedding.pointer, count: embedding.count)
                timesteps.append(t)
                row += 1
            }
        }
        let contextLengths = lengths.allSatisfy { $0 == longest } ? nil : lengths
        // Each job's LoRAs apply to its own rows only.
        let adapters = RowAdapters(rows: active.flatMap { job in Array(repeating: job.adapters, count: job.batchRows) })
        let callUNet = { unet(input, timesteps: timesteps, context: context, contextLengths: contextLengths) }  // [rows, 4, h, w]
        let output = adapters.isEmpty ? callUNet() : RowAdapters.$current.withValue(adapters, operation: callUNet)
        row = 0
        for (index, job) in active.enumerated() {
            let prediction = Tensor(uninitialized: latentShape)
            if job.negative != nil {
                let uncond = output.pointer + row * latentCount, cond = output.pointer + (row + 1) * latentCount
                let g = job.guidanceScale
                for i in 0..<latentCount { prediction.pointer[i] = uncond[i] + g * (cond[i] - uncond[i]) }
            } else {
                prediction.pointer.update(from: output.pointer + row * latentCount, count: latentCount)
            }
            row += job.batchRows
            if job.tracksDenoised {
                job.denoised = LatentPreview.denoised(modelOutput: prediction, modelInput: inputs[index],
                                                      alphaBar: job.scheduler.alphaBar(stepIndex: job.stepIndex),
                                                      prediction: job.scheduler.predictionType)
            }
            job.latents = job.scheduler.step(modelOutput: prediction, stepIndex: job.stepIndex, sample: job.latents, generator: &job.generator)
            job.stepIndex += 1
        }
    }
}
