// Single-file checkpoints render what diffusers' `from_single_file` renders (issue 9): models/tiny
// written as one original-layout file must give, for every sampler, exactly the folder's image
// (same networks, and SD 1.x's scheduler configuration standing in for the file it lacks) and
// diffusers' image within the pipeline bound (fixture: Tests/Fixtures/make_single_file_fixtures.py).
// Before the fix, single files took each scheduler's bare class defaults (linear betas,
// steps_offset 0) and these images differed. Also: what else a single file lacks, and what stands in.
import Foundation
import ImageIO
import Models
import Testing
import Sampling
import Tensor
import TestSupport
import Weights

private let fixture = try! Fixtures.open("single_file_pipeline")
private let tinyFolder = Fixtures.packageRoot.appendingPathComponent("models/tiny")

/// models/tiny as one original-layout .safetensors, written once for the suite.
private let singleFile: URL = {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("tiny-single-\(getpid()).safetensors")
    try! SingleFileWriter.write(try! ModelCheckpoint.open(tinyFolder), to: url)
    return url
}()

@Suite("Single-file checkpoints: the scheduler, tokenizer and images of from_single_file")
struct SingleFileCheckpointTests {
    static let folder = try! ModelCheckpoint.open(tinyFolder)
    static let single = try! ModelCheckpoint.open(singleFile, configurations: folder.configurations)

