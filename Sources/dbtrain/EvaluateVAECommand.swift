// `dbtrain evaluate-vae`: how much of the shapes world survives a round trip through a model's VAE
// (VAERoundTrip), overall and per kind, and how many dotted stars (the DreamBooth subject) survive it.
import ArgumentParser
import Foundation
import ImageIO
import Sampling
import Tensor
import Training

/// `dbtrain evaluate-vae --model DIR [--count 240] [--seed 0] [--size 64] [--images DIR]`
struct EvaluateVAE: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate-vae",
        abstract: "Round-trip shapes-world images through a model's VAE and score the reconstructions from their pixels.",
        discussion: "The share of reconstructions that still read as their scene bounds what any UNet on this VAE can reach.")

    @Option(help: "The model folder whose VAE is evaluated.")
    var model: String
    @Option(help: "Images of the training split to round-trip (the first ones).")
    var count = 240
    @Option(help: "Seed of the data set the images come from.")
    var seed: UInt64 = 0
    @Option(help: "Image side in pixels.")
    var size = 64
    @Option(help: "The DreamBooth subject's pattern whose round trip is read: dot or halves.")
    var pattern: SubjectPattern = .dot
    @Option(help: "Also write every reconstruction as a PNG into this folder, named by caption and image index.")
    var images: String?

    func validate() throws {
        guard count >= 1 else { throw ValidationError("--count must be at least 1") }
        guard size >= 16 else { throw ValidationError("--size must be at least 16") }
    }

    func run() throws {
        let command = "dbtrain evaluate-vae"
        let pipeline = try CommandFailure.reporting(command) { try StableDiffusionPipeline.load(URL(fileURLWithPath: model)) }
        let roundTrip = VAERoundTrip.run(pipeline.vae, dataset: ShapesDataset(seed: seed), count: count, side: size)
        if let images {
            try CommandFailure.reporting(command) {
                for (index, image) in roundTrip.images.enumerated() {
                    try RenderGallery.write(image.reconstruction, prompt: image.scene.caption, seed: UInt64(index),
                                            into: URL(fileURLWithPath: images))
                }
            }
        }
        print(String(format: "originals: %.1f %% match; reconstructions: %.1f %% match, PSNR %.2f dB, %d images",
                     100 * roundTrip.originalAccuracy, 100 * roundTrip.reconstructionAccuracy(), roundTrip.psnr, count))
        for kind in ShapeKind.allCases {
            print(String(format: "  %@: %.1f %%", kind.rawValue, 100 * roundTrip.reconstructionAccuracy(of: kind)))
        }
        let subjects = 8
        let subject = VAERoundTrip.subjectReadability(pipeline.vae, pattern: pattern, count: subjects, side: size)
        let overall = subject.reduce(0) { $0 + $1.share } / Double(subject.count)
        print(String(format: "%@ star (the DreamBooth subject, %d layouts × %d backgrounds): %.1f %% still read as the subject",
                     pattern == .dot ? "dotted" : "two-tone", subjects, subject.count, 100 * overall))
        for (background, share) in subject {
            print(String(format: "  on %@: %.1f %%", "\(background)", 100 * share))
        }
    }
}
