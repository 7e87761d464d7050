// Opening an SD 1.x model as users have it: a diffusers folder (model_index.json, unet/, vae/,
// text_encoder/, tokenizer/, scheduler/) or a single original-layout file (.safetensors or .ckpt).
// The result is one parameter source per component plus the component configurations.
import Foundation
import Tensor

/// The configurations of the three networks.
public struct ModelConfigurations: Equatable, Sendable {
    public var unet: UNetConfiguration
    public var vae: AutoencoderConfiguration
    public var textEncoder: CLIPTextConfiguration

    public init(unet: UNetConfiguration, vae: AutoencoderConfiguration, textEncoder: CLIPTextConfiguration) {
        self.unet = unet; self.vae = vae; self.textEncoder = textEncoder
    }

    public static let sd15 = ModelConfigurations(unet: .sd15, vae: .sd15, textEncoder: .sd15)
    public static let tiny = ModelConfigurations(unet: .tiny, vae: .tiny, textEncoder: .tiny)
}

/// An opened model: configurations, parameter sources, and where its side files are.
public final class ModelCheckpoint: @unchecked Sendable {
    /// How the weights are laid out on disk.
    public enum Layout: String, Sendable {
        case diffusers
        case singleFileSafetensors = "single-file safetensors"
        case singleFileCheckpoint = "single-file ckpt"
    }

    public let url: URL
    public let layout: Layout
    public let configurations: ModelConfigurations
    public let sources: [ModelComponent: CheckpointParameterSource]
    /// Keys of a single file that belong to no component (EMA weights, optimizer state, buffers).
    public let skippedKeys: [String]
    /// `tokenizer/` of a diffusers folder; nil for single files (they carry no tokenizer).
    public let tokenizerDirectory: URL?
    /// `scheduler/scheduler_config.json` of a diffusers folder, when present.
    public let schedulerConfigURL: URL?
    /// The files the weights come from: the single file, or a folder's component files in
    /// `ModelComponent.allCases` order (what `ModelFingerprint` hashes).
    public var weightFiles: [URL] {
        var seen = Set<String>()
        return ModelComponent.allCases.compactMap { sources[$0]?.archivePaths }.joined()
            .filter { seen.insert($0).inserted }.map { URL(fileURLWithPath: $0) }
    }

    private init(url: URL, layout: Layout, configurations: ModelConfigurations,
                 sources: [ModelComponent: CheckpointParameterSource], skippedKeys: [String],
                 tokenizerDirectory: URL?, schedulerConfigURL: URL?) {
        self.url = url; self.layout = layout; self.configurations = configurations; self.sources = sources
        self.skippedKeys = skippedKeys; self.tokenizerDirectory = tokenizerDirectory; self.schedulerConfigURL = schedulerConfigURL
    }

    /// The parameter source of one component.
    public func source(_ component: ModelComponent) -> CheckpointParameterSource { sources[component]! }

