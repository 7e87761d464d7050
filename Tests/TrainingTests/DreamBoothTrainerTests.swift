// Whole DreamBooth runs on models/tiny: class images, steps, logs, checkpoints with a total limit,
// validation renders, the trained model folder (loaded back by our loader and rendered), a run
// interrupted and resumed that ends bit-identical to the uninterrupted one, and the dbtrain binary.
import Foundation
import ImageIO
import Models
import Sampling
import Tensor
import Testing
import TestSupport
import Weights
@testable import Training

@Suite("Training: whole DreamBooth runs", .serialized)
struct DreamBoothTrainerTests {
    static let root = Fixtures.packageRoot

    /// A fresh folder with three small instance photos, and the configuration of a 4-step run.
    func setUp(_ extra: (inout TrainingConfiguration) -> Void = { _ in }) throws -> (URL, TrainingConfiguration) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dbtrain-run-\(UUID().uuidString.prefix(8))")
        let photos = folder.appendingPathComponent("photos")
        try FileManager.default.createDirectory(at: photos, withIntermediateDirectories: true)
        for i in 0..<3 {
            var pixels = [UInt8](repeating: 0, count: (70 + 10 * i) * 72 * 3)
            for p in 0..<pixels.count { pixels[p] = UInt8(truncatingIfNeeded: p * (7 + i) / 5) }
            try ImageFile.encode(RGBImage(width: 70 + 10 * i, height: 72, pixels: pixels), format: .png)
                .write(to: photos.appendingPathComponent("dog\(i).png"))
        }
        var c = TrainingConfiguration(pretrainedModelNameOrPath: Self.root.appendingPathComponent("models/tiny").path,
                                      instanceDataDir: photos.path, instancePrompt: "a photo of sks dog")
        c.outputDir = folder.appendingPathComponent("out").path
        c.withPriorPreservation = true
        c.classDataDir = folder.appendingPathComponent("class").path
        c.classPrompt = "a photo of dog"
        c.numClassImages = 2
        c.resolution = 64
        c.trainBatchSize = 1
        c.trainTextEncoder = true
        c.learningRate = 1e-4
        c.lrWarmupSteps = 0
        c.maxTrainSteps = 4
        c.checkpointingSteps = 1
        c.checkpointsTotalLimit = 2
        c.seed = 7
        extra(&c)
        try c.validate()
        return (folder, c)
    }

    @Test("a run writes logs, limited checkpoints, validation images and a model folder that renders")
    func fullRun() throws {
        let (folder, c) = try setUp { $0.validationPrompt = "a photo of sks dog"; $0.validationSteps = 2; $0.numValidationImages = 1 }
        defer { try? FileManager.default.removeItem(at: folder) }
        var events: [TrainerEvent] = []
        try DreamBoothTrainer(configuration: c).run(report: { events.append($0) })
        let out = URL(fileURLWithPath: c.outputDir)

        let log = try TrainingLog.read(out.appendingPathComponent("train_log.jsonl"))
        #expect(log.map(\.step) == [1, 2, 3, 4])
        #expect(log.allSatisfy { $0.loss.isFinite && $0.loss > 0 && $0.priorLoss != nil && $0.lr == 1e-4 && $0.gradNorm > 0 })
        let boardFolder = out.appendingPathComponent("logs/dreambooth")
        let boardFile = try #require(try FileManager.default.contentsOfDirectory(atPath: boardFolder.path).first)
        let scalars = try readTensorBoardEvents(boardFolder.appendingPathComponent(boardFile)).flatMap { event in
            event.scalars.map { (event.step, $0.tag, $0.value) }
        }
        #expect(scalars.filter { $0.1 == "loss" }.map(\.0) == [1, 2, 3, 4])
        #expect(scalars.filter { $0.1 == "loss" }.map(\.2) == log.map { Float($0.loss) })
        // Validation images are in TensorBoard too, as PNGs that decode to the files' pixels.
        let images = try readTensorBoardEvents(boardFolder.appendingPathComponent(boardFile)).flatMap { event in
            event.images.map { (event.step, $0.tag, $0.image) }
        }
        #expect(images.map(\.0) == [2, 4] && images.allSatisfy { $0.1 == "validation/0" && $0.2.width == 64 && $0.2.height == 64 })
        let fromBoard = try ImageFile.decode(Data(try #require(images.last).2.png)).image
        let fromFile = try ImageFile.decode(contentsOf: out.appendingPathComponent("validation/step-4-0.png")).image
        #expect(fromBoard.pixels == fromFile.pixels)

        // Checkpoints at steps 1, 2 and 3 (the last step writes the model instead), at most two kept.
        #expect(TrainingCheckpoint.list(in: out).map(\.step) == [2, 3])
        #expect(try FileManager.default.contentsOfDirectory(atPath: c.classDataDir!).filter { $0.hasSuffix(".png") }.count == 2)
        let validation = try FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent("validation").path).sorted()
        #expect(validation == ["step-2-0.png", "step-4-0.png"])

        // The model folder: our loader renders with it, and its UNet and text encoder moved.
        let trained = try ModelCheckpoint.open(out)
        #expect(trained.layout == .diffusers)
        let pipeline = try StableDiffusionPipeline(checkpoint: trained)
        var request = RenderRequest(prompt: "a photo of sks dog", seed: 1)
        request.steps = 2
        #expect(try pipeline.render(request).first?.image.width == 64)
        let original = try ModelCheckpoint.open(Self.root.appendingPathComponent("models/tiny"))
        for component in [ModelComponent.unet, .textEncoder] {
            let key = component == .unet ? "conv_in.weight" : "final_layer_norm.weight"
            let before = try original.source(component).parameter(key, shape: try #require(trained.source(component).storedShape(key)), initializer: .zeros)
            let after = try trained.source(component).parameter(key, shape: before.shape, initializer: .zeros)
            #expect(before.scalars != after.scalars, "\(component.rawValue) \(key) did not change")
        }
        let vaeKey = "decoder.conv_out.weight"
        let vaeBefore = try original.source(.vae).parameter(vaeKey, shape: try #require(trained.source(.vae).storedShape(vaeKey)), initializer: .zeros)
        #expect(try trained.source(.vae).parameter(vaeKey, shape: vaeBefore.shape, initializer: .zeros).scalars == vaeBefore.scalars,
                "the VAE is frozen")
        if case .finished = events.last {} else { Issue.record("no finished event: \(String(describing: events.last))") }
    }

    @Test("a run stopped after two steps and resumed ends with the uninterrupted run's weights, bit for bit (with use_ema too)",
          arguments: [false, true])
    func resumeIsExact(useEma: Bool) throws {
        var (straightFolder, straight) = try setUp()
        defer { try? FileManager.default.removeItem(at: straightFolder) }
        straight.useEma = useEma
        straight.emaDecay = 0.9
        try DreamBoothTrainer(configuration: straight).run()

        var (folder, c) = try setUp()
        defer { try? FileManager.default.removeItem(at: folder) }
        c.useEma = useEma
        c.emaDecay = 0.9
        var steps = 0
        try DreamBoothTrainer(configuration: c).run(isCancelled: { steps >= 2 }, report: { event in
            if case .step = event { steps += 1 }
        })
        #expect(TrainingCheckpoint.list(in: URL(fileURLWithPath: c.outputDir)).last?.step == 2)
        let emaFile = URL(fileURLWithPath: c.outputDir).appendingPathComponent("checkpoint-2/\(TrainingCheckpoint.emaFileName)")
        #expect(FileManager.default.fileExists(atPath: emaFile.path) == useEma)
        var resumedFrom: Int?
        try DreamBoothTrainer(configuration: c).run(resume: true, report: { event in
            if case let .resumed(_, step) = event { resumedFrom = step }
        })
        #expect(resumedFrom == 2)
        let log = try TrainingLog.read(URL(fileURLWithPath: c.outputDir).appendingPathComponent("train_log.jsonl"))
        let straightLog = try TrainingLog.read(URL(fileURLWithPath: straight.outputDir).appendingPathComponent("train_log.jsonl"))
        #expect(log.map(\.step) == [1, 2, 3, 4])
        #expect(log.map(\.loss) == straightLog.map(\.loss) && log.map(\.gradNorm) == straightLog.map(\.gradNorm))
        for (component, file) in [("unet", "diffusion_pytorch_model.safetensors"), ("text_encoder", "model.safetensors")] {
            let a = try Data(contentsOf: URL(fileURLWithPath: straight.outputDir).appendingPathComponent("\(component)/\(file)"))
            let b = try Data(contentsOf: URL(fileURLWithPath: c.outputDir).appendingPathComponent("\(component)/\(file)"))
            #expect(a == b, "\(component) weights differ after resuming")
        }
    }

    @Test("a run from a single-file base trains exactly as from the folder; its model folder carries SD 1.x's scheduler config")
    func singleFileBase() throws {
        let tiny = Self.root.appendingPathComponent("models/tiny")
        let (folderRun, fromFolder) = try setUp { $0.maxTrainSteps = 2 }
        defer { try? FileManager.default.removeItem(at: folderRun) }
        try DreamBoothTrainer(configuration: fromFolder).run()
        let file = folderRun.appendingPathComponent("tiny.safetensors")
        try SingleFileWriter.write(try ModelCheckpoint.open(tiny), to: file)
        let (singleRun, fromFile) = try setUp { $0.maxTrainSteps = 2; $0.pretrainedModelNameOrPath = file.path }
        defer { try? FileManager.default.removeItem(at: singleRun) }
        try DreamBoothTrainer(configuration: fromFile, singleFileConfigurations: try ModelCheckpoint.open(tiny).configurations).run()

        // Same class images (rendered by the pipeline on SD 1.x's schedule), same noising, same steps.
        func files(_ folder: String) throws -> [Data] {
            try FileManager.default.contentsOfDirectory(atPath: folder).sorted().map { try Data(contentsOf: URL(fileURLWithPath: folder).appendingPathComponent($0)) }
        }
        #expect(try files(fromFile.classDataDir!) == files(fromFolder.classDataDir!), "class images differ")
        let a = try TrainingLog.read(URL(fileURLWithPath: fromFolder.outputDir).appendingPathComponent("train_log.jsonl"))
        let b = try TrainingLog.read(URL(fileURLWithPath: fromFile.outputDir).appendingPathComponent("train_log.jsonl"))
        #expect(a.count == 2 && a.map(\.loss) == b.map(\.loss) && a.map(\.priorLoss) == b.map(\.priorLoss) && a.map(\.gradNorm) == b.map(\.gradNorm))
        let trained = URL(fileURLWithPath: fromFile.outputDir)
        #expect(try Data(contentsOf: trained.appendingPathComponent("unet/diffusion_pytorch_model.safetensors"))
                == Data(contentsOf: URL(fileURLWithPath: fromFolder.outputDir).appendingPathComponent("unet/diffusion_pytorch_model.safetensors")))
        // The written folder says which schedule it was trained on: SD 1.x's, not a class default.
        let written = try Data(contentsOf: trained.appendingPathComponent("scheduler/scheduler_config.json"))
        #expect(written == Data(RandomModelFolder.schedulerConfig.utf8))
        let reopened = try ModelCheckpoint.open(trained)
        #expect(reopened.schedulerConfigurationSource == .model)
        #expect(try reopened.schedulerConfiguration() == .stableDiffusion1)
        #expect(reopened.tokenizerSource == .model)
    }

    @Test("resuming from a checkpoint that does not exist names it")
    func missingCheckpoint() throws {
        let (folder, c) = try setUp { $0.resumeFromCheckpoint = "checkpoint-99"; $0.withPriorPreservation = false; $0.classDataDir = nil; $0.classPrompt = nil }
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(throws: CheckpointError.self) { try DreamBoothTrainer(configuration: c).run() }
    }

    @Test("the dbtrain binary trains from a YAML file with overrides, and names a bad setting")
    func binary() throws {
        let (folder, c) = try setUp()
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = try Self.writeYAML(c, in: folder, extra: "max_train_steps: 5")
        let run = try Self.dbtrain(["--config", config.path, "--max_train_steps", "2", "--lr_warmup_steps", "0"])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("step 2/2") && run.output.contains("wrote the trained model"), "\(run.output)")
        #expect(FileManager.default.fileExists(atPath: URL(fileURLWithPath: c.outputDir).appendingPathComponent("unet/config.json").path))
        let bad = try Self.dbtrain(["--config", config.path, "--learning_rat", "1"])
        #expect(bad.status != 0 && bad.output.contains("learning_rat: unknown setting (did you mean learning_rate?)"), "\(bad.output)")
    }

    @Test("Ctrl-C stops the dbtrain binary with a checkpoint and exit 130; --resume finishes the run")
    func binaryInterrupt() throws {
        let (folder, c) = try setUp { $0.withPriorPreservation = false; $0.classDataDir = nil; $0.classPrompt = nil }
        defer { try? FileManager.default.removeItem(at: folder) }
        let config = try Self.writeYAML(c, in: folder, extra: "max_train_steps: 100000\ncheckpointing_steps: 100000")
        let process = Process()
        process.executableURL = Fixtures.builtProduct("dbtrain")
        process.arguments = ["--config", config.path]
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = pipe
        try process.run()
        let log = URL(fileURLWithPath: c.outputDir).appendingPathComponent("train_log.jsonl")
        let deadline = Date().addingTimeInterval(300)
        while ((try? TrainingLog.read(log).count) ?? 0) < 3 && Date() < deadline && process.isRunning {
            Thread.sleep(forTimeInterval: 0.05)
        }
        kill(process.processIdentifier, SIGINT)
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 130, "\(output)")
        #expect(output.contains("interrupted; resume with --resume"), "\(output)")
        let saved = try #require(TrainingCheckpoint.list(in: URL(fileURLWithPath: c.outputDir)).last)
        let loggedSteps = try TrainingLog.read(log).count
        #expect(saved.step >= 3 && saved.step == loggedSteps)
        let resumed = try Self.dbtrain(["--config", config.path, "--resume", "--max_train_steps", "\(saved.step + 2)"])
        #expect(resumed.status == 0 && resumed.output.contains("resumed from") && resumed.output.contains("wrote the trained model"),
                "\(resumed.output)")
        let finalSteps = try TrainingLog.read(log).map(\.step)
        #expect(finalSteps == Array(1...(saved.step + 2)))
    }

    /// `train.yaml` in `folder` for a plain run of `c`'s model, photos and output (seed 3, 64 px,
    /// batch 1), plus the `extra` lines.
    static func writeYAML(_ c: TrainingConfiguration, in folder: URL, extra: String) throws -> URL {
        let yaml = """
            pretrained_model_name_or_path: \(c.pretrainedModelNameOrPath)
            output_dir: \(c.outputDir)
            instance_data_dir: \(c.instanceDataDir)
            instance_prompt: a photo of sks dog
            resolution: 64
            train_batch_size: 1
            seed: 3

            """ + extra
        let config = folder.appendingPathComponent("train.yaml")
        try Data(yaml.utf8).write(to: config)
        return config
    }

    static func dbtrain(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try runProcess(Fixtures.builtProduct("dbtrain"), arguments)
    }
}
