// The pullbacks of the trainable blocks (ResnetBlock2D, Transformer2D) against PyTorch autograd on
// diffusers' own modules, and against finite differences. Fixture: backward.safetensors
// (Tests/Fixtures/make_backward_fixtures.py); the loss is L = Σ output ⊙ upstream.
import Foundation
import Models
import Tensor
import Testing
import TestSupport
import Weights

@Suite("Models: block backward passes against PyTorch autograd")
struct BlockBackwardTests {
    static let fixture = try! Fixtures.open("backward")
    /// Parameter gradients sum over every position of a batch: fp32 accumulation order differs from
    /// PyTorch's, so they agree to ~1e-6 of their scale; 2e-5 leaves room without hiding a wrong term.
    static let tolerance: Float = 2e-5

    /// The case's parameters, as a model built under `prefix` asks for them.
    static func source(_ name: String, prefix: String) -> CheckpointParameterSource {
        var locations: [String: CheckpointParameterSource.Location] = [:]
        let marker = "\(name).param."
        for key in fixture.file.tensorNames where key.hasPrefix(marker) {
            locations["\(prefix).\(key.dropFirst(marker.count))"] = .init(archive: fixture.file, name: key)
        }
        return CheckpointParameterSource(component: .unet, locations: locations)
    }

    /// Every parameter gradient in the arena equals PyTorch's.
    static func expectParameterGradients(_ name: String, _ arena: ParameterArena, prefix: String) {
        #expect(!arena.entries.isEmpty)
        for entry in arena.entries {
            let key = entry.key.dropFirst(prefix.count + 1)
            let d = difference(arena.gradient(entry.key)!, fixture["\(name).grad.\(key)"])
            #expect(d.relativeToScale < tolerance, "\(name): ∂L/∂\(key): \(d)")
        }
    }

    @Test("ResnetBlock2D: output, input, time-embedding and parameter gradients",
          arguments: [("resnet_shortcut", 8, 16, 12), ("resnet_identity", 8, 8, 12), ("resnet_vae", 8, 12, 0)])
    func resnet(name: String, inChannels: Int, outChannels: Int, timeChannels: Int) throws {
        let f = Self.fixture
        let (block, arena) = try ParameterArena.build(from: Self.source(name, prefix: "block")) {
            try ResnetBlock2D($0, "block", in: inChannels, out: outChannels,
                              timeEmbeddingChannels: timeChannels > 0 ? timeChannels : nil, groups: 4, eps: 1e-5)
        }
        let x = f["\(name).x"]
        let temb = timeChannels > 0 ? f["\(name).temb"] : nil
        let activated = temb.map { SiLU.forward($0) }  // the UNet applies SiLU once for all blocks
        let (y, pullback) = block.forwardWithPullback(x, activatedTimeEmbedding: activated, arena: arena)
        #expect(difference(y, f["\(name).output"]).relativeToScale < 1e-5)
        arena.zeroGradients()
        let gradients = pullback(f["\(name).upstream"])
        #expect(difference(gradients.x, f["\(name).grad.x"]).relativeToScale < Self.tolerance)
        if let temb, let dActivated = gradients.timeEmbedding {
            let dTemb = Tensor(zeros: temb.shape)
            SiLU.backward(gradOutput: dActivated, input: temb, gradInput: dTemb)
            #expect(difference(dTemb, f["\(name).grad.temb"]).relativeToScale < Self.tolerance)
        } else {
            #expect(temb == nil && gradients.timeEmbedding == nil)
        }
        Self.expectParameterGradients(name, arena, prefix: "block")
    }

    @Test("Transformer2D (1×1-conv and linear projections): output, input, context and parameter gradients",
          arguments: [("transformer_conv", 2, false), ("transformer_linear", 1, true)])
    func transformer(name: String, layers: Int, linear: Bool) throws {
        let f = Self.fixture
        let (model, arena) = try ParameterArena.build(from: Self.source(name, prefix: "t")) {
            try Transformer2D($0, "t", channels: 16, contextChannels: 12, heads: 2, layers: layers, groups: 4,
                              linearProjection: linear)
        }
        let (y, pullback) = model.forwardWithPullback(f["\(name).x"], context: f["\(name).context"], arena: arena)
        #expect(difference(y, f["\(name).output"]).relativeToScale < 1e-5)
        arena.zeroGradients()
        let gradients = pullback(f["\(name).upstream"])
        #expect(difference(gradients.x, f["\(name).grad.x"]).relativeToScale < Self.tolerance)
        #expect(difference(gradients.context, f["\(name).grad.context"]).relativeToScale < Self.tolerance)
        Self.expectParameterGradients(name, arena, prefix: "t")
    }