    /// Opens a diffusers folder or a single checkpoint file.
    /// - Parameter configurations: for single files, which carry no configs (default: SD 1.5).
    ///   Ignored for folders, whose `config.json` files are read.
    public static func open(_ url: URL, configurations: ModelConfigurations? = nil) throws -> ModelCheckpoint {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw WeightsError.unreadableFile(path: url.path, reason: "no such file or directory")
        }
        return isDirectory.boolValue ? try openFolder(url) : try openSingleFile(url, configurations: configurations ?? .sd15)
    }

    // MARK: diffusers folder

    static func openFolder(_ directory: URL) throws -> ModelCheckpoint {
        let configurations = ModelConfigurations(
            unet: try ConfigurationFile.load(UNetConfiguration.self, from: directory.appendingPathComponent("unet/config.json")),
            vae: try ConfigurationFile.load(AutoencoderConfiguration.self, from: directory.appendingPathComponent("vae/config.json")),
            textEncoder: try ConfigurationFile.load(CLIPTextConfiguration.self, from: directory.appendingPathComponent("text_encoder/config.json")))
        var sources: [ModelComponent: CheckpointParameterSource] = [:]
        for component in ModelComponent.allCases {
            let archive = try openComponentArchive(directory, component)
            var locations: [String: CheckpointParameterSource.Location] = [:]
            for name in archive.tensorNames {
                let key = component == .textEncoder ? CheckpointLayout.canonicalTextEncoderKey(name) : name
                locations[key] = .init(archive: archive, name: name)
            }
            sources[component] = CheckpointParameterSource(component: component, locations: locations)
        }
        let tokenizer = directory.appendingPathComponent("tokenizer")
        let scheduler = directory.appendingPathComponent("scheduler/scheduler_config.json")
        return ModelCheckpoint(
            url: directory, layout: .diffusers, configurations: configurations, sources: sources, skippedKeys: [],
            tokenizerDirectory: FileManager.default.fileExists(atPath: tokenizer.path) ? tokenizer : nil,
            schedulerConfigURL: FileManager.default.fileExists(atPath: scheduler.path) ? scheduler : nil)
    }

    /// The weights file names diffusers and transformers write, in order of preference.
    static func weightFileNames(_ component: ModelComponent) -> [String] {
        let base = component == .textEncoder ? "model" : "diffusion_pytorch_model"
        return ["\(base).safetensors", "\(base).fp16.safetensors", "\(base).bin", "\(base).fp16.bin"]
    }

    static func openComponentArchive(_ directory: URL, _ component: ModelComponent) throws -> TensorArchive {
        let folder = directory.appendingPathComponent(component.rawValue)
        for name in weightFileNames(component) {
            let file = folder.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: file.path) else { continue }
            return try openArchive(file)
        }
        throw ModelLoadingError.missingWeightsFile(directory: folder.path, component: component.rawValue, tried: weightFileNames(component))
    }

    /// Opens a safetensors file, or a PyTorch zip checkpoint through the restricted unpickler.
    static func openArchive(_ file: URL) throws -> TensorArchive {
        let ext = file.pathExtension.lowercased()
        if ext == "safetensors" { return try SafetensorsFile(contentsOf: file) }
        if ["ckpt", "bin", "pt", "pth"].contains(ext) { return try TorchCheckpointFile(contentsOf: file) }
        throw ModelLoadingError.unknownArchitecture(file: file.path, reason: "unknown weights file type '.\(ext)' (expected .safetensors, .ckpt, .bin, .pt or .pth)")
    }

    // MARK: single file

    static func openSingleFile(_ file: URL, configurations: ModelConfigurations) throws -> ModelCheckpoint {
        let archive = try openArchive(file)
        let names = archive.tensorNames
        if names.contains(where: { $0.hasPrefix("cond_stage_model.model.") }) {
            throw ModelLoadingError.unknownArchitecture(file: file.path, reason: "it has an OpenCLIP text encoder (SD 2.x)")
        }
        if names.contains(where: { $0.hasPrefix("conditioner.embedders.") }) {
            throw ModelLoadingError.unknownArchitecture(file: file.path, reason: "it has two text encoders (SDXL)")
        }
        guard names.contains(where: { $0.hasPrefix(CheckpointLayout.unetPrefix) }) else {
            throw ModelLoadingError.unknownArchitecture(file: file.path, reason: "it has no model.diffusion_model.* tensors")
        }
        let layout = CheckpointLayout(unet: configurations.unet, vae: configurations.vae)
        var locations: [ModelComponent: [String: CheckpointParameterSource.Location]] = [:]
        var skipped: [String] = []
        for name in names {
            guard let (component, key) = layout.diffusersKey(forOriginal: name) else {
                skipped.append(name)
                continue
            }
            locations[component, default: [:]][key] = .init(archive: archive, name: name)
        }
        var sources: [ModelComponent: CheckpointParameterSource] = [:]
        for component in ModelComponent.allCases {
            sources[component] = CheckpointParameterSource(component: component, locations: locations[component] ?? [:])
        }
        return ModelCheckpoint(
            url: file, layout: file.pathExtension.lowercased() == "safetensors" ? .singleFileSafetensors : .singleFileCheckpoint,
            configurations: configurations, sources: sources, skippedKeys: skipped.sorted(),
            tokenizerDirectory: nil, schedulerConfigURL: nil)
    }
}
