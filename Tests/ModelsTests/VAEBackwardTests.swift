// The VAE's pullbacks (AutoencoderKL.encodeWithPullback / decodeWithPullback, and through them every
// VAE component's forwardWithPullback) against PyTorch autograd on diffusers' own AutoencoderKL, and
// against finite differences. Fixture: vae_backward.safetensors (Tests/Fixtures/make_vae_backward_fixtures.py);
// the loss is L = Σ mean ⊙ r_mean + Σ logvar ⊙ r_logvar + Σ decode(latents) ⊙ r_decoded.
import Foundation
import Models
import Tensor
import Testing
import TestSupport
import Weights

@Suite("Models: VAE backward pass against PyTorch autograd")
struct VAEBackwardTests {
    static let fixture = try! Fixtures.open("vae_backward")
    /// Parameter gradients sum over every pixel of both samples (and the mid-block attention over all
    /// pixel pairs): fp32 accumulation in a different order from PyTorch's leaves differences of
    /// ~1e-6 of each gradient's scale; 2e-5 leaves room for that without hiding a wrong term, which
    /// would be off by the gradient's own size. Measured: outputs ≤ 1.1e-6, ∂image and ∂latents
    /// ≤ 1.5e-6, parameters ≤ 4.0e-6 (decoder.mid_block.attentions.0.to_q.weight).
    static let tolerance: Float = 2e-5

    /// The fixture's parameters, keyed as diffusers' state dict ("param.<key>").
    static var locations: [String: CheckpointParameterSource.Location] {
        var locations: [String: CheckpointParameterSource.Location] = [:]
        for key in fixture.file.tensorNames where key.hasPrefix("param.") {
            locations[String(key.dropFirst("param.".count))] = .init(archive: fixture.file, name: key)
        }
        return locations
    }

    /// A VAE whose parameters live in a new arena (a fresh one per test: pullbacks write into it).
    static func model() throws -> (AutoencoderKL, ParameterArena) {
        let configuration = try ConfigurationFile.load(
            AutoencoderConfiguration.self, from: Fixtures.directory.appendingPathComponent("vae_backward_config.json"))
        return try ParameterArena.build(from: CheckpointParameterSource(component: .vae, locations: locations)) {
            try AutoencoderKL(configuration: configuration, parameters: $0)
        }
    }

    @Test("encode and decode: outputs, input gradients and every parameter gradient equal PyTorch's")
    func againstAutograd() throws {
        let f = Self.fixture
        let (vae, arena) = try Self.model()
        let image = f["image"], latents = f["latents"]

        let (mean, logVariance, encodePullback) = vae.encodeWithPullback(image, arena: arena)
        #expect(mean.shape == [2, 4, 6, 4] && logVariance.shape == mean.shape)
        #expect(difference(mean, f["mean"]).relativeToScale < 1e-5, "mean: \(difference(mean, f["mean"]))")
        #expect(difference(logVariance, f["logvar"]).relativeToScale < 1e-5, "logvar: \(difference(logVariance, f["logvar"]))")
        let (decoded, decodePullback) = vae.decodeWithPullback(latents, arena: arena)
        #expect(decoded.shape == [2, 3, 10, 6])
        #expect(difference(decoded, f["decoded"]).relativeToScale < 1e-5, "decoded: \(difference(decoded, f["decoded"]))")
        // The training forward runs the inference forward's ops in the same order: the same bits.
        let inference = vae.encode(image)
        #expect(mean.scalars == inference.mean.scalars && logVariance.scalars == inference.logVariance.scalars)
        #expect(decoded.scalars == vae.decode(latents).scalars)

        arena.zeroGradients()
        let dImage = encodePullback(f["upstream.mean"], f["upstream.logvar"])
        let dLatents = decodePullback(f["upstream.decoded"])
        #expect(difference(dImage, f["grad.image"]).relativeToScale < Self.tolerance, "∂L/∂image: \(difference(dImage, f["grad.image"]))")
        #expect(difference(dLatents, f["grad.latents"]).relativeToScale < Self.tolerance,
                "∂L/∂latents: \(difference(dLatents, f["grad.latents"]))")

