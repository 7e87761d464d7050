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
        let dreambooth = try recipe("dreambooth-sks")
        let noPrior = try recipe("dreambooth-sks", ["--with_prior_preservation", "false", "--output_dir", "shapes-sks-no-prior"])
        #expect([first, refine, polish].allSatisfy { $0.trainDataDir == "data" && $0.useEma })
        #expect(refine.pretrainedModelNameOrPath == first.outputDir && polish.pretrainedModelNameOrPath == refine.outputDir)
        #expect(dreambooth.pretrainedModelNameOrPath == polish.outputDir && noPrior.pretrainedModelNameOrPath == polish.outputDir)
        #expect(dreambooth.withPriorPreservation && !noPrior.withPriorPreservation)
        #expect(dreambooth.outputDir != noPrior.outputDir)
        // Everything but the prior differs in nothing: the comparison isolates what prior preservation buys.
        #expect(dreambooth.maxTrainSteps == noPrior.maxTrainSteps && dreambooth.learningRate == noPrior.learningRate
                && dreambooth.seed == noPrior.seed && dreambooth.instancePrompt == noPrior.instancePrompt)
        // The LoRA run: the same subject, prompts and class images, only the base frozen.
        let lora = try recipe("dreambooth-sks-lora")
        #expect(lora.useLora && !dreambooth.useLora && lora.pretrainedModelNameOrPath == polish.outputDir)
        #expect(lora.instanceDataDir == dreambooth.instanceDataDir && lora.instancePrompt == dreambooth.instancePrompt
                && lora.classDataDir == dreambooth.classDataDir && lora.classPrompts == dreambooth.classPrompts
                && lora.numClassImages == dreambooth.numClassImages
                && lora.withPriorPreservation && lora.outputDir == "sks-star")
        // The class prompts: every caption the base data gives a star (full and partial), each the
        // same number of times among the class images.
        let prompts = try #require(dreambooth.classPrompts)
        let stars = ShapeCombination.all.filter { $0.kind == .star }.map(\.caption)
        #expect(prompts.count == 43 && Set(prompts).count == 43 && prompts.contains("a star"))
        #expect(Set(stars).isSubset(of: Set(prompts)) && stars.count == 30)
        #expect(dreambooth.numClassImages % prompts.count == 0)
        for stage in [first, refine, polish, dreambooth] {
            #expect(stage.resolution == 64 && stage.seed != nil && stage.savePrecision == "fp16")
        }
    }
}
