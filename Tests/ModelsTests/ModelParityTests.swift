// Parity of the three networks with diffusers / transformers on tiny random configurations
// (fixtures: Tests/Fixtures/make_model_fixtures.py). Two configurations per network.
//
// Tolerance: 2e-5 of the output's scale (measured: 0.3–1.8e-6). Each output is the end of a few
// hundred fp32 operations whose summation order differs from PyTorch's (BLAS blocking, our tiled
// attention), which moves results by ~1e-7 relative per layer; 2e-5 leaves room for that only.
import Foundation
import Testing
import Models
import Tensor
import TestSupport
import Weights

private let parityTolerance: Float = 2e-5

@Suite("UNet2DCondition parity")
struct UNetParityTests {
    @Test("batch of 2 at two different timesteps matches diffusers", arguments: ["unet_a", "unet_b"])
    func parity(_ name: String) throws {
        let configuration = try Fixtures.configuration(UNetConfiguration.self, name)
        let unet = try UNet2DCondition(configuration: configuration, parameters: try Fixtures.parameters(name, component: .unet))
        let io = try Fixtures.modelIO(name)
        let output = unet(io["sample"], timesteps: io["timesteps"].scalars, context: io["context"])
        #expect(output.shape == io["output"].shape)
        let d = difference(output, io["output"])
        #expect(d.relativeToScale < parityTolerance, "\(name): \(d)")
    }

    /// Long prompts (A1111's chunks) reach the UNet as contexts of 77·k tokens. Cross-attention over
    /// the same 77 keys twice is the same weighted average as over them once, so a doubled context must
    /// give the output of the original one, while zeros in the second half must change it: every key
    /// is read, in one softmax, and no part of the UNet assumes 77 tokens.
    @Test("a context of 154 tokens (the fixture's 77, twice) gives the output of the 77", arguments: ["unet_a", "unet_b"])
    func longContext(_ name: String) throws {
        let configuration = try Fixtures.configuration(UNetConfiguration.self, name)
        let unet = try UNet2DCondition(configuration: configuration, parameters: try Fixtures.parameters(name, component: .unet))
        let io = try Fixtures.modelIO(name)
        let context = io["context"]
        let (batch, tokens, channels) = (context.shape[0], context.shape[1], context.shape[2])
        let doubled = Tensor(zeros: [batch, 2 * tokens, channels])
        for b in 0..<batch {
            for copy in 0..<2 {
                (doubled.pointer + (b * 2 + copy) * tokens * channels).update(from: context.pointer + b * tokens * channels,
                                                                              count: tokens * channels)
            }
        }
        let once = unet(io["sample"], timesteps: io["timesteps"].scalars, context: context)
        let twice = unet(io["sample"], timesteps: io["timesteps"].scalars, context: doubled)
        #expect(twice.shape == once.shape)
        let d = difference(twice, once)
        #expect(d.relativeToScale < parityTolerance, "\(name): \(d)")
        // And the second 77 are read: zero tokens there (keys and values of zero) dilute the attention.
        for b in 0..<batch { (doubled.pointer + (b * 2 + 1) * tokens * channels).update(repeating: 0, count: tokens * channels) }
        let diluted = unet(io["sample"], timesteps: io["timesteps"].scalars, context: doubled)
        #expect(difference(diluted, once).relativeToScale > 1e-3, "\(name): tokens 77–153 seem ignored")
    }