        // Every parameter of the checkpoint is in the arena, and every one is reached by a pullback.
        #expect(arena.entries.count == Self.locations.count, "arena \(arena.entries.count), checkpoint \(Self.locations.count)")
        for entry in arena.entries {
            let gradient = arena.gradient(entry.key)!, d = difference(gradient, f["grad.\(entry.key)"])
            // to_k's bias adds the same constant to every score of a query's row, which softmax ignores:
            // its true gradient is exactly zero, and both sides hold only rounding noise (measured
            // ≤ 2.5e-7), judged absolutely. Every other gradient must be non-zero and match.
            if entry.key.hasSuffix("to_k.bias") {
                #expect(d.maxAbsolute < 1e-5, "∂L/∂\(entry.key): \(d)")
                continue
            }
            #expect(gradient.scalars.contains { $0 != 0 }, "∂L/∂\(entry.key) is zero: no pullback reached it")
            #expect(d.relativeToScale < Self.tolerance, "∂L/∂\(entry.key): \(d)")
        }
    }

    /// Finite differences in fp32 through the whole encoder or decoder (ten and fourteen GroupNorms deep,
    /// and the mid-block attention): as in BlockBackwardTests, rounding noise in the summed loss falls as ε
    /// grows while the normalisations' curvature adds truncation error that grows with it, so the
    /// five-point stencil (O(ε⁴)) is used. ε = 5e-2, the blocks' choice, is too large here: an entry
    /// of post_quant_conv's weight scales a whole latent channel at every pixel, and its truncation
    /// error reached a ratio of 0.11. At ε = 2e-2 the worst ratio over 40 seeds
    /// (`DBRENDER_FD_SURVEY=40`) was 0.0019 for encode (median 0.0012) and 0.0060 for decode (median
    /// 0.0027), so the bound is 0.02 — over 3× the largest — and a missing or wrong term (ratio ~1)
    /// still fails by 50×. Gradients here are of order 0.01–5, judged with an absolute tolerance of 0.1.
    static let finiteDifferenceBound = 0.02

    @Test("encode and decode pullbacks agree with finite differences (inputs, convolutions, attention, resamplers)")
    func finiteDifferences() throws {
        let f = Self.fixture
        let (vae, arena) = try Self.model()
        let image = f["image"].copy()
        let encoderWeights = ["encoder.conv_in.weight", "encoder.down_blocks.0.downsamplers.0.conv.weight",
                              "encoder.mid_block.attentions.0.to_q.weight", "quant_conv.weight"].map { arena.parameter($0)! }
        let encode = checkGradients(
            inputs: [image] + encoderWeights,
            forward: {
                let (mean, logVariance) = vae.encode(image)
                return Concat.forward([mean, logVariance], axis: 1)
            },
            backward: { dy in
                arena.zeroGradients()
                let parts = Split.forward(dy, chunks: 2, axis: 1)
                let dImage = vae.encodeWithPullback(image, arena: arena).pullback(parts[0], parts[1])
                return [dImage] + encoderWeights.map { arena.gradient(of: $0)!.copy() }
            }, epsilon: 2e-2, absoluteTolerance: 0.1, stencil: .fivePoint)
        #expect(encode.worstRatio < Self.finiteDifferenceBound, "encode: \(encode)")

        let latents = f["latents"].copy()
        let decoderWeights = ["post_quant_conv.weight", "decoder.mid_block.attentions.0.to_k.weight",
                              "decoder.up_blocks.0.upsamplers.0.conv.weight", "decoder.up_blocks.1.resnets.0.conv_shortcut.weight"]
            .map { arena.parameter($0)! }
        let decode = checkGradients(
            inputs: [latents] + decoderWeights,
            forward: { vae.decode(latents) },
            backward: { dy in
                arena.zeroGradients()
                let dLatents = vae.decodeWithPullback(latents, arena: arena).1(dy)
                return [dLatents] + decoderWeights.map { arena.gradient(of: $0)!.copy() }
            }, epsilon: 2e-2, absoluteTolerance: 0.1, stencil: .fivePoint)
        #expect(decode.worstRatio < Self.finiteDifferenceBound, "decode: \(decode)")
    }

    @Test("the log-variance clamp to [−30, 20] stops the gradient where it clamps, as torch.clamp does")
    func clampStopsGradient() throws {
        let f = Self.fixture
        let (vae, arena) = try Self.model()
        // quant_conv's bias for the log-variance channels (the second half) pushes them all above 20.
        let bias = arena.parameter("quant_conv.bias")!
        for c in 4..<8 { bias.pointer[c] = 100 }
        let (mean, logVariance, pullback) = vae.encodeWithPullback(f["image"], arena: arena)
        #expect(logVariance.scalars.allSatisfy { $0 == 20 })
        arena.zeroGradients()
        let dImage = pullback(Tensor(zeros: mean.shape), Tensor(shape: logVariance.shape, repeating: 1))
        #expect(dImage.scalars.allSatisfy { $0 == 0 })
        #expect(arena.gradient(of: bias)!.scalars.allSatisfy { $0 == 0 })
        #expect(arena.entries.allSatisfy { arena.gradient($0.key)!.scalars.allSatisfy { $0 == 0 } })
    }
}
