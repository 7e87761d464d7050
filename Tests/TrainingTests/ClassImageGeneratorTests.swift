// Class-image generation on the tiny model that ships in models/tiny (64×64, PNDM in its scheduler
// config): how many images are written, where, under which names, with which seeds, and that a second
// run tops up instead of starting over. Few denoising steps keep it fast; what is checked does not
// depend on their number.
import Foundation
import ImageIO
import Sampling
import Testing
import TestSupport
@testable import Training

@Suite("Training data: class images for prior preservation", .serialized)
struct ClassImageGeneratorTests {
    static let pipeline = try! StableDiffusionPipeline.load(Fixtures.directory.deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("models/tiny"))

    @Test("the sampler follows the model's scheduler class; diffusers' pipeline defaults")
    func defaults() throws {
        let generator = try ClassImageGenerator(pipeline: Self.pipeline, seed: 0)
        #expect(generator.sampler == "pndm" && generator.steps == 50 && generator.guidanceScale == 7.5 && generator.batchSize == 4)
        #expect(ClassImageGenerator.samplerName(forSchedulerClass: "DPMSolverMultistepScheduler", karras: true) == "dpmpp_2m_karras")
        #expect(ClassImageGenerator.samplerName(forSchedulerClass: "EulerAncestralDiscreteScheduler") == "euler_a")
        #expect(ClassImageGenerator.samplerName(forSchedulerClass: "DDPMScheduler") == nil)
    }

    @Test("fills an empty folder, does nothing when full, tops up with the same seeds as a single run")
    func generateAndTopUp() throws {
        let directory = TrainingDataFixtures.temporaryDirectory().appendingPathComponent("class")  // created by generate
        defer { try? FileManager.default.removeItem(at: directory.deletingLastPathComponent()) }
        let generator = try ClassImageGenerator(pipeline: Self.pipeline, seed: 100, steps: 2, batchSize: 2)
        var events: [ClassImageProgress] = []
        let written = try generator.generate(prompt: "a photo of dog", into: directory, targetCount: 3) { events.append($0) }
        #expect(written.count == 3)
        #expect(written.map { $0.lastPathComponent.split(separator: "-").first.map(String.init) } == ["0", "1", "2"])
        var images: [RGBImage] = []
        for url in written {
            let image = try ImageFile.decode(contentsOf: url).image
            #expect(image.width == 64 && image.height == 64 && url.pathExtension == "png")
            images.append(image)
        }
        #expect(images[0] != images[1], "different seeds gave the same image")
        // Two batches (2 + 1 images), two steps each: a step event per step and one per finished batch.
        #expect(events.last == ClassImageProgress(imagesDone: 3, imagesTotal: 3, step: 2, steps: 2))
        #expect(events.filter { $0.step == 1 }.count == 2)
        let listed = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(listed.count == 3, "temporary files left behind: \(listed)")

        #expect(try generator.generate(prompt: "a photo of dog", into: directory, targetCount: 3).isEmpty)
        #expect(try generator.generate(prompt: "a photo of dog", into: directory, targetCount: 2).isEmpty)

        // Keep image 0 only: a top-up (one image per call this time) renders images 1 and 2 again.
        for url in written.dropFirst() { try FileManager.default.removeItem(at: url) }
        let oneAtATime = try ClassImageGenerator(pipeline: Self.pipeline, seed: 100, steps: 2, batchSize: 1)
        let topUp = try oneAtATime.generate(prompt: "a photo of dog", into: directory, targetCount: 3)
        #expect(topUp.count == 2)
        for (k, url) in topUp.enumerated() {
            let image = try ImageFile.decode(contentsOf: url).image
            // Same seed; batch size changes only the summation order inside the batched UNet call.
            let (differing, maxDelta) = TrainingDataFixtures.compare(image, images[k + 1])
            #expect(maxDelta <= 1, "image \(k + 1): \(differing) pixels differ, max |Δ| \(maxDelta)")
        }
        #expect(try ImageFolder.imageFiles(in: directory, role: "class").count == 3)
    }

    @Test("several prompts: image n is rendered from prompt n mod count, with its prompt written beside it")
    func severalPrompts() throws {
        let directory = TrainingDataFixtures.temporaryDirectory().appendingPathComponent("class")
        defer { try? FileManager.default.removeItem(at: directory.deletingLastPathComponent()) }
        let prompts = ["a photo of dog", "a photo of dog on grass"]
        let generator = try ClassImageGenerator(pipeline: Self.pipeline, seed: 7, steps: 2, batchSize: 4)
        let written = try generator.generate(prompts: prompts, captioned: true, into: directory, targetCount: 3)
        #expect(written.count == 3)
        for (n, url) in written.enumerated() {
            let caption = try String(contentsOf: url.deletingPathExtension().appendingPathExtension("txt"), encoding: .utf8)
            #expect(caption == prompts[n % 2] + "\n", "image \(n)")
            // The same image as a single-prompt render of that prompt at seed 7 + n.
            var request = RenderRequest(prompt: prompts[n % 2], seed: 7 + UInt64(n))
            request.steps = 2
            request.sampler = "pndm"
            let expected = try Self.pipeline.render(request)[0].image
            #expect(try ImageFile.decode(contentsOf: url).image == expected, "image \(n)")
        }
        // The dataset trains each image with its caption.
        let instance = TrainingDataFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: instance) }
        try FileManager.default.copyItem(at: written[0], to: instance.appendingPathComponent("a.png"))
        let tokenizer = DreamBoothDatasetTests.tokenizer
        let dataset = try DreamBoothDataset(instanceDirectory: instance, instancePrompt: "a sks dog", classDirectory: directory,
                                            transform: TrainingImageTransform(resolution: 64, centerCrop: true),
                                            tokenizer: tokenizer, seed: 0)
        #expect(dataset.classFilePromptTexts == [prompts[0], prompts[1], prompts[0]])
        #expect(dataset.prompts.map(\.text) == ["a sks dog"] + prompts)
        #expect(try dataset.example(at: 1, epoch: 0).classTokenIDs == tokenizer.tokenize(prompts[1]).ids)
    }

    @Test("a cancelled run throws and writes nothing for the unfinished batch")
    func cancellation() throws {
        let directory = TrainingDataFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let generator = try ClassImageGenerator(pipeline: Self.pipeline, seed: 0, steps: 2, batchSize: 2)
        #expect(throws: RenderError.cancelled) {
            try generator.generate(prompt: "a photo of dog", into: directory, targetCount: 2, isCancelled: { true })
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }
}
