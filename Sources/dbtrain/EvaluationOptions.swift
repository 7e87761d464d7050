// The options the evaluate subcommands share: the model (and LoRAs on it), how it renders, where the
// renders go.
import ArgumentParser
import Foundation
import ImageIO
import Sampling
import Tensor
import Training
import Weights

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
    @Option(name: .customLong("lora"), help: ArgumentHelp(
        "A LoRA file applied to every render, with an optional weight (default 1); repeatable.", valueName: "path[:weight]"))
    var loras: [String] = []

    /// The sampling settings, with the `--lora` files read and checked against `pipeline`'s modules.
    func settings(for pipeline: StableDiffusionPipeline, command: String) throws -> EvaluationRender {
        let uses = try loras.map { spec in
            try CommandFailure.reporting(command) { () throws -> LoRAUse in
                let (path, weight) = try Self.parseLoRA(spec)
                let url = URL(fileURLWithPath: path)
                let weights = try LoRAWeights.load(url, targets: pipeline.loraTargets)
                return LoRAUse(name: url.deletingPathExtension().lastPathComponent, weights: weights, weight: weight)
            }
        }
        return EvaluationRender(size: size, steps: steps, sampler: sampler, guidance: guidance, loras: uses)
    }

    /// `path` or `path:weight` (the weight after the last colon, when it reads as a number).
    static func parseLoRA(_ spec: String) throws -> (path: String, weight: Float) {
        if let colon = spec.lastIndex(of: ":"), let weight = Float(spec[spec.index(after: colon)...]) {
            guard weight.isFinite else { throw ValidationError("--lora \(spec): the weight must be a finite number") }
            return (String(spec[..<colon]), weight)
        }
        return (spec, 1)
    }

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
