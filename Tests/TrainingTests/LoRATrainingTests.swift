// DreamBooth-LoRA runs on models/tiny (use_lora, train_dreambooth_lora.py's keys): only the LoRA
// factors train (A from peft's gaussian init, B from zero), the written pytorch_lora_weights.safetensors
// and the kohya export hold the same factors, both load back through the daemon's LoRA reader with
// the run's alpha / rank, the LoRA changes the render, validation images render through it, and a run
// stopped and resumed ends with the uninterrupted run's files, byte for byte.
import Foundation
import ImageIO
import Sampling
import Tensor
import Testing
import TestSupport
import Weights
@testable import Training

@Suite("Training: DreamBooth LoRA runs", .serialized)
struct LoRATrainingTests {
    static let tiny = Fixtures.packageRoot.appendingPathComponent("models/tiny")

    func setUp(_ extra: (inout TrainingConfiguration) -> Void = { _ in }) throws -> (URL, TrainingConfiguration) {
        try DreamBoothTrainerTests().setUp { c in
            c.useLora = true
            c.rank = 2
            c.loraAlpha = 4
            c.learningRate = 1e-2
            extra(&c)
        }
    }

    @Test("keys: use_lora, rank, lora_alpha, target modules as a list or a comma list; bad values are named")
    func configuration() throws {
        let yaml = """
            pretrained_model_name_or_path: m
            instance_data_dir: d
            instance_prompt: p
            use_lora: true
            rank: 8
            lora_target_modules: [to_q, to_v]
            lora_text_encoder_target_modules: "q_proj, v_proj"
            """
        let c = try TrainingConfiguration.load(yaml: yaml)
        #expect(c.useLora && c.rank == 8 && c.loraAlpha == nil)
        #expect(c.loraTargetModules == ["to_q", "to_v"] && c.loraTextEncoderTargetModules == ["q_proj", "v_proj"])
        #expect(TrainingConfiguration(pretrainedModelNameOrPath: "m", instanceDataDir: "d", instancePrompt: "p").loraTargetModules
                == ["to_k", "to_q", "to_v", "to_out.0"])
        for (change, message) in [({ (c: inout TrainingConfiguration) in c.rank = 0 }, "rank: must be at least 1 (got 0)"),
                                  ({ $0.loraAlpha = -1 }, "lora_alpha: must be a positive number"),
                                  ({ $0.loraTargetModules = [] }, "lora_target_modules: names no module"),
                                  ({ $0.useEma = true }, "use_ema: is not supported with use_lora")] {
            var bad = c
            change(&bad)
            #expect(throws: TrainingConfigurationError.self) { try bad.validate() }
            do { try bad.validate() } catch { #expect("\(error)" == message) }
        }
        // Targets that match nothing are an error at the start of the run, naming the key.
        let (folder, unmatched) = try setUp { $0.loraTargetModules = ["to_z"] }
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect { try DreamBoothTrainer(configuration: unmatched).run() } throws: {
            "\($0)" == "lora_target_modules: to_z match no linear layer of the unet"
        }
    }

    @Test("a LoRA run trains only the factors and writes diffusers' and kohya's files, which load and change the render")
    func run() throws {
        let (folder, c) = try setUp { $0.validationPrompt = "a photo of sks dog"; $0.validationSteps = 4; $0.numValidationImages = 1 }
        defer { try? FileManager.default.removeItem(at: folder) }
        var parameters = 0
        try DreamBoothTrainer(configuration: c).run(report: { if case let .started(_, _, count) = $0 { parameters = count } })
        let out = URL(fileURLWithPath: c.outputDir)
        // The trained parameters are the factors: every attention projection of the UNet (rank 2) and
        // of the text encoder's q/k/v/out.
        let pipeline = try StableDiffusionPipeline.load(Self.tiny)
        let unetModules = pipeline.loraTargets.shapes[.unet]!.filter { m, _ in ["to_q", "to_k", "to_v", "to_out.0"].contains { m.hasSuffix("." + $0) } }
        let textModules = pipeline.loraTargets.shapes[.textEncoder]!.filter { m, _ in ["q_proj", "k_proj", "v_proj", "out_proj"].contains { m.hasSuffix("." + $0) } }
        let expectedCount = (Array(unetModules.values) + Array(textModules.values)).reduce(0) { $0 + 2 * ($1[0] + $1[1]) }
        #expect(parameters == expectedCount && !unetModules.isEmpty && !textModules.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("unet").path))

        let diffusers = try LoRAWeights.load(out.appendingPathComponent("pytorch_lora_weights.safetensors"), targets: pipeline.loraTargets)
        let kohya = try LoRAWeights.load(out.appendingPathComponent("out.safetensors"), targets: pipeline.loraTargets)
        #expect(Set(diffusers.updates[.unet]!.keys) == Set(unetModules.keys) && Set(diffusers.updates[.textEncoder]!.keys) == Set(textModules.keys))
        for component in LoRAComponent.allCases {
            for (module, update) in diffusers.updates[component]! {
                let other = try #require(kohya.updates[component]?[module])
                #expect(update.scale == 2 && other.scale == 2, "\(module): alpha 4 / rank 2")
                #expect(update.down.scalars == other.down.scalars && update.up.scalars == other.up.scalars, "\(module)")
                // B started at zero and trained.
                #expect(update.up.scalars.contains { $0 != 0 }, "\(module): B never moved")
            }
        }
        // The LoRA changes the image (the base folder is untouched: it is only ever mapped read-only).
        var request = RenderRequest(prompt: "a photo of sks dog", seed: 3)
        request.steps = 4
        let base = try pipeline.render(request)[0].image
        request.loras = [LoRAUse(name: "sks", weights: diffusers, weight: 1)]
        let adapted = try pipeline.render(request)[0].image
        #expect(base.pixels != adapted.pixels)
        // The validation image was rendered through the LoRA being trained: it is the adapted image
        // at validation's own settings, which differ from the base model's.
        var validation = RenderRequest(prompt: "a photo of sks dog", seed: 7)
        validation.steps = 25
        validation.sampler = "dpmpp_2m"
        validation.loras = [LoRAUse(name: "sks", weights: diffusers, weight: 1)]
        let saved = try ImageFile.decode(contentsOf: out.appendingPathComponent("validation/step-4-0.png")).image
        #expect(saved.pixels == (try pipeline.render(validation)[0].image.pixels))
    }

    @Test("a LoRA run stopped after two steps and resumed writes the uninterrupted run's files, byte for byte")
    func resumeIsExact() throws {
        let (straightFolder, straight) = try setUp()
        defer { try? FileManager.default.removeItem(at: straightFolder) }
        try DreamBoothTrainer(configuration: straight).run()
        let (folder, c) = try setUp()
        defer { try? FileManager.default.removeItem(at: folder) }
        var steps = 0
        try DreamBoothTrainer(configuration: c).run(isCancelled: { steps >= 2 }, report: { if case .step = $0 { steps += 1 } })
        try DreamBoothTrainer(configuration: c).run(resume: true)
        for file in ["pytorch_lora_weights.safetensors", "out.safetensors"] {
            let a = try Data(contentsOf: URL(fileURLWithPath: straight.outputDir).appendingPathComponent(file))
            let b = try Data(contentsOf: URL(fileURLWithPath: c.outputDir).appendingPathComponent(file))
            #expect(a == b, "\(file) differs after resuming")
        }
    }
}
