// A LoRA file read and checked against a model: for each adapted module (a linear layer or a
// convolution), its two factors and the scale its alpha gives. The scale follows the tool that wrote the file:
//   • kohya: each module's `.alpha` tensor; scale = alpha / rank (no alpha: 1);
//   • peft with diffusers' `lora_adapter_metadata` header entry: `<network>.lora_alpha` over
//     `<network>.r` (`rank_pattern` / `alpha_pattern` entries per module suffix, `use_rslora`: alpha/√r);
//   • anything else: 1, as diffusers' `load_lora_weights` takes it (alpha = rank).
// A request's LoRA weight multiplies this scale; the two are kept apart so the weight can change per request.
import Foundation
import Tensor

/// The updates of one LoRA file, per network and module (module paths as `LoRATargets` names them).
public struct LoRAWeights: Sendable {
    public let url: URL
    public let updates: [LoRAComponent: [String: LowRankUpdate]]

    /// Updates held in memory (a LoRA being trained); `url` only names it.
    public init(url: URL, updates: [LoRAComponent: [String: LowRankUpdate]]) {
        self.url = url
        self.updates = updates
    }

    /// Modules adapted, over both networks.
    public var moduleCount: Int { updates.values.reduce(0) { $0 + $1.count } }

    /// Reads `url` (safetensors) and checks every module against `targets`.
    public static func load(_ url: URL, targets: LoRATargets) throws(LoRAError) -> LoRAWeights {
        let file: SafetensorsFile
        do { file = try SafetensorsFile(contentsOf: url) } catch { throw .file(error) }
        let path = url.path
        let alphas = try MetadataAlphas(file.metadata["lora_adapter_metadata"], file: path)

        struct Factors { var down: Tensor?; var up: Tensor?; var alpha: Float?; var tensor: String }
        var modules: [LoRAComponent: [String: Factors]] = [:]
        for name in file.tensorNames {
            let key: LoRAKey?
            do { key = try LoRAKey.parse(name) } catch {
                switch error {
                case let .variant(what), let .component(what): throw .unsupported(file: path, tensor: name, what: what)
                }
            }
            guard let key else { throw .unrecognisedTensor(file: path, tensor: name) }
            guard let module = targets.resolve(key) else { throw .unknownModule(file: path, tensor: name) }
            let tensor: Tensor
            do { tensor = try file.tensor(name) } catch { throw .file(error) }
            var factors = modules[key.component]?[module] ?? Factors(tensor: name)
            switch key.part {
            case .down: factors.down = tensor
            case .up: factors.up = tensor
            case .alpha:
                guard tensor.count == 1 else {
                    throw .shapeMismatch(file: path, module: module, weight: targets.shapes[key.component]?[module] ?? [], down: tensor.shape, up: [])
                }
                factors.alpha = tensor.pointer[0]
            }
            modules[key.component, default: [:]][module] = factors
        }

        var updates: [LoRAComponent: [String: LowRankUpdate]] = [:]
        for (component, byModule) in modules {
            for (module, factors) in byModule {
                guard let down = factors.down else { throw .missingFactor(file: path, module: module, factor: "down (A)") }
                guard let up = factors.up else { throw .missingFactor(file: path, module: module, factor: "up (B)") }
                let weight = targets.shapes[component]![module]!
                let rank = down.shape.first ?? 0
                // A carries the layer's kernel (k×k; a 1×1 convolution's A may also be a plain matrix);
                // B is always a matrix or a 1×1 convolution.
                let kernel = weight.count == 4 ? Array(weight[2...]) : []
                let downFits = down.shape.count >= 2 && down.shape[1] == weight[1]
                    && (Array(down.shape.dropFirst(2)) == kernel || (down.shape.count == 2 && kernel.allSatisfy { $0 == 1 })
                        || (weight.count == 2 && down.shape.dropFirst(2).allSatisfy { $0 == 1 }))
                let upFits = up.shape.count >= 2 && up.shape[0] == weight[0] && up.shape[1] == rank && up.shape.dropFirst(2).allSatisfy { $0 == 1 }
                guard rank > 0, downFits, upFits else {
                    throw .shapeMismatch(file: path, module: module, weight: weight, down: down.shape, up: up.shape)
                }
                let scale = factors.alpha.map { $0 / Float(rank) } ?? alphas.scale(component: component, module: module, rank: rank)
                updates[component, default: [:]][module] = LowRankUpdate(down: down, up: up, scale: scale)
            }
        }
        guard !updates.isEmpty else { throw .empty(file: path) }
        return LoRAWeights(url: url, updates: updates)
    }
}

/// diffusers' `lora_adapter_metadata`: the peft `LoraConfig` of each network, keys prefixed by the
/// network ("unet.r", "unet.lora_alpha", "text_encoder.alpha_pattern", …).
struct MetadataAlphas {
    private var configs: [LoRAComponent: [String: Any]] = [:]

    init(_ json: String?, file: String) throws(LoRAError) {
        guard let json else { return }
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            throw .badMetadata(file: file, reason: "not a JSON object")
        }
        for (key, value) in object {
            for component in LoRAComponent.allCases where key.hasPrefix(component.rawValue + ".") {
                configs[component, default: [:]][String(key.dropFirst(component.rawValue.count + 1))] = value
            }
        }
    }

    /// alpha / r for `module` of `component` (1 without a configured alpha).
    func scale(component: LoRAComponent, module: String, rank: Int) -> Float {
        guard let config = configs[component] else { return 1 }
        func number(_ value: Any?) -> Double? { (value as? NSNumber)?.doubleValue }
        func pattern(_ key: String) -> Double? {
            guard let table = config[key] as? [String: Any] else { return nil }
            // peft matches a pattern against the end of the module's name.
            return table.first { module == $0.key || module.hasSuffix("." + $0.key) }.flatMap { number($0.value) }
        }
        let r = pattern("rank_pattern") ?? number(config["r"]) ?? Double(rank)
        guard let alpha = pattern("alpha_pattern") ?? number(config["lora_alpha"]) else { return 1 }
        let rsLoRA = (config["use_rslora"] as? Bool) ?? false
        return Float(rsLoRA ? alpha / r.squareRoot() : alpha / r)
    }
}
