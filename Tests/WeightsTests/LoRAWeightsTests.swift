// Reading LoRA files in the layouts users bring (peft, diffusers, kohya; fixtures from peft and
// diffusers' converters: Tests/Fixtures/make_lora_fixtures.py): every module's update scale·B·A equals
// the reference's to fp32 rounding, whatever the layout, and every way a file can be wrong is an error
// naming the file and the tensor or module.
import Foundation
import Tensor
import Testing
import TestSupport
import Weights

@Suite("LoRA files: layouts, scales and errors")
struct LoRAWeightsTests {
    static let lora = Fixtures.directory.appendingPathComponent("lora")

    /// models/tiny's adaptable modules, from its weights files' headers.
    static let targets: LoRATargets = {
        let model = Fixtures.packageRoot.appendingPathComponent("models/tiny")
        func shapes(_ path: String) -> [String: [Int]] {
            let file = try! SafetensorsFile(contentsOf: model.appendingPathComponent(path))
            return file.entries.mapValues(\.shape)
        }
        return LoRATargets(weightShapes: [.unet: shapes("unet/diffusion_pytorch_model.safetensors"),
                                          .textEncoder: shapes("text_encoder/model.safetensors")])
    }()

    static let expected = try! SafetensorsFile(contentsOf: lora.appendingPathComponent("expected.safetensors"))

    /// The largest |ours − reference| over a module's update, relative to the update's largest entry.
    static func relativeError(_ update: LowRankUpdate, _ reference: Tensor, dividedBy divisor: Float = 1) -> Float {
        let ours = update.delta()
        let theirs = reference.reshaped([update.outFeatures, update.inFeatures])
        var worst: Float = 0, largest: Float = 0
        for i in 0..<ours.count {
            worst = max(worst, abs(ours.pointer[i] - theirs.pointer[i] / divisor))
            largest = max(largest, abs(theirs.pointer[i] / divisor))
        }
        return worst / max(largest, .leastNormalMagnitude)
    }

    @Test("peft, diffusers and kohya layouts give the reference's updates for all 60 modules", arguments: ["peft", "diffusers", "kohya"])
    func layouts(_ layout: String) throws {
        let weights = try LoRAWeights.load(Self.lora.appendingPathComponent("sks-\(layout).safetensors"), targets: Self.targets)
        #expect(weights.moduleCount == 60 && Self.expected.tensorNames.count == 60)
        // diffusers' own files carry no alpha: diffusers (and we) take scale 1 there.
        let scales: [LoRAComponent: Float] = layout == "diffusers" ? [.unet: 1, .textEncoder: 1] : [.unet: 2, .textEncoder: 0.5]
        for name in Self.expected.tensorNames {
            let component: LoRAComponent = name.hasPrefix("unet.") ? .unet : .textEncoder
            var module = String(name.dropFirst(component == .unet ? "unet.".count : "text_encoder.".count))
            if module.hasPrefix("text_model.") { module.removeFirst("text_model.".count) }
            let update = try #require(weights.updates[component]?[module], "\(layout): \(module) missing")
            #expect(update.scale == scales[component], "\(layout): \(module) scale \(update.scale)")
            let divisor: Float = layout == "diffusers" ? (component == .unet ? 2 : 0.5) : 1
            let error = Self.relativeError(update, try Self.expected.tensor(name), dividedBy: divisor)
            #expect(error < 1e-5, "\(layout): \(module) relative error \(error)")
        }
        // The 1×1 convolutions are read as matrices; the ranks are the files'.
        let projIn = try #require(weights.updates[.unet]?["down_blocks.0.attentions.0.proj_in"])
        #expect(projIn.rank == 4 && projIn.down.shape == [4, 32] && projIn.up.shape == [32, 4])
        #expect(weights.updates[.textEncoder]?["encoder.layers.0.self_attn.q_proj"]?.rank == 2)
    }

    // MARK: Errors

    /// Writes `tensors` as a LoRA file in a fresh folder and loads it.
    private func load(_ tensors: [(String, Tensor)], metadata: [String: String] = [:]) throws -> LoRAWeights {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lora-\(UUID().uuidString.prefix(8)).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try SafetensorsWriter.write(tensors.map { (name: $0.0, tensor: $0.1) }, metadata: metadata, to: url)
        do { return try LoRAWeights.load(url, targets: Self.targets) } catch {
            // Name the error without the random path, so expectations can compare whole messages.
            throw NamedError(String(describing: error).replacingOccurrences(of: url.path, with: "FILE"))
        }
    }

    struct NamedError: Error, CustomStringConvertible { let description: String; init(_ d: String) { description = d } }