    @Test("Transformer2D gradients are the same bits at 1, 2 and 3 threads (sums split by fixed rules)")
    func gradientsIndependentOfThreads() throws {
        let f = Self.fixture
        let (model, arena) = try ParameterArena.build(from: Self.source("transformer_conv", prefix: "t")) {
            try Transformer2D($0, "t", channels: 16, contextChannels: 12, heads: 2, layers: 2, groups: 4, linearProjection: false)
        }
        func gradients() -> [[Float]] {
            arena.zeroGradients()
            let g = model.forwardWithPullback(f["transformer_conv.x"], context: f["transformer_conv.context"], arena: arena)
                .1(f["transformer_conv.upstream"])
            return [g.x.scalars, g.context.scalars] + arena.entries.map { arena.gradient($0.key)!.scalars }
        }
        let saved = ThreadPool.shared.threads
        defer { ThreadPool.shared.configure(threads: saved) }
        var results: [[[Float]]] = []
        for threads in [1, 2, 3] {
            ThreadPool.shared.configure(threads: threads)
            results.append(gradients())
        }
        #expect(results[1] == results[0] && results[2] == results[0])
    }

    /// Finite differences in fp32 through a whole block: the loss sums hundreds of outputs, so its
    /// rounding leaves noise that falls as ε grows, while the normalisations' curvature adds
    /// truncation error that grows with ε. Central differences (truncation O(ε²)) are best near
    /// ε = 1e-2, where the worst ratio over 40 seeds (`DBRENDER_FD_SURVEY=40`) reached 0.037; the
    /// five-point stencil (O(ε⁴)) allows ε = 5e-2, where it reached 0.0099 (UNet), 0.0096
    /// (transformer) and 0.0076 (resnet) — so the bound is 0.05, and a missing or wrong term (off by the gradient's own size, ratio ~1) still
    /// fails by 20×. Gradients here are of order 0.1–5, judged with an absolute tolerance of 0.1.
    static let finiteDifferenceBound = 0.05
    @Test("ResnetBlock2D and Transformer2D pullbacks agree with finite differences (inputs and weights)")
    func finiteDifferences() throws {
        let f = Self.fixture
        let (block, blockArena) = try ParameterArena.build(from: Self.source("resnet_shortcut", prefix: "block")) {
            try ResnetBlock2D($0, "block", in: 8, out: 16, timeEmbeddingChannels: 12, groups: 4, eps: 1e-5)
        }
        let x = f["resnet_shortcut.x"].copy(), temb = SiLU.forward(f["resnet_shortcut.temb"])
        let conv1 = blockArena.parameter("block.conv1.weight")!, projection = blockArena.parameter("block.time_emb_proj.weight")!
        let resnet = checkGradients(
            inputs: [x, temb, conv1, projection],
            forward: { block(x, activatedTimeEmbedding: temb) },
            backward: { dy in
                blockArena.zeroGradients()
                let g = block.forwardWithPullback(x, activatedTimeEmbedding: temb, arena: blockArena).1(dy)
                return [g.x, g.timeEmbedding!, blockArena.gradient(of: conv1)!.copy(), blockArena.gradient(of: projection)!.copy()]
            }, epsilon: 5e-2, absoluteTolerance: 0.1, stencil: .fivePoint)
        #expect(resnet.worstRatio < Self.finiteDifferenceBound, "\(resnet)")

        let (model, arena) = try ParameterArena.build(from: Self.source("transformer_conv", prefix: "t")) {
            try Transformer2D($0, "t", channels: 16, contextChannels: 12, heads: 2, layers: 2, groups: 4, linearProjection: false)
        }
        let tx = f["transformer_conv.x"].copy(), context = f["transformer_conv.context"].copy()
        let toKey = arena.parameter("t.transformer_blocks.1.attn2.to_k.weight")!, ff = arena.parameter("t.transformer_blocks.0.ff.net.0.proj.weight")!
        let transformer = checkGradients(
            inputs: [tx, context, toKey, ff],
            forward: { model(tx, context: context) },
            backward: { dy in
                arena.zeroGradients()
                let g = model.forwardWithPullback(tx, context: context, arena: arena).1(dy)
                return [g.x, g.context, arena.gradient(of: toKey)!.copy(), arena.gradient(of: ff)!.copy()]
            }, epsilon: 5e-2, absoluteTolerance: 0.1, stencil: .fivePoint)
        #expect(transformer.worstRatio < Self.finiteDifferenceBound, "\(transformer)")
    }

