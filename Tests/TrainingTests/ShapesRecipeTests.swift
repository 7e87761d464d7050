// The recipe that makes the shipped shapes models (scripts/train-shapes.sh and scripts/shapes/*.yaml):
// every configuration loads with the trainer's own checks, and the stages chain — each training stage
// starts from the folder the one before writes, as the script runs them in its work folder.
import Foundation
import Testing
import TestSupport
@testable import Training

@Suite("Shapes recipe configurations")
struct ShapesRecipeTests {
    private func recipe(_ name: String, _ overrides: [String] = []) throws -> TrainingConfiguration {
        try TrainingConfiguration.load(file: Fixtures.packageRoot.appendingPathComponent("scripts/shapes/\(name).yaml"),
                                       overrides: overrides)
    }

    @Test("the stages load, and each starts from the model the one before writes")
    func stagesChain() throws {
        let first = try recipe("text-to-image")
        let refine = try recipe("text-to-image-refine")
        let polish = try recipe("text-to-image-polish")
        let twoTone = try recipe("two-tone")
        let dreambooth = try recipe("dreambooth-sks")
        let noPrior = try recipe("dreambooth-sks", ["--with_prior_preservation", "false", "--output_dir", "shapes-sks-no-prior"])
        #expect([first, refine, polish].allSatisfy { $0.trainDataDir == "data" && $0.useEma })
        #expect(refine.pretrainedModelNameOrPath == first.outputDir && polish.pretrainedModelNameOrPath == refine.outputDir)
        // The two-tone stage follows the polish stage on its own data; the script refines its decoder into
        // `base`, the model DreamBooth starts from (and the one installed as models/shapes).
        #expect(twoTone.pretrainedModelNameOrPath == polish.outputDir && twoTone.trainDataDir == "data-two-tone" && twoTone.useEma)
        let script = try String(contentsOf: Fixtures.packageRoot.appendingPathComponent("scripts/train-shapes.sh"), encoding: .utf8)
        #expect(script.contains("train-vae --model \(twoTone.outputDir) --data data-two-tone --out base"))
        #expect(script.contains("--dotted 0.3 --pattern halves") && script.contains("--subject --pattern halves"))
        #expect(script.contains("install base \"$root/models/shapes\""))
        // The subject stage writes the upright two-tone star on black where the DreamBooth runs read it, and
        // the evaluations ask for the three other backgrounds.
        #expect(script.contains("--subject --pattern halves --upright --instance-background black \\\n    --out \(dreambooth.instanceDataDir) "))
        #expect(script.components(separatedBy: "evaluate-subject --model").count - 1 == 2
                && script.components(separatedBy: "--pattern halves --instance-background black").count - 1 == 2)
        #expect(dreambooth.pretrainedModelNameOrPath == "base" && noPrior.pretrainedModelNameOrPath == "base")
        #expect(dreambooth.withPriorPreservation && !noPrior.withPriorPreservation)
        #expect(dreambooth.outputDir != noPrior.outputDir)
        // Everything but the prior differs in nothing: the comparison isolates what prior preservation buys.
        #expect(dreambooth.maxTrainSteps == noPrior.maxTrainSteps && dreambooth.learningRate == noPrior.learningRate
                && dreambooth.seed == noPrior.seed && dreambooth.instancePrompt == noPrior.instancePrompt)
        // The LoRA run: the same subject, prompts and class images, only the base frozen.
        let lora = try recipe("dreambooth-sks-lora")
        #expect(lora.useLora && !dreambooth.useLora && lora.pretrainedModelNameOrPath == "base")
        #expect(lora.instanceDataDir == dreambooth.instanceDataDir && lora.instancePrompt == dreambooth.instancePrompt
                && lora.classDataDir == dreambooth.classDataDir && lora.classPrompts == dreambooth.classPrompts
                && lora.numClassImages == dreambooth.numClassImages
                && lora.withPriorPreservation && lora.outputDir == "sks-star")
        // The class prompts: every star caption of the base data that names at most one of colour and
        // background (the bare, colour-only and background-only partial captions), each the same number of
        // times among the class images; none of the full captions.
        let prompts = try #require(dreambooth.classPrompts)
        let expected = ["a star"] + ShapeColor.allCases.map { "a \($0.rawValue) star" }
            + ShapeColor.allCases.map { "a star on a \($0.rawValue) background" }
        #expect(Set(prompts) == Set(expected) && prompts.count == 13)
        let fullCaptions = ShapeCombination.all.filter { $0.kind == .star }.map(\.caption)
        #expect(Set(fullCaptions).isDisjoint(with: Set(prompts)) && fullCaptions.count == 30)
        #expect(dreambooth.numClassImages % prompts.count == 0)
        for stage in [first, refine, polish, twoTone, dreambooth] {
            #expect(stage.resolution == 64 && stage.seed != nil && stage.savePrecision == "fp16")
        }
    }
}
