// The options the evaluate subcommands share: the model, how it renders, where the renders go.
import ArgumentParser
import Foundation
import ImageIO
import Sampling
import Tensor
import Training

struct EvaluationOptions: ParsableArguments {
    @Option(help: "The model folder (or single file) to evaluate.")
    var model: String
    @Option(help: "Image side in pixels.")
    var size = 64
    @Option(help: "Sampler (dbrenderd's names).")
    var sampler = "dpmpp_2m"
    @Option(help: "Sampling steps.")
    var steps = 20
    @Option(help: "Classifier-free guidance scale.")
    var guidance = 7.5
    @Option(help: "Also write every render as a PNG into this folder, named by prompt and seed.")
    var images: String?
    @Option(help: "Compute threads (default: all cores).")
    var threads: Int?

    var settings: EvaluationRender { EvaluationRender(size: size, steps: steps, sampler: sampler, guidance: guidance) }

    /// Sets the thread count and opens the model; an error names the command.
    func pipeline(for command: String) throws -> StableDiffusionPipeline {
        ThreadPool.shared.configure(threads: threads ?? ThreadPool.shared.threads)
        return try CommandFailure.reporting(command) { try StableDiffusionPipeline.load(URL(fileURLWithPath: model)) }
    }

    /// Writes `renders` (prompt, seed, image) into `images`, when given.
    func save(_ renders: [(prompt: String, seed: UInt64, image: RGBImage?)], for command: String) throws {
        guard let images else { return }
        try CommandFailure.reporting(command) {
            for render in renders {
                guard let image = render.image else { continue }
                try RenderGallery.write(image, prompt: render.prompt, seed: render.seed, into: URL(fileURLWithPath: images))
            }
        }
    }
}