    @Test("a single file's scheduler configuration is SD 1.x's, equal to the folder's hub config")
    func schedulerConfiguration() throws {
        #expect(Self.single.layout == .singleFileSafetensors)
        #expect(Self.single.schedulerConfigurationSource == .stableDiffusion1Default)
        #expect(Self.folder.schedulerConfigurationSource == .model)
        let config = try Self.single.schedulerConfiguration()
        #expect(config == .stableDiffusion1)
        #expect(config == (try Self.folder.schedulerConfiguration()), "models/tiny carries SD 1.5's hub scheduler_config.json")
        #expect(config.betaSchedule == "scaled_linear" && config.betaStart == 0.00085 && config.betaEnd == 0.012
                && config.stepsOffset == 1 && config.timestepSpacing == nil && config.predictionType == nil)
        // Absent keys resolve per class as diffusers' from_config does: PNDM/DDIM "leading", Euler "linspace".
        let pndm = try SchedulerFactory.make(name: "pndm", configuration: config, steps: 10)
        let euler = try SchedulerFactory.make(name: "euler", configuration: config, steps: 10)
        #expect(pndm.timesteps.first == 901 && euler.timesteps.first == 999)
    }

    @Test("a single file renders the folder's image exactly, and diffusers' from_single_file image",
          arguments: ["ddim", "pndm", "euler", "euler_a", "dpmpp_2m", "dpmpp_2m_karras", "heun", "lms"])
    func renders(_ sampler: String) throws {
        let c = fixture["config"].scalars  // steps, guidance, seed
        let request = RenderRequest.fixture(sampler: sampler, steps: c[0], guidance: c[1], seed: c[2])
        let fromFile = try StableDiffusionPipeline(checkpoint: Self.single).render(request)[0].image.pixels
        let fromFolder = try StableDiffusionPipeline(checkpoint: Self.folder).render(request)[0].image.pixels
        #expect(fromFile == fromFolder, "\(sampler): the single file and the folder differ")
        let agreement = ImageAgreement(fromFile, fixture["\(sampler).image"].scalars)
        #expect(agreement.matchesReference, "\(sampler): \(agreement)")
    }

    @Test("a single file's tokenizer is the bundled CLIP ViT-L/14 vocabulary, as the folder's")
    func tokenizer() throws {
        #expect(Self.single.tokenizerSource == .stableDiffusion1Default && Self.folder.tokenizerSource == .model)
        let ids = try Self.single.tokenizer().tokenize("a photo of sks dog").ids
        #expect(Array(ids.prefix(7)) == [49406, 320, 1125, 539, 48136, 1929, 49407] && ids.count == 77 && ids.last == 49407)
        #expect(ids == (try Self.folder.tokenizer().tokenize("a photo of sks dog").ids))
    }

    @Test("a single file's network configurations are SD 1.5's presets: VAE scaling 0.18215, 8× latents")
    func networkDefaults() throws {
        let sd15 = try ModelCheckpoint.open(singleFile)  // no configurations given: SD 1.5 is assumed
        #expect(sd15.configurations == .sd15)
        #expect(sd15.configurations.vae.scalingFactor == 0.18215 && sd15.configurations.vae.downsamplingFactor == 8)
        #expect(sd15.configurations.textEncoder.hiddenAct == "quick_gelu" && sd15.configurations.unet.crossAttentionDim == 768)
    }

    @Test("a folder without scheduler/ gets SD 1.x's configuration, said so; a folder's own file wins")
    func folderSchedulerFile() throws {
        let fm = FileManager.default
        let folder = fm.temporaryDirectory.appendingPathComponent("model-\(UUID().uuidString.prefix(8))")
        try fm.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: folder) }
        for name in ["unet", "vae", "text_encoder", "tokenizer", "model_index.json"] {
            try fm.createSymbolicLink(at: folder.appendingPathComponent(name), withDestinationURL: tinyFolder.appendingPathComponent(name))
        }
        let bare = try ModelCheckpoint.open(folder)
        #expect(bare.schedulerConfigurationSource == .stableDiffusion1Default)
        #expect(try bare.schedulerConfiguration() == .stableDiffusion1)
        try fm.createDirectory(at: folder.appendingPathComponent("scheduler"), withIntermediateDirectories: true)
        let own = Data(#"{"timestep_spacing": "trailing", "num_train_timesteps": 1000, "prediction_type": "v_prediction"}"#.utf8)
        try own.write(to: folder.appendingPathComponent("scheduler/scheduler_config.json"))
        let withFile = try ModelCheckpoint.open(folder)
        #expect(withFile.schedulerConfigurationSource == .model)
        #expect(try withFile.schedulerConfigurationFile() == own)
        let config = try withFile.schedulerConfiguration()
        #expect(config.timestepSpacing == "trailing" && config.predictionType == "v_prediction" && config.betaSchedule == nil)
        // A malformed file is an error that names it, never a silent fall-back.
        try Data("{ nope".utf8).write(to: folder.appendingPathComponent("scheduler/scheduler_config.json"))
        #expect { try ModelCheckpoint.open(folder).schedulerConfiguration() } throws: { error in
            "\(error)".contains("scheduler_config.json")
        }
    }

    @Test("the single file we write reads back to the folder's tensors under the original names")
    func writerRoundTrip() throws {
        let file = try SafetensorsFile(contentsOf: singleFile)
        #expect(file.tensorNames.allSatisfy {
            $0.hasPrefix("model.diffusion_model.") || $0.hasPrefix("first_stage_model.") || $0.hasPrefix("cond_stage_model.transformer.text_model.")
        })
        #expect(file.entries["first_stage_model.decoder.mid.attn_1.q.weight"]?.shape.count == 4, "LDM's VAE attention is 1×1 conv")
        for component in ModelComponent.allCases {
            let a = Self.folder.source(component), b = Self.single.source(component)
            #expect(a.keys == b.keys, "\(component)")
            for key in a.keys { #expect(try a.storedTensor(key).scalars == b.storedTensor(key).scalars, "\(component) \(key)") }
        }
    }
}

@Suite("Determinism: a render gives the same bytes at any thread count")
struct RenderDeterminismTests {
    @Test("the same request renders the same pixels with 1, 2 and 3 threads", arguments: ["euler_a", "dpmpp_2m"])
    func threadCounts(_ sampler: String) throws {
        let pipeline = try StableDiffusionPipeline(checkpoint: SingleFileCheckpointTests.folder)
        var request = RenderRequest(prompt: "a photo of sks dog", seed: 1234)
        request.sampler = sampler
        request.steps = 6
        request.count = 2
        request.width = 64
        request.height = 64
        let saved = ThreadPool.shared.threads
        defer { ThreadPool.shared.configure(threads: saved) }
        var renders: [[[UInt8]]] = []
        for threads in [1, 2, 3] {
            ThreadPool.shared.configure(threads: threads)
            renders.append(try pipeline.render(request).map(\.image.pixels))
        }
        #expect(renders[1] == renders[0] && renders[2] == renders[0])
    }
}