    @Test("UNet2DCondition: output, latent, context and every parameter gradient (odd latent size, two timesteps)")
    func unet() throws {
        let f = Self.fixture
        let configuration = try ConfigurationFile.load(
            UNetConfiguration.self, from: Fixtures.directory.appendingPathComponent("backward_unet_config.json"))
        var locations: [String: CheckpointParameterSource.Location] = [:]
        for key in f.file.tensorNames where key.hasPrefix("unet.param.") {
            locations[String(key.dropFirst("unet.param.".count))] = .init(archive: f.file, name: key)
        }
        let (model, arena) = try ParameterArena.build(from: CheckpointParameterSource(component: .unet, locations: locations)) {
            try UNet2DCondition(configuration: configuration, parameters: $0)
        }
        let (y, pullback) = model.forwardWithPullback(f["unet.x"], timesteps: [10, 700], context: f["unet.context"], arena: arena)
        #expect(difference(y, f["unet.output"]).relativeToScale < 1e-5)
        arena.zeroGradients()
        let gradients = pullback(f["unet.upstream"])
        #expect(difference(gradients.latents, f["unet.grad.x"]).relativeToScale < Self.tolerance)
        #expect(difference(gradients.context, f["unet.grad.context"]).relativeToScale < Self.tolerance)
        #expect(arena.entries.count == locations.count, "every parameter of the checkpoint is trained")
        for entry in arena.entries {
            let d = difference(arena.gradient(entry.key)!, f["unet.grad.\(entry.key)"])
            #expect(d.relativeToScale < Self.tolerance, "∂L/∂\(entry.key): \(d)")
        }
        // Gradient checkpointing recomputes activations in backward: the same gradients.
        let plain = arena.entries.map { arena.gradient($0.key)!.copy() }
        arena.zeroGradients()
        let recomputed = model.forwardWithPullback(f["unet.x"], timesteps: [10, 700], context: f["unet.context"], arena: arena,
                                                   checkpointing: true).1(f["unet.upstream"])
        #expect(difference(recomputed.latents, gradients.latents).relativeToScale < 1e-6)
        for (entry, expected) in zip(arena.entries, plain) {
            #expect(difference(arena.gradient(entry.key)!, expected).relativeToScale < 1e-6, "checkpointed ∂L/∂\(entry.key)")
        }
        // And by finite differences, through the time embedding and the skip connections.
        let latents = f["unet.x"].copy(), context = f["unet.context"].copy()
        let time = arena.parameter("time_embedding.linear_1.weight")!, skipConv = arena.parameter("up_blocks.0.resnets.1.conv_shortcut.weight")!
        let check = checkGradients(
            inputs: [latents, context, time, skipConv],
            forward: { model(latents, timesteps: [10, 700], context: context) },
            backward: { dy in
                arena.zeroGradients()
                let g = model.forwardWithPullback(latents, timesteps: [10, 700], context: context, arena: arena).1(dy)
                return [g.latents, g.context, arena.gradient(of: time)!.copy(), arena.gradient(of: skipConv)!.copy()]
            }, epsilon: 5e-2, absoluteTolerance: 0.1, stencil: .fivePoint)
        #expect(check.worstRatio < Self.finiteDifferenceBound, "\(check)")
    }

