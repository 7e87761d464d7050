// Opening TAESD weights in the forms users have them:
//   - a diffusers folder (`madebyollin/taesd`): config.json + diffusion_pytorch_model.safetensors
//     (or .bin), keys `encoder.layers.N.…` and `decoder.layers.N.…`;
//   - one file with those keys;
//   - the original single files A1111 and ComfyUI use (`taesd_decoder.safetensors` / `.pth`,
//     `taesd_encoder.…`): one nn.Sequential each, keys `N.…`. The original decoder's Sequential
//     starts with its clamp (no parameters), so its index N is diffusers' N − 1; the encoder's
//     indices are diffusers'. Which one a file holds is read from its first convolution: 4 input
//     channels (latents) make a decoder, 3 (RGB) an encoder.
// The parameters come out under diffusers' keys, so that one model definition reads every form.
import Foundation

/// TAESD weights, opened: a configuration and diffusers-keyed parameters.
public struct TinyAutoencoderCheckpoint {
    public let url: URL
    public let configuration: TinyAutoencoderConfiguration
    public let source: CheckpointParameterSource
    /// Which halves the weights hold (an original single file holds one).
    public let hasEncoder: Bool
    public let hasDecoder: Bool

    /// Opens a folder, a diffusers-keyed file, or an original `taesd_encoder`/`taesd_decoder` file.
    /// - Throws: `WeightsError`/`ModelLoadingError` naming the file and what is wrong with it.
    public static func open(_ url: URL) throws -> TinyAutoencoderCheckpoint {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw WeightsError.unreadableFile(path: url.path, reason: "no such file or directory")
        }
        if isDirectory.boolValue {
            let configuration = try ConfigurationFile.load(TinyAutoencoderConfiguration.self, from: url.appendingPathComponent("config.json"))
            let tried = ModelCheckpoint.weightFileNames(.vae)
            guard let file = tried.map({ url.appendingPathComponent($0) }).first(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
                throw ModelLoadingError.missingWeightsFile(directory: url.path, component: "taesd", tried: tried)
            }
            let archive = try ModelCheckpoint.openArchive(file)
            return try TinyAutoencoderCheckpoint(url: url, configuration: configuration, archive: archive)
        }
        return try TinyAutoencoderCheckpoint(url: url, configuration: nil, archive: try ModelCheckpoint.openArchive(url))
    }

    /// - Parameter configuration: the folder's; nil for a single file, whose layout is read from its tensors.
    private init(url: URL, configuration: TinyAutoencoderConfiguration?, archive: TensorArchive) throws {
        self.url = url
        let names = archive.tensorNames
        var locations: [String: CheckpointParameterSource.Location] = [:]
        if names.contains(where: { $0.hasPrefix("encoder.layers.") || $0.hasPrefix("decoder.layers.") }) {
            for name in names { locations[name] = .init(archive: archive, name: name) }
        } else {
            let half = try Self.originalHalf(archive)
            for name in names {
                guard let dot = name.firstIndex(of: "."), let index = Int(name[..<dot]) else {
                    throw ModelLoadingError.unknownArchitecture(
                        file: archive.path, reason: "tensor '\(name)' is neither diffusers' (encoder.layers.…, decoder.layers.…) nor the original TAESD's (N.…)")
                }
                let diffusersIndex = half == "decoder" ? index - 1 : index
                locations["\(half).layers.\(diffusersIndex)\(name[dot...])"] = .init(archive: archive, name: name)
            }
        }
        guard !locations.isEmpty else {
            throw ModelLoadingError.unknownArchitecture(file: archive.path, reason: "it holds no tensors")
        }
        source = CheckpointParameterSource(component: .vae, locations: locations)
        hasEncoder = locations.keys.contains { $0.hasPrefix("encoder.") }
        hasDecoder = locations.keys.contains { $0.hasPrefix("decoder.") }
        self.configuration = try configuration ?? Self.inferredConfiguration(source, encoder: hasEncoder, decoder: hasDecoder)
    }

    /// A single file's configuration, read from its tensors: the width and the latent channels from
    /// the convolutions' shapes, the blocks per stage from the Sequential's order (a run of blocks
    /// between two stage convolutions is a stage). Anything not in the file keeps diffusers' default.
    static func inferredConfiguration(_ source: CheckpointParameterSource, encoder: Bool, decoder: Bool) throws
        -> TinyAutoencoderConfiguration {
        var c = TinyAutoencoderConfiguration()
        /// Modules of one half by Sequential index: true for a block, false for a plain convolution.
        func modules(_ half: String) -> [(index: Int, isBlock: Bool)] {
            var found: [Int: Bool] = [:]
            for key in source.keys where key.hasPrefix("\(half).layers.") {
                let rest = key.dropFirst("\(half).layers.".count)
                guard let dot = rest.firstIndex(of: "."), let index = Int(rest[..<dot]) else { continue }
                found[index] = (found[index] ?? false) || rest[dot...].hasPrefix(".conv.")
            }
            return found.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        }
        /// Blocks between consecutive plain convolutions.
        func runs(_ modules: [(index: Int, isBlock: Bool)]) -> [Int] {
            var counts: [Int] = []
            for m in modules { if m.isBlock { counts[counts.count - 1] += 1 } else { counts.append(0) } }
            return counts
        }
        func shape(_ key: String) throws -> [Int] {
            guard let s = source.storedShape(key), s.count == 4 else {
                throw ModelLoadingError.unknownArchitecture(file: source.archivePaths.first ?? "", reason: "'\(key)' is not a convolution weight")
            }
            return s
        }
        /// One half's Sequential: its first and last convolutions' shapes, its width per stage, and its
        /// blocks per stage (the final convolution closes the last stage).
        func layout(_ half: String) throws -> (first: [Int], last: [Int], widths: [Int], blocks: [Int]) {
            let m = modules(half)
            guard m.first?.isBlock == false, m.last?.isBlock == false else {
                throw ModelLoadingError.unknownArchitecture(file: source.archivePaths.first ?? "", reason: "its \(half) does not start and end with a convolution")
            }
            let first = try shape("\(half).layers.\(m[0].index).weight"), last = try shape("\(half).layers.\(m[m.count - 1].index).weight")
            let blocks = Array(runs(m).dropLast())
            return (first, last, Array(repeating: first[0], count: max(blocks.count, 1)), blocks)
        }
        if decoder {
            let d = try layout("decoder")
            (c.latentChannels, c.outChannels, c.decoderBlockOutChannels, c.numDecoderBlocks) = (d.first[1], d.last[0], d.widths, d.blocks)
        }
        if encoder {
            let e = try layout("encoder")
            (c.inChannels, c.latentChannels, c.encoderBlockOutChannels, c.numEncoderBlocks) = (e.first[1], e.last[0], e.widths, e.blocks)
        }
        do { try c.validate() } catch let error as ConfigurationError {
            throw error.inFile(source.archivePaths.first ?? "")
        }
        return c
    }

    /// "encoder" or "decoder": what an original single file holds, from its first convolution's
    /// input channels.
    private static func originalHalf(_ archive: TensorArchive) throws -> String {
        let first = archive.tensorNames
            .compactMap { name -> (Int, String)? in
                guard name.hasSuffix(".weight"), let dot = name.firstIndex(of: "."), let i = Int(name[..<dot]) else { return nil }
                return (i, name)
            }
            .min { $0.0 < $1.0 }
        guard let (_, name) = first, let shape = archive.shape(of: name), shape.count == 4 else {
            throw ModelLoadingError.unknownArchitecture(file: archive.path, reason: "it holds no TAESD convolution (N.weight of rank 4)")
        }
        switch shape[1] {
        case 4: return "decoder"
        case 3: return "encoder"
        default:
            throw ModelLoadingError.unknownArchitecture(
                file: archive.path, reason: "its first convolution '\(name)' takes \(shape[1]) channels: neither latents (4) nor RGB (3)")
        }
    }
}