    private func expectError(_ tensors: [(String, Tensor)], metadata: [String: String] = [:], _ message: String,
                             sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try load(tensors, metadata: metadata)
            Issue.record("loaded; expected: \(message)", sourceLocation: sourceLocation)
        } catch {
            #expect("\(error)" == message, sourceLocation: sourceLocation)
        }
    }

    static let toQ = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q"  // weight [32, 32]
    static func random(_ shape: [Int], seed: Int) -> Tensor {
        Tensor(shape: shape, values: (0..<shape.reduce(1, *)).map { Float(sin(Double($0 * 7 + seed))) })
    }

    @Test("each way a LoRA file is wrong is an error naming the file and the tensor or module")
    func errors() throws {
        let down = Self.random([4, 32], seed: 1), up = Self.random([32, 4], seed: 2)
        expectError([("unet.\(Self.toQ).lora_A.weight", down)], "FILE: module '\(Self.toQ)' has no up (B) factor")
        expectError([("unet.\(Self.toQ).lora_A.weight", down), ("unet.\(Self.toQ).lora_B.weight", Self.random([16, 4], seed: 3))],
                    "FILE: module '\(Self.toQ)' has weight [32, 32] but LoRA factors down [4, 32], up [16, 4]")
        expectError([("unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_z.lora_A.weight", down)],
                    "FILE: 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_z.lora_A.weight' adapts a module this model does not have (or that is neither linear nor a convolution)")
        // A 3×3 convolution's A must carry its kernel: conv_in's weight is [32, 4, 3, 3].
        expectError([("lora_unet_conv_in.lora_down.weight", Self.random([4, 4, 1, 1], seed: 4)),
                     ("lora_unet_conv_in.lora_up.weight", Self.random([32, 4, 1, 1], seed: 5))],
                    "FILE: module 'conv_in' has weight [32, 4, 3, 3] but LoRA factors down [4, 4, 1, 1], up [32, 4, 1, 1]")
        expectError([("unet.\(Self.toQ).lora_magnitude_vector.weight", Self.random([32], seed: 5))],
                    "FILE: 'unet.\(Self.toQ).lora_magnitude_vector.weight' belongs to DoRA (lora_magnitude_vector), which dbrender does not apply")
        expectError([("lora_unet_\(Self.toQ.replacingOccurrences(of: ".", with: "_")).hada_w1_a", down)],
                    "FILE: 'lora_unet_\(Self.toQ.replacingOccurrences(of: ".", with: "_")).hada_w1_a' belongs to LyCORIS (hada_w), which dbrender does not apply")
        expectError([("lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_down.weight", down)],
                    "FILE: 'lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_down.weight' belongs to a second text encoder (SDXL), which dbrender does not apply")
        expectError([("model.diffusion_model.out.2.weight", down)],
                    "FILE: tensor 'model.diffusion_model.out.2.weight' is not part of a LoRA in any layout dbrender reads (peft, diffusers, kohya)")
        expectError([("unet.\(Self.toQ).lora_A.weight", down), ("unet.\(Self.toQ).lora_B.weight", up)], metadata: ["lora_adapter_metadata": "[1"],
                    "FILE: lora_adapter_metadata: not a JSON object")
        expectError([], "FILE holds no LoRA tensors")
    }

    @Test("a truncated or corrupt file is the safetensors reader's error, naming the file")
    func corruptFile() throws {
        let source = Self.lora.appendingPathComponent("sks-kohya.safetensors")
        let bytes = try Data(contentsOf: source)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("truncated-\(UUID().uuidString.prefix(8)).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try bytes.prefix(bytes.count / 2).write(to: url)
        #expect {
            try LoRAWeights.load(url, targets: Self.targets)
        } throws: { error in
            guard case .file = error as? LoRAError else { return false }
            return "\(error)".contains(url.path)
        }
    }

    @Test("scales: kohya alpha / rank, peft metadata alpha / r with per-module patterns and rsLoRA, else 1")
    func scales() throws {
        let down = Self.random([4, 32], seed: 1), up = Self.random([32, 4], seed: 2)
        let toK = Self.toQ.replacingOccurrences(of: "to_q", with: "to_k")
        let peft = [("unet.\(Self.toQ).lora_A.weight", down), ("unet.\(Self.toQ).lora_B.weight", up),
                    ("unet.\(toK).lora_A.weight", down), ("unet.\(toK).lora_B.weight", up)]
        #expect(try load(peft).updates[.unet]?[Self.toQ]?.scale == 1)
        let metadata = #"{"unet.r": 4, "unet.lora_alpha": 16, "unet.alpha_pattern": {"attn1.to_k": 2}}"#
        let patterned = try load(peft, metadata: ["lora_adapter_metadata": metadata])
        #expect(patterned.updates[.unet]?[Self.toQ]?.scale == 4 && patterned.updates[.unet]?[toK]?.scale == 0.5)
        let rs = try load(peft, metadata: ["lora_adapter_metadata": #"{"unet.r": 4, "unet.lora_alpha": 8, "unet.use_rslora": true}"#])
        #expect(rs.updates[.unet]?[Self.toQ]?.scale == 4)
        let kohyaName = "lora_unet_" + Self.toQ.replacingOccurrences(of: ".", with: "_")
        let kohya = try load([(kohyaName + ".lora_down.weight", down), (kohyaName + ".lora_up.weight", up),
                              (kohyaName + ".alpha", Tensor(shape: [], values: [1]))])
        #expect(kohya.updates[.unet]?[Self.toQ]?.scale == 0.25)
        // A 3×3 convolution's LoRA (LoCon, as LCM-LoRAs have): A keeps its kernel.
        let conv = try load([("lora_unet_conv_in.lora_down.weight", Self.random([4, 4, 3, 3], seed: 4)),
                             ("lora_unet_conv_in.lora_up.weight", Self.random([32, 4, 1, 1], seed: 5))]).updates[.unet]?["conv_in"]
        #expect(conv?.kernel == 3 && conv?.downKernel.shape == [4, 4, 3, 3] && conv?.down.shape == [4, 36])
        // Old attention-processor names reach the same module.
        let processor = try load([("down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_q_lora.down.weight", down),
                                  ("down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_q_lora.up.weight", up)])
        #expect(processor.updates[.unet]?.keys.sorted() == [Self.toQ])
    }
}
