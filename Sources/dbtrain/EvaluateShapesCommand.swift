// `dbtrain evaluate-shapes`: a shapes-world model scored from the pixels of its renders.
import ArgumentParser
import Foundation
import ImageIO
import Sampling
import Tensor
import Training

/// `dbtrain evaluate-shapes --model DIR [--seeds 4] [--size 64] [--steps 20]`
struct EvaluateShapes: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate-shapes",
        abstract: "Render every shapes-world caption at fixed seeds and score the images from their pixels.",
        discussion: "A render matches when its background colour, shape colour and shape kind, as ShapeAnalysis reads them, are the prompt's.")

    @Option(help: "The model folder (or single file) to evaluate.")
    var model: String
    @Option(help: "Seeds per combination (0, 1, …).")
    var seeds = 4
    @Option(help: "Image side in pixels.")
    var size = 64
    @Option(help: "Sampler (dbrenderd's names).")
    var sampler = "dpmpp_2m"
    @Option(help: "Sampling steps.")
    var steps = 20
    @Option(help: "Classifier-free guidance scale.")
    var guidance = 7.5
    @Option(help: "Also write every render as a PNG into this folder.")
    var images: String?
    @Option(help: "Compute threads (default: all cores).")
    var threads: Int?

    func run() throws {
        ThreadPool.shared.configure(threads: threads ?? ThreadPool.shared.threads)
        let pipeline = try CommandFailure.reporting("dbtrain evaluate-shapes") { try StableDiffusionPipeline.load(URL(fileURLWithPath: model)) }
        let heldOut = Set(ShapesDataset.heldOutCombinations)
        let evaluation = try ShapesEvaluation.run(pipeline, combinations: ShapeCombination.all, seeds: (0..<seeds).map(UInt64.init),
                                                  size: size, steps: steps, sampler: sampler, guidance: guidance)
        if let images {
            try CommandFailure.reporting("dbtrain evaluate-shapes") {
                for render in evaluation.renders {
                    try RenderGallery.write(render.image!, prompt: render.combination.caption, seed: render.seed,
                                            into: URL(fileURLWithPath: images))
                }
            }
        }
        let trained = Set(ShapeCombination.all).subtracting(heldOut)
        for (name, set) in [("trained combinations", trained), ("held-out combinations", heldOut)] {
            let a = evaluation.attributeAccuracy(of: set)
            print(String(format: "%@: %.1f %% match (background %.1f %%, colour %.1f %%, shape %.1f %%), %d renders", name,
                         100 * evaluation.accuracy(of: set), 100 * a.background, 100 * a.color, 100 * a.kind, set.count * seeds))
        }
    }
}