    /// A batch whose rows have texts of different lengths (A1111: a two-chunk prompt beside a one-chunk
    /// negative prompt, which it runs as separate passes) is one call with a context length per row:
    /// row b must give what it gives in a call of its own, with only its own tokens.
    @Test("rows with contexts of different lengths give what each gives alone", arguments: ["unet_a", "unet_b"])
    func contextLengthPerRow(_ name: String) throws {
        let configuration = try Fixtures.configuration(UNetConfiguration.self, name)
        let unet = try UNet2DCondition(configuration: configuration, parameters: try Fixtures.parameters(name, component: .unet))
        let io = try Fixtures.modelIO(name)
        let (sample, timesteps, context) = (io["sample"], io["timesteps"].scalars, io["context"])
        let (batch, tokens, channels) = (context.shape[0], context.shape[1], context.shape[2])
        // Row b's text: the fixture's context then b extra copies of it (1, 2, … chunks); padding is noise.
        var random = TestRandom(seed: 3)
        let padded = random.tensor([batch, batch * tokens, channels])
        let lengths = (0..<batch).map { ($0 + 1) * tokens }
        for b in 0..<batch {
            for copy in 0..<(b + 1) {
                (padded.pointer + (b * batch + copy) * tokens * channels).update(from: context.pointer + b * tokens * channels,
                                                                                  count: tokens * channels)
            }
        }
        let batched = unet(sample, timesteps: timesteps, context: padded, contextLengths: lengths)
        // Bound: what batching alone may move (sgemm's blocking follows the batch); unmasked noise
        // tokens would move rows by whole percents.
        for b in 0..<batch {
            let own = padded[b].slice(0..<lengths[b]).copy().reshaped([1, lengths[b], channels])
            let alone = unet(sample.slice(b..<(b + 1)).copy(), timesteps: [timesteps[b]], context: own)
            let d = difference(batched.slice(b..<(b + 1)).copy(), alone)
            #expect(d.relativeToScale < 1e-5, "\(name) row \(b): \(d)")
        }
    }

    @Test("every parameter in the checkpoint is used (the module tree mirrors diffusers)", arguments: ["unet_a", "unet_b"])
    func usesEveryKey(_ name: String) throws {
        let source = try Fixtures.parameters(name, component: .unet)
        _ = try UNet2DCondition(configuration: try Fixtures.configuration(UNetConfiguration.self, name), parameters: source)
        #expect(source.unusedKeys.isEmpty, "unused: \(source.unusedKeys.prefix(5))")
    }
}

@Suite("AutoencoderKL parity")
struct AutoencoderParityTests {
    @Test("encode (mean, log-variance) and decode match diffusers", arguments: ["vae_a", "vae_b"])
    func parity(_ name: String) throws {
        let vae = try AutoencoderKL(configuration: try Fixtures.configuration(AutoencoderConfiguration.self, name),
                                    parameters: try Fixtures.parameters(name, component: .vae))
        let io = try Fixtures.modelIO(name)
        let (mean, logVariance) = vae.encode(io["image"])
        #expect(difference(mean, io["mean"]).relativeToScale < parityTolerance, "\(name) mean: \(difference(mean, io["mean"]))")
        #expect(difference(logVariance, io["logvar"]).relativeToScale < parityTolerance, "\(name) logvar")
        let decoded = vae.decode(io["latents"])
        #expect(decoded.shape == io["decoded"].shape)
        #expect(difference(decoded, io["decoded"]).relativeToScale < parityTolerance, "\(name) decode: \(difference(decoded, io["decoded"]))")
    }
}

@Suite("CLIPTextEncoder parity")
struct CLIPTextEncoderParityTests {
    private func ids(_ io: FixtureFile) -> [[Int]] {
        let t = io["ids"]
        return (0..<t.shape[0]).map { b in (0..<t.shape[1]).map { Int(t[[b, $0]]) } }
    }

    @Test("hidden states and clip skip 2 match transformers", arguments: ["clip_a", "clip_b"])
    func parity(_ name: String) throws {
        let encoder = try CLIPTextEncoder(configuration: try Fixtures.configuration(CLIPTextConfiguration.self, name),
                                          parameters: try Fixtures.parameters(name, component: .textEncoder))
        let io = try Fixtures.modelIO(name)
        let last = encoder(ids(io))
        #expect(difference(last, io["last"]).relativeToScale < parityTolerance, "\(name): \(difference(last, io["last"]))")
        let skipped = encoder(ids(io), clipSkip: 2)
        #expect(difference(skipped, io["clip_skip_2"]).relativeToScale < parityTolerance, "\(name) clip skip 2")
    }
}

@Suite("Checkpoint layouts")
struct CheckpointLayoutTests {
    static let root = Fixtures.modelCase("tiny_layouts")

    /// Runs the three networks of a checkpoint on the fixture inputs.
    private func outputs(_ checkpoint: ModelCheckpoint) throws -> [Tensor] {
        let io = try Fixtures.modelIO("tiny_layouts")
        let c = checkpoint.configurations
        let unet = try UNet2DCondition(configuration: c.unet, parameters: checkpoint.source(.unet))
        let vae = try AutoencoderKL(configuration: c.vae, parameters: checkpoint.source(.vae))
        let text = try CLIPTextEncoder(configuration: c.textEncoder, parameters: checkpoint.source(.textEncoder))
        let ids = [io["ids"].scalars.map { Int($0) }]
        return [unet(io["sample"], timesteps: io["timesteps"].scalars, context: io["context"]),
                vae.decode(io["latents"]), text(ids)]
    }

