// Live previews: the clean-latent estimate against diffusers' `pred_original_sample` (Euler, Heun, LMS,
// DDIM with ε- and v-prediction), and the "Approx cheap" image against A1111's arithmetic; then a
// render with previews on gives the same image as without, and previews that approach it.
// Fixtures: Tests/Fixtures/make_latent_preview_fixtures.py → latent_preview.safetensors.
// Bounds: x₀ within 1e-5 of the latents' scale (the same formula in another fp32 order: diffusers
// works in σ-space, x₀ = x − σ·ε, we in ᾱ-space from the scaled input); preview pixels exact except
// where a value lands within rounding of an integer (at most 1 level).
import Foundation
import ImageIO
import Sampling
import Tensor
import Testing
import TestSupport

private let fixture = try! Fixtures.open("latent_preview")

private struct PreviewCase: Decodable, Sendable, CustomTestStringConvertible {
    let id: String
    let config: SchedulerConfiguration
    let steps: Int
    let index: Int
    var testDescription: String { id }
}

private let cases: [PreviewCase] = try! JSONDecoder().decode([PreviewCase].self, from: Data(fixture.file.metadata["cases"]!.utf8))

@Suite("Live previews")
struct LatentPreviewTests {
    @Test("the denoised estimate is diffusers' pred_original_sample", arguments: cases)
    fileprivate func denoisedEstimate(_ c: PreviewCase) throws {
        let sampler = ["euler": "euler", "heun": "heun", "lms": "lms", "ddim": "ddim", "ddim_v": "ddim"][c.id]!
        let scheduler = try SchedulerFactory.make(name: sampler, configuration: c.config, steps: c.steps)
        let sample = fixture["\(c.id).sample"], output = fixture["\(c.id).output"]
        let estimate = LatentPreview.denoised(modelOutput: output, modelInput: scheduler.scaleModelInput(sample, stepIndex: c.index),
                                              alphaBar: scheduler.alphaBar(stepIndex: c.index), prediction: scheduler.predictionType)
        let d = difference(estimate, fixture["\(c.id).x0"])
        #expect(d.relativeToScale < 1e-5, "\(c.id): \(d)")
    }

    @Test("on models/shapes the previews converge on the render: each one nearer the final latents than the last")
    func previewsConverge() throws {
        let root = Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent()
        let shapes = try StableDiffusionPipeline.load(root.appendingPathComponent("models/shapes"))
        var request = RenderRequest(prompt: "a red circle on a blue background", seed: 3)
        request.steps = 12
        request.sampler = "dpmpp_2m"
        let job = try shapes.makeJobs(for: request)[0]
        job.tracksDenoised = true
        var estimates: [Tensor] = []
        while !job.isFinished {
            shapes.denoiser.step([job])
            if job.progress.step % 3 == 0 && !job.isFinished { estimates.append(try #require(job.denoised)) }
        }
        #expect(estimates.count == 3)  // steps 3, 6, 9 (none at the last)
        // Max |Δ| relative to the final latents' scale; measured 2.9, 1.9, 0.29.
        let distances = estimates.map { difference($0, job.latents).relativeToScale }
        #expect(zip(distances, distances.dropFirst()).allSatisfy { $0.1 < $0.0 } && distances.last! < 0.5, "\(distances)")
    }

    @Test("the preview image is A1111's Approx cheap")
    func cheapApproximation() {
        let latents = fixture["preview.latents"], expected = fixture["preview.image"]
        let image = LatentPreview.cheapApproximation(latents)
        #expect(image.width == latents.shape[3] && image.height == latents.shape[2])
        let worst = zip(image.pixels, expected.scalars).map { abs(Int($0) - Int($1)) }.max() ?? 255
        let exact = zip(image.pixels, expected.scalars).filter { Int($0) == Int($1) }.count
        #expect(worst <= 1 && exact >= image.pixels.count * 95 / 100, "worst \(worst), exact \(exact) of \(image.pixels.count)")
    }
}
