// ShapesEvaluation's counting: renders read back by ShapeAnalysis, split into trained and held-out
// combinations, and the per-attribute shares; and a run through a real pipeline (models/tiny, whose
// random weights draw no shape: nothing may count as a match).
import Foundation
import ImageIO
import Sampling
import Testing
import TestSupport
@testable import Training

@Suite("Shapes: evaluation from pixels")
struct ShapesEvaluationTests {
    @Test("accuracy counts renders whose three attributes all match, per set of combinations")
    func counting() {
        let dataset = ShapesDataset(seed: 8)
        var renders: [ShapesEvaluation.Render] = []
        for i in 0..<6 {
            let scene = dataset.scene(at: i)
            let analysis = ShapeAnalysis.analyse(ShapeRasterizer.render(scene, side: 64))
            // Renders 0–3 are labelled with what they show; 4 and 5 with another background.
            let label = i < 4 ? scene.combination
                : ShapeCombination(scene.combination.kind, scene.combination.color,
                                   on: ShapeColor.allCases.first { $0 != scene.combination.background && $0 != scene.combination.color }!)
            renders.append(.init(combination: label, seed: UInt64(i), analysis: analysis))
        }
        renders.append(.init(combination: renders[0].combination, seed: 99, analysis: nil))  // no shape found
        let evaluation = ShapesEvaluation(renders: renders)
        #expect(evaluation.renders.map(\.matches) == [true, true, true, true, false, false, false])
        #expect(abs(evaluation.accuracy() - 4.0 / 7) < 1e-12)
        let a = evaluation.attributeAccuracy()
        #expect(abs(a.background - 4.0 / 7) < 1e-12 && abs(a.color - 6.0 / 7) < 1e-12 && abs(a.kind - 6.0 / 7) < 1e-12)
        #expect(evaluation.accuracy(of: [renders[4].combination]) == 0)
        #expect(evaluation.accuracy(of: []) == 0)
    }

    @Test("a model that draws no shapes scores 0 through the real pipeline")
    func randomModel() throws {
        let pipeline = try StableDiffusionPipeline.load(Fixtures.packageRoot.appendingPathComponent("models/tiny"))
        let combinations = Array(ShapesDataset.heldOutCombinations.prefix(2))
        let evaluation = try ShapesEvaluation.run(pipeline, combinations: combinations, seeds: [0, 1], settings: EvaluationRender(steps: 4))
        #expect(evaluation.renders.count == 4 && evaluation.renders.map(\.combination) == [combinations[0], combinations[0], combinations[1], combinations[1]])
        #expect(evaluation.accuracy() == 0)
    }

    @Test("a VAE round trip reads every original right, scores a random VAE's reconstructions 0, and measures their PSNR")
    func vaeRoundTrip() throws {
        let pipeline = try StableDiffusionPipeline.load(Fixtures.packageRoot.appendingPathComponent("models/tiny"))
        let dataset = ShapesDataset(seed: 3)
        let roundTrip = VAERoundTrip.run(pipeline.vae, dataset: dataset, count: 4, side: 64)
        #expect(roundTrip.images.map(\.scene) == (0..<4).map(dataset.scene(at:)))
        #expect(roundTrip.originalAccuracy == 1)
        #expect(roundTrip.reconstructionAccuracy() == 0, "models/tiny's VAE is random: nothing survives it")
        // The PSNR is the one of all channels pooled, recomputed here independently.
        var squares = 0.0, count = 0.0
        for image in roundTrip.images {
            #expect(image.reconstruction.width == 64 && image.reconstruction.height == 64)
            for (a, b) in zip(image.original.pixels, image.reconstruction.pixels) { squares += pow(Double(a) - Double(b), 2); count += 1 }
        }
        let expected = 10 * log10(255 * 255 * count / squares)
        #expect(abs(roundTrip.psnr - expected) < 1e-9 && roundTrip.psnr < 15, "PSNR \(roundTrip.psnr) dB")
    }
}