    @Test("a diffusers folder and an original single file give identical outputs, equal to diffusers'")
    func equivalence() throws {
        let folder = try ModelCheckpoint.open(Self.root.appendingPathComponent("diffusers"))
        #expect(folder.layout == .diffusers)
        let single = try ModelCheckpoint.open(Self.root.appendingPathComponent("single_file.safetensors"),
                                              configurations: folder.configurations)
        #expect(single.layout == .singleFileSafetensors)
        #expect(single.skippedKeys == ["alphas_cumprod", "model_ema.decay"])
        let a = try outputs(folder), b = try outputs(single)
        for (x, y) in zip(a, b) { #expect(x.scalars == y.scalars) }
        let io = try Fixtures.modelIO("tiny_layouts")
        for (x, name) in zip(a, ["unet_output", "decoded", "text"]) {
            #expect(difference(x, io[name]).relativeToScale < parityTolerance, "\(name)")
        }
        for component in ModelComponent.allCases {
            #expect(single.source(component).unusedKeys.isEmpty, "\(component): \(single.source(component).unusedKeys.prefix(3))")
        }
    }

    @Test("the layout table maps every diffusers key to an original key and back")
    func tableRoundTrip() throws {
        let folder = try ModelCheckpoint.open(Self.root.appendingPathComponent("diffusers"))
        let layout = CheckpointLayout(unet: folder.configurations.unet, vae: folder.configurations.vae)
        let single = try SafetensorsFile(contentsOf: Self.root.appendingPathComponent("single_file.safetensors"))
        for component in ModelComponent.allCases {
            let source = folder.source(component)
            for key in source.unusedKeys {  // nothing used yet: these are all the keys
                let original = try #require(layout.originalKey(forDiffusers: key, component: component), "\(key)")
                #expect(single.entries[original] != nil, "\(component) \(key) → \(original) is not in the single file")
                let back = layout.diffusersKey(forOriginal: original)
                #expect(back?.component == component && back?.key == key, "\(original) → \(String(describing: back))")
            }
        }
    }

    @Test("a missing tensor and a wrong shape are errors that name the file and the key")
    func loadingErrors() throws {
        let io = try Fixtures.modelIO("unet_a")
        _ = io
        let source = try Fixtures.parameters("unet_a", component: .unet)
        var config = try Fixtures.configuration(UNetConfiguration.self, "unet_a")
        config.crossAttentionDim = 48  // the checkpoint's attn2.to_k is [32, 32]
        #expect {
            _ = try UNet2DCondition(configuration: config, parameters: source)
        } throws: { error in
            guard case let ModelLoadingError.shapeMismatch(file, key, expected, found) = error else { return false }
            return file.hasSuffix("weights.safetensors") && key.hasSuffix("attn2.to_k.weight") && expected == [32, 48] && found == [32, 32]
        }
        config = try Fixtures.configuration(UNetConfiguration.self, "unet_a")
        config.layersPerBlock = 2  // asks for down_blocks.0.resnets.1, which the file lacks
        #expect {
            _ = try UNet2DCondition(configuration: config, parameters: source)
        } throws: { error in
            guard case let ModelLoadingError.missingTensor(file, key) = error else { return false }
            return file.hasSuffix("weights.safetensors") && key.hasPrefix("down_blocks.0.resnets.1.")
        }
    }

    @Test("an SD 2.x or SDXL single file is refused by name")
    func unknownArchitecture() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("layout-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("sd2.safetensors")
        try SafetensorsWriter.write([(name: "cond_stage_model.model.token_embedding.weight", tensor: Tensor(zeros: [2, 2])),
                                     (name: "model.diffusion_model.out.2.bias", tensor: Tensor(zeros: [4]))],
                                    metadata: [:], to: file)
        #expect {
            _ = try ModelCheckpoint.open(file)
        } throws: { error in
            guard case let ModelLoadingError.unknownArchitecture(path, reason) = error else { return false }
            return path == file.path && reason.contains("SD 2")
        }
    }
}
