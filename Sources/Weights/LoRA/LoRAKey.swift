// What one tensor name of a LoRA file means: which network (UNet or text encoder), which module, and
// which part of the low-rank update (the down projection A, the up projection B, or alpha). LoRA files
// come in the layouts of the tools that write them, all read here:
//
//   peft (diffusers ≥ 0.26):   unet.<module>.lora_A.weight / .lora_B.weight
//                              text_encoder.<module>.lora_A.weight …
//   diffusers (older saves):   unet.<module>.lora.down.weight / .lora.up.weight
//                              text_encoder.<module>.lora_linear_layer.down.weight / .up.weight
//                              [unet.]<attention>.processor.to_q_lora.down.weight   (attention processors)
//                              <prefix>.<module>.alpha                            (kohya files converted)
//   kohya / A1111 / ComfyUI:   lora_unet_<module with _ for .>.lora_down.weight / .lora_up.weight / .alpha
//                              lora_te_… or lora_te1_… for the text encoder
//
// kohya names replace every "." of the module path by "_", which cannot be undone by rule
// ("transformer_blocks_0" vs "transformer.blocks.0"): they are resolved against the model's own
// module names (`LoRATargets`). Formats a LoRA can have but dbrender does not apply (DoRA's magnitude,
// LoHa's and LoKr's factors, SDXL's second text encoder) are named as such instead of being ignored.

/// The network a LoRA module belongs to.
public enum LoRAComponent: String, Sendable, CaseIterable, Hashable {
    case unet
    case textEncoder = "text_encoder"
}

/// One tensor name, parsed.
struct LoRAKey: Equatable {
    enum Part: Equatable { case down, up, alpha }

    let component: LoRAComponent
    /// The module as the file names it: a dotted path, or a kohya underscored name (`underscored`).
    let module: String
    let underscored: Bool
    let part: Part

    /// Why a name is not a LoRA tensor dbrender can apply; nil for a name that is simply not recognised.
    enum Unsupported: Error, Equatable {
        case variant(String)
        case component(String)
    }

    /// Parses `name`; nil when it is no LoRA tensor name of any known layout.
    static func parse(_ name: String) throws(Unsupported) -> LoRAKey? {
        for marker in ["dora_scale", "lora_magnitude_vector"] where name.contains(marker) {
            throw .variant("DoRA (\(marker))")
        }
        for marker in [".hada_w", ".lokr_w"] where name.contains(marker) {
            throw .variant("LyCORIS (\(marker.dropFirst()))")
        }
        for suffix in [".diff", ".diff_b"] where name.hasPrefix("lora_") && name.hasSuffix(suffix) {
            throw .variant("LyCORIS (\(suffix.dropFirst()))")
        }
        if name.hasPrefix("lora_") { return try parseKohya(name) }
        return parseDotted(name)
    }

    private static func parseKohya(_ name: String) throws(Unsupported) -> LoRAKey? {
        guard let dot = name.firstIndex(of: ".") else { return nil }
        let loraName = String(name[..<dot]), rest = String(name[name.index(after: dot)...])
        let part: Part
        switch rest {
        case "lora_down.weight": part = .down
        case "lora_up.weight": part = .up
        case "alpha": part = .alpha
        default: return nil
        }
        for (prefix, component) in [("lora_unet_", LoRAComponent.unet), ("lora_te1_", .textEncoder), ("lora_te_", .textEncoder)]
        where loraName.hasPrefix(prefix) {
            return LoRAKey(component: component, module: String(loraName.dropFirst(prefix.count)), underscored: true, part: part)
        }
        if loraName.hasPrefix("lora_te2_") { throw .component("a second text encoder (SDXL)") }
        return nil
    }

    /// (suffix, part) of the dotted layouts, longest first so that ".lora.down.weight" is not read as
    /// something ending in ".weight".
    private static let dottedSuffixes: [(String, Part)] = [
        (".lora_linear_layer.down.weight", .down), (".lora_linear_layer.up.weight", .up),
        (".lora.down.weight", .down), (".lora.up.weight", .up),
        (".lora_A.weight", .down), (".lora_B.weight", .up),
        (".down.weight", .down), (".up.weight", .up),  // attention processors: "to_q_lora.down.weight"
        (".alpha", .alpha),
    ]

    /// Attention-processor names of the projections, per network.
    private static let processorProjections: [LoRAComponent: [String: String]] = [
        .unet: ["to_q_lora": "to_q", "to_k_lora": "to_k", "to_v_lora": "to_v", "to_out_lora": "to_out.0"],
        .textEncoder: ["to_q_lora": "q_proj", "to_k_lora": "k_proj", "to_v_lora": "v_proj", "to_out_lora": "out_proj"],
    ]

    private static func parseDotted(_ name: String) -> LoRAKey? {
        var path = Substring(name), component = LoRAComponent.unet
        if path.hasPrefix("unet.") {
            path = path.dropFirst("unet.".count)
        } else if path.hasPrefix("text_encoder.") {
            path = path.dropFirst("text_encoder.".count)
            component = .textEncoder
        }
        guard let (suffix, part) = dottedSuffixes.first(where: { path.hasSuffix($0.0) }) else { return nil }
        var module = String(path.dropLast(suffix.count))
        if suffix == ".down.weight" || suffix == ".up.weight" {
            // Only the attention-processor layout ends this way: "<attention>[.processor].to_q_lora".
            guard let dot = module.lastIndex(of: "."),
                  let projection = processorProjections[component]?[String(module[module.index(after: dot)...])] else { return nil }
            var attention = String(module[..<dot])
            if attention.hasSuffix(".processor") { attention = String(attention.dropLast(".processor".count)) }
            module = attention + "." + projection
        }
        guard !module.isEmpty else { return nil }
        return LoRAKey(component: component, module: module, underscored: false, part: part)
    }
}
