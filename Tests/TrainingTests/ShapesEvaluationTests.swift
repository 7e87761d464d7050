// ShapesEvaluation's counting: renders read back by ShapeAnalysis, split into trained and held-out
// combinations, and the per-attribute shares; and a run through a real pipeline (models/tiny, whose
// random weights draw no shape: nothing may count as a match); LoRAs in the settings reach every
// render, and `dbtrain evaluate-subject --lora` reads, checks and names them.
import Foundation
import ImageIO
import Sampling
import Testing
import TestSupport
@testable import Training
import Weights

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

    @Test("an evaluation through a LoRA renders what a request with that LoRA renders")
    func throughLoRA() throws {
        let pipeline = try StableDiffusionPipeline.load(Fixtures.packageRoot.appendingPathComponent("models/tiny"))
        let url = Fixtures.directory.appendingPathComponent("lora/sks-kohya.safetensors")
        let lora = LoRAUse(name: "sks-kohya", weights: try LoRAWeights.load(url, targets: pipeline.loraTargets), weight: 0.7)
        let plain = EvaluationRender(steps: 3)
        var adapted = plain
        adapted.loras = [lora]
        var request = RenderRequest(prompt: "a sks star", seed: 5)
        request.steps = 3; request.sampler = plain.sampler; request.guidanceScale = Float(plain.guidance)
        request.width = plain.size; request.height = plain.size
        request.loras = [lora]
        let direct = try pipeline.render(request)[0].image
        #expect(try adapted.image(pipeline, prompt: "a sks star", seed: 5) == direct)
        #expect(try plain.image(pipeline, prompt: "a sks star", seed: 5) != direct, "the LoRA changes the render")
    }

    @Test("dbtrain evaluate-subject --lora renders through the file, and names a file that is not a LoRA")
    func evaluateSubjectWithLoRA() throws {
        let dbtrain = Fixtures.builtProduct("dbtrain")
        let tiny = Fixtures.packageRoot.appendingPathComponent("models/tiny").path
        let lora = Fixtures.directory.appendingPathComponent("lora/sks-kohya.safetensors").path
        let run = try runProcess(dbtrain, ["evaluate-subject", "--model", tiny, "--lora", "\(lora):0.8", "--seeds", "1", "--steps", "2"])
        #expect(run.status == 0 && run.output.contains("subject fidelity") && run.output.contains("(3 renders)"), "\(run.output)")
        let notLoRA = Fixtures.directory.appendingPathComponent("lora/renders.safetensors").path
        let bad = try runProcess(dbtrain, ["evaluate-subject", "--model", tiny, "--lora", notLoRA, "--seeds", "1", "--steps", "2"])
        #expect(bad.status == 1 && bad.output.contains("dbtrain evaluate-subject: \(notLoRA): tensor"), "\(bad.output)")
        let weight = try runProcess(dbtrain, ["evaluate-subject", "--model", tiny, "--lora", "\(lora):inf", "--seeds", "1"])
        #expect(weight.status == 1 && weight.output.contains("the weight must be a finite number"), "\(weight.output)")
    }

    @Test("dbtrain evaluate-subject --instance-background white --verbose asks for the other three backgrounds and lists each render")
    func evaluateSubjectVerbose() throws {
        let tiny = Fixtures.packageRoot.appendingPathComponent("models/tiny").path
        let run = try runProcess(Fixtures.builtProduct("dbtrain"), ["evaluate-subject", "--model", tiny, "--instance-background", "white",
                                                                    "--verbose", "--seeds", "1", "--steps", "2"])
        #expect(run.status == 0, "\(run.output)")
        let lines = run.output.components(separatedBy: .newlines).filter { !$0.isEmpty }
        func renders(_ measure: String) -> [String] {
            lines.filter { $0.hasPrefix("\(measure) counts ") || $0.hasPrefix("\(measure) misses ") }
        }
        let subject = renders("subject"), plain = renders("plain")
        #expect(subject.count == 3 && plain.count == 6, "\(run.output)")
        for background in ["green", "blue", "black"] {
            #expect(subject.contains { $0.contains("a sks star on a \(background) background  seed 0: ") }, "\(run.output)")
        }
        #expect(plain.contains { $0.contains("a yellow star on a white background  seed 0") } && !subject.contains { $0.contains("white background") })
        #expect(lines.last?.contains("(3 renders)") == true && lines.last?.contains("(6 renders") == true, "\(run.output)")
    }
}