    @Test("CLIPTextEncoder: hidden states and every parameter gradient, embeddings included")
    func textEncoder() throws {
        let f = Self.fixture
        let configuration = try ConfigurationFile.load(
            CLIPTextConfiguration.self, from: Fixtures.directory.appendingPathComponent("backward_clip_config.json"))
        var locations: [String: CheckpointParameterSource.Location] = [:]
        for key in f.file.tensorNames where key.hasPrefix("clip.param.") {
            let name = String(key.dropFirst("clip.param.".count))
            locations[CheckpointLayout.canonicalTextEncoderKey(name)] = .init(archive: f.file, name: key)
        }
        let (encoder, arena) = try ParameterArena.build(
            from: CheckpointParameterSource(component: .textEncoder, locations: locations)) {
            try CLIPTextEncoder(configuration: configuration, parameters: $0)
        }
        let ids = f["clip.ids"].scalars.map { Int($0) }
        let tokens = [Array(ids[0..<10]), Array(ids[10..<20])]
        let (hidden, pullback) = encoder.forwardWithPullback(tokens, arena: arena)
        #expect(difference(hidden, f["clip.output"]).relativeToScale < 1e-5)
        #expect(hidden.scalars == encoder(tokens).scalars, "training and inference forward agree exactly")
        arena.zeroGradients()
        pullback(f["clip.upstream"])
        #expect(arena.entries.count == locations.count)
        for entry in arena.entries {
            let transformersKey = locations[entry.key]!.name
            let d = difference(arena.gradient(entry.key)!, f["clip.grad.\(transformersKey.dropFirst("clip.param.".count))"])
            // k_proj's bias has an exactly zero gradient (a per-row constant in the scores, which
            // softmax ignores): both sides hold only rounding noise there, judged absolutely.
            #expect(d.relativeToScale < Self.tolerance || d.maxAbsolute < 1e-5, "∂L/∂\(entry.key): \(d)")
        }
        // Gradient checkpointing: the same gradients.
        let plain = arena.entries.map { arena.gradient($0.key)!.copy() }
        arena.zeroGradients()
        encoder.forwardWithPullback(tokens, arena: arena, checkpointing: true).1(f["clip.upstream"])
        for (entry, expected) in zip(arena.entries, plain) {
            let d = difference(arena.gradient(entry.key)!, expected)
            #expect(d.relativeToScale < 1e-6 || d.maxAbsolute < 1e-6, "checkpointed ∂L/∂\(entry.key): \(d)")
        }
        // And by finite differences, through the embeddings and a projection.
        let position = arena.parameter("embeddings.position_embedding.weight")!, fc1 = arena.parameter("encoder.layers.1.mlp.fc1.weight")!
        let check = checkGradients(
            inputs: [position, fc1],
            forward: { encoder(tokens) },
            backward: { dy in
                arena.zeroGradients()
                encoder.forwardWithPullback(tokens, arena: arena).1(dy)
                return [arena.gradient(of: position)!.copy(), arena.gradient(of: fc1)!.copy()]
            }, epsilon: 1e-2, absoluteTolerance: 0.1)
        #expect(check.worstRatio < 2e-2, "\(check)")
    }

    @Test("the arena holds each parameter once, aligned, in the order the model asked")
    func arenaLayout() throws {
        let (_, arena) = try ParameterArena.build(from: Self.source("resnet_shortcut", prefix: "block")) {
            try ResnetBlock2D($0, "block", in: 8, out: 16, timeEmbeddingChannels: 12, groups: 4, eps: 1e-5)
        }
        #expect(arena.entries.map(\.key).prefix(3) == ["block.norm1.weight", "block.norm1.bias", "block.conv1.weight"])
        #expect(Set(arena.entries.map(\.key)).count == arena.entries.count)
        #expect(arena.entries.allSatisfy { $0.offset % 16 == 0 })
        for (a, b) in zip(arena.entries, arena.entries.dropFirst()) { #expect(a.offset + a.count <= b.offset) }
        let conv1 = arena.parameter("block.conv1.weight")!
        #expect(conv1.scalars == Self.fixture["resnet_shortcut.param.conv1.weight"].scalars)
        // A tensor outside the arena has no gradient (a frozen model's parameters).
        #expect(arena.gradient(of: conv1.copy()) == nil && arena.gradient(of: conv1) != nil)
    }
}
