// The LoRA part of the linear and 1×1-convolution pullbacks (RowAdapters.pullback): against PyTorch
// autograd (fixture: Tests/Fixtures/make_lora_backward_fixtures.py) and by finite differences, with
// the base weights frozen (outside the arena: they get no gradient) and the factors in an arena.
// Also through a Transformer2D block with LoRAs on its attention projections and its 1×1 proj_in, with
// rows of different LoRAs.
import Foundation
import Models
import Tensor
import Testing
import TestSupport
import Weights

@Suite("LoRA backward: factor and input gradients")
struct LoRABackwardTests {
    static let fixture = try! Fixtures.open("lora_backward")
    /// Matches PyTorch to fp32 rounding of sums of ≤ 60 products; 2e-5 relative leaves room without hiding a wrong term.
    static let tolerance: Float = 2e-5

    /// A frozen layer's weight and bias from the fixture, as keys "m.weight", "m.bias".
    static func frozenSource(_ name: String) -> CheckpointParameterSource {
        CheckpointParameterSource(component: .unet, locations: [
            "m.weight": .init(archive: fixture.file, name: "\(name).weight"), "m.bias": .init(archive: fixture.file, name: "\(name).bias"),
        ])
    }

    /// The fixture's factors copied into an arena (the trainer keeps LoRA factors there).
    static func factors(_ name: String) throws -> (LowRankUpdate, ParameterArena) {
        let source = CheckpointParameterSource(component: .unet, locations: [
            "m.lora_A.weight": .init(archive: fixture.file, name: "\(name).down"), "m.lora_B.weight": .init(archive: fixture.file, name: "\(name).up"),
        ])
        let down = fixture["\(name).down"], up = fixture["\(name).up"]
        let (pair, arena) = try ParameterArena.build(from: source) {
            (try $0.parameter("m.lora_A.weight", shape: down.shape, initializer: .zeros), try $0.parameter("m.lora_B.weight", shape: up.shape, initializer: .zeros))
        }
        // weight 0.8 × scale 2 = the fixture's factor 1.6.
        return (LowRankUpdate(down: pair.0, up: pair.1, scale: 2), arena)
    }

    static func maxRelative(_ a: Tensor, _ b: Tensor) -> Float {
        var worst: Float = 0, largest: Float = 0
        for i in 0..<b.count { worst = max(worst, abs(a.pointer[i] - b.pointer[i])); largest = max(largest, abs(b.pointer[i])) }
        return worst / max(largest, .leastNormalMagnitude)
    }

    @Test("linear and 1×1 convolution: output, dx, dA and dB equal PyTorch's", arguments: ["linear", "conv1x1"])
    func againstPyTorch(_ name: String) throws {
        let f = Self.fixture
        let (update, arena) = try Self.factors(name)
        let adapters = RowAdapters(rows: [[.init(updates: ["m": update], weight: 0.8)], [.init(updates: ["m": update], weight: 0.8)]])
        let x = f["\(name).x"]
        let (y, pullback): (Tensor, Pullback)
        if name == "linear" {
            let layer = try LinearLayer(Self.frozenSource(name), "m", in: 12, out: 10)
            (y, pullback) = RowAdapters.$current.withValue(adapters) { layer.forwardWithPullback(x, arena: arena) }
        } else {
            let layer = try Conv2dLayer(Self.frozenSource(name), "m", in: 12, out: 10, kernel: 1)
            (y, pullback) = RowAdapters.$current.withValue(adapters) { layer.forwardWithPullback(x, arena: arena) }
        }
        #expect(Self.maxRelative(y, f["\(name).y"]) < Self.tolerance)
        arena.zeroGradients()
        let dx = pullback(f["\(name).g"])  // outside the forward's scope, as backward passes run
        #expect(Self.maxRelative(dx, f["\(name).dx"]) < Self.tolerance, "dx")
        #expect(Self.maxRelative(arena.gradient(of: update.down)!, f["\(name).ddown"]) < Self.tolerance, "dA")
        #expect(Self.maxRelative(arena.gradient(of: update.up)!, f["\(name).dup"]) < Self.tolerance, "dB")
        #expect(arena.entries.map(\.key) == ["m.lora_A.weight", "m.lora_B.weight"])  // the base stays frozen
    }

    @Test("Transformer2D with LoRAs on to_q/to_k/to_v/to_out.0 and proj_in, rows of different LoRAs: finite differences")
    func transformerFiniteDifferences() throws {
        var random = TestRandom(seed: 3)
        let base = RandomParameterSource(seed: 5)
        let block = try Transformer2D(base, "t", channels: 16, contextChannels: 12, heads: 2, layers: 1, groups: 4, linearProjection: false)
        let modules: [(String, Int, Int)] = [  // module, in, out
            ("t.proj_in", 16, 16), ("t.transformer_blocks.0.attn1.to_q", 16, 16), ("t.transformer_blocks.0.attn2.to_k", 12, 16),
            ("t.transformer_blocks.0.attn2.to_v", 12, 16), ("t.transformer_blocks.0.attn1.to_out.0", 16, 16),
        ]
        let (updates, arena) = try ParameterArena.build(from: RandomParameterSource(seed: 9)) { source in
            try Dictionary(uniqueKeysWithValues: modules.map { module, inFeatures, outFeatures in
                (module, LowRankUpdate(down: try source.parameter("\(module).lora_A", shape: [4, inFeatures], initializer: .normal(std: 0.3)),
                                       up: try source.parameter("\(module).lora_B", shape: [outFeatures, 4], initializer: .normal(std: 0.3)),
                                       scale: 0.5))
            })
        }
        // Row 0: the LoRA at weight 1.2; row 1: only the proj_in update at weight -0.7.
        let adapters = RowAdapters(rows: [[.init(updates: updates, weight: 1.2)],
                                          [.init(updates: ["t.proj_in": updates["t.proj_in"]!], weight: -0.7)]])
        let x = random.tensor([2, 16, 3, 3]), context = random.tensor([2, 5, 12])
        let toQ = updates["t.transformer_blocks.0.attn1.to_q"]!, projIn = updates["t.proj_in"]!, toV = updates["t.transformer_blocks.0.attn2.to_v"]!
        let check = checkGradients(
            inputs: [x, context, toQ.down, toQ.up, projIn.down, toV.up],
            forward: { RowAdapters.$current.withValue(adapters) { block(x, context: context) } },
            backward: { dy in
                arena.zeroGradients()
                let pullback = RowAdapters.$current.withValue(adapters) { block.forwardWithPullback(x, context: context, arena: arena).1 }
                let g = pullback(dy)
                return [g.x, g.context] + [toQ.down, toQ.up, projIn.down, toV.up].map { arena.gradient(of: $0)!.copy() }
            }, epsilon: 5e-2, absoluteTolerance: 0.1, stencil: .fivePoint)
        // The bound of the other block checks (BlockBackwardTests: worst 0.0099 over 40 seeds).
        #expect(check.worstRatio < 0.05, "\(check)")
    }
}
