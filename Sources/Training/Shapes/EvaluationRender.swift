// How the shapes-world evaluations render: one single-image request per (prompt, seed), at fixed
// sampling settings, so that a score names exactly the images it counts — through LoRAs, when the
// model under evaluation is a base model and a LoRA (the DreamBooth-LoRA demo).
import ImageIO
import Sampling

/// The sampling settings of an evaluation.
public struct EvaluationRender: Sendable {
    public var size = 64
    public var steps = 20
    public var sampler = "dpmpp_2m"
    public var guidance = 7.5
    /// LoRAs every render applies (none: the model alone).
    public var loras: [LoRAUse] = []

    public init(size: Int = 64, steps: Int = 20, sampler: String = "dpmpp_2m", guidance: Double = 7.5, loras: [LoRAUse] = []) {
        self.size = size; self.steps = steps; self.sampler = sampler; self.guidance = guidance; self.loras = loras
    }

    /// `prompt` at `seed` through `pipeline`.
    public func image(_ pipeline: StableDiffusionPipeline, prompt: String, seed: UInt64) throws -> RGBImage {
        var request = RenderRequest(prompt: prompt, seed: seed)
        request.steps = steps
        request.sampler = sampler
        request.guidanceScale = Float(guidance)
        request.width = size
        request.height = size
        request.loras = loras
        return try pipeline.render(request)[0].image
    }
}
