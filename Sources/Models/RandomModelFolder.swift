// Writes a randomly initialised SD 1.x model folder in diffusers layout (`dbtrain init`): configs,
// safetensors weights initialised as PyTorch would, the standard CLIP tokenizer files and the SD 1.x
// scheduler config — a folder that our loader and diffusers' `from_pretrained` both read.
import Foundation
import Tensor
import Weights

/// Random model folders for tests, benchmarks and the shipped demo model.
public enum RandomModelFolder {
    /// Named architectures.
    public enum Preset: String, CaseIterable, Sendable {
        case sd15
        case tiny
        /// The shapes-world demo model's architecture (models/shapes).
        case shapes

        public var configurations: ModelConfigurations {
            switch self {
            case .sd15: .sd15
            case .tiny: .tiny
            case .shapes: .shapes
            }
        }
    }

    /// What `write` produced.
    public struct Summary: Sendable {
        /// Parameter count per component.
        public let parameterCounts: [ModelComponent: Int]
    }

    /// Writes the folder `directory`, which must not exist or be empty. The folder is assembled
    /// beside it and renamed into place, so an interrupted run leaves nothing half-written.
    public static func write(_ configurations: ModelConfigurations, seed: UInt64, to directory: URL) throws -> Summary {
        let fm = FileManager.default
        if let contents = try? fm.contentsOfDirectory(atPath: directory.path), !contents.isEmpty {
            throw CocoaError(.fileWriteFileExists, userInfo: [NSFilePathErrorKey: directory.path,
                             NSLocalizedDescriptionKey: "\(directory.path) exists and is not empty"])
        }
        let staging = directory.deletingLastPathComponent()
            .appendingPathComponent(".\(directory.lastPathComponent).partial-\(getpid())")
        try? fm.removeItem(at: staging)
        try fm.createDirectory(at: staging, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: staging) }

        var counts: [ModelComponent: Int] = [:]
        // One generator stream per component, so that a component's weights do not depend on the
        // size of the others.
        func build(_ component: ModelComponent, offset: UInt64, _ make: (RandomParameterSource) throws -> Void) throws -> [(name: String, tensor: Tensor)] {
            let source = RandomParameterSource(seed: seed &* 1_000_003 &+ offset)
            try make(source)
            counts[component] = source.parameters.reduce(0) { $0 + $1.tensor.count }
            return source.parameters.map { (name: $0.key, tensor: $0.tensor) }
        }
        let unet = try build(.unet, offset: 1) { _ = try UNet2DCondition(configuration: configurations.unet, parameters: $0) }
        try writeComponent("unet", file: "diffusion_pytorch_model.safetensors", tensors: unet,
                           config: try ConfigurationFile.encode(configurations.unet), in: staging)
        let vae = try build(.vae, offset: 2) { _ = try AutoencoderKL(configuration: configurations.vae, parameters: $0) }
        try writeComponent("vae", file: "diffusion_pytorch_model.safetensors", tensors: vae,
                           config: try ConfigurationFile.encode(configurations.vae), in: staging)
        let text = try build(.textEncoder, offset: 3) { _ = try CLIPTextEncoder(configuration: configurations.textEncoder, parameters: $0) }
        try writeComponent("text_encoder", file: "model.safetensors", tensors: text,
                           config: try ConfigurationFile.encode(configurations.textEncoder), in: staging)

        let tokenizer = staging.appendingPathComponent("tokenizer")
        try fm.createDirectory(at: tokenizer, withIntermediateDirectories: true)
        let vocabulary = try CLIPTokenizer.bundledVocabularyDirectory()
        for name in ["vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"] {
            try fm.copyItem(at: vocabulary.appendingPathComponent(name), to: tokenizer.appendingPathComponent(name))
        }
        let scheduler = staging.appendingPathComponent("scheduler")
        try fm.createDirectory(at: scheduler, withIntermediateDirectories: true)
        try Data(schedulerConfig.utf8).write(to: scheduler.appendingPathComponent("scheduler_config.json"))
        try Data(modelIndex.utf8).write(to: staging.appendingPathComponent("model_index.json"))

        if fm.fileExists(atPath: directory.path) { try fm.removeItem(at: directory) }  // empty, checked above
        try fm.moveItem(at: staging, to: directory)
        return Summary(parameterCounts: counts)
    }

    /// Writes `<root>/<name>/config.json` and `<root>/<name>/<file>` (safetensors, diffusers keys).
    /// Weights are stored as `dtype` (fp32, or halves rounded to nearest even).
    public static func writeComponent(_ name: String, file: String, tensors: [(name: String, tensor: Tensor)],
                                      config: Data, in root: URL, dtype: SafetensorsDType = .f32) throws {
        let folder = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try config.write(to: folder.appendingPathComponent("config.json"))
        try SafetensorsWriter.write(tensors, metadata: ["format": "pt"], to: folder.appendingPathComponent(file), dtype: dtype)
    }

    /// SD 1.5's scheduler config as its model folders carry it.
    public static let schedulerConfig = """
        {
          "_class_name": "PNDMScheduler",
          "beta_end": 0.012,
          "beta_schedule": "scaled_linear",
          "beta_start": 0.00085,
          "clip_sample": false,
          "num_train_timesteps": 1000,
          "set_alpha_to_one": false,
          "skip_prk_steps": true,
          "steps_offset": 1,
          "trained_betas": null
        }

        """

    /// The pipeline index diffusers' `from_pretrained` reads (no safety checker, as DreamBooth outputs ship).
    public static let modelIndex = """
        {
          "_class_name": "StableDiffusionPipeline",
          "feature_extractor": [null, null],
          "requires_safety_checker": false,
          "safety_checker": [null, null],
          "scheduler": ["diffusers", "PNDMScheduler"],
          "text_encoder": ["transformers", "CLIPTextModel"],
          "tokenizer": ["transformers", "CLIPTokenizer"],
          "unet": ["diffusers", "UNet2DConditionModel"],
          "vae": ["diffusers", "AutoencoderKL"]
        }

        """
}

extension CLIPTokenizer {
    /// The folder of the bundled standard CLIP vocabulary (vocab.json, merges.txt, configs).
    public static func bundledVocabularyDirectory() throws -> URL {
        guard let folder = Bundle.module.url(forResource: "clip-vocabulary", withExtension: nil) else {
            throw CLIPTokenizerError.missingBundledVocabulary
        }
        return folder
    }
}
