// `dbtrain evaluate-subject`: the striped-star DreamBooth demo scored from pixels.
import ArgumentParser
import Foundation
import ImageIO
import Sampling
import Tensor
import Training

/// `dbtrain evaluate-subject --model DIR [--seeds 8] [--token sks]`
struct EvaluateSubject: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate-subject",
        abstract: "Score a DreamBooth fine-tune on the striped star: subject fidelity, prompt fidelity, prior preservation.",
        discussion: """
            Renders "a <token> star on a red / green / white background" and plain star prompts at fixed seeds \
            and reads each image with PatternReading (does the figure show the yellow body and the black stripes?).
            """)

    @Option(help: "The fine-tuned model folder.")
    var model: String
    @Option(help: "Seeds per prompt (0, 1, …).")
    var seeds = 8
    @Option(help: "The subject's rare token.")
    var token = "sks"
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
        let pipeline = try CommandFailure.reporting("dbtrain evaluate-subject") { try StableDiffusionPipeline.load(URL(fileURLWithPath: model)) }
        let e = try SubjectEvaluation.run(pipeline, token: token, seeds: (0..<seeds).map(UInt64.init), steps: steps, sampler: sampler, guidance: guidance)
        if let images {
            try CommandFailure.reporting("dbtrain evaluate-subject") {
                for render in e.subjectRenders + e.priorRenders {
                    try RenderGallery.write(render.image!, prompt: render.prompt, seed: render.seed, into: URL(fileURLWithPath: images))
                }
            }
        }
        print(String(format: "subject fidelity %.1f %%, prompt fidelity %.1f %% (%d renders); prior preservation %.1f %% (%d renders)",
                     100 * e.subjectFidelity, 100 * e.promptFidelity, e.subjectRenders.count,
                     100 * e.priorPreservation, e.priorRenders.count))
    }
}
