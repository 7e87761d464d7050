// The modules of a model that a LoRA may adapt, with their weight shapes: every linear layer and every
// convolution (LoCon: an LCM-LoRA adapts the resnets' 3×3 convolutions too), named as the model folder's weights name them (diffusers' module paths; the text
// encoder's without transformers' "text_model." prefix). A LoRA file is checked against this table
// before it is used, and kohya's underscored names are resolved through it.

/// The adaptable modules of one model.
public struct LoRATargets: Sendable {
    /// Module path → weight shape ([out, in] or [out, in, k, k]), per network.
    public let shapes: [LoRAComponent: [String: [Int]]]
    /// kohya's name for each module (every "." replaced by "_"), per network.
    private let kohyaNames: [LoRAComponent: [String: String]]

    /// The targets among the weights of each network: every `<module>.weight` of rank 2, or of rank 4
    /// with a square kernel.
    public init(weightShapes: [LoRAComponent: [String: [Int]]]) {
        var shapes: [LoRAComponent: [String: [Int]]] = [:]
        var kohyaNames: [LoRAComponent: [String: String]] = [:]
        for (component, weights) in weightShapes {
            for (key, shape) in weights where key.hasSuffix(".weight") {
                guard shape.count == 2 || (shape.count == 4 && shape[2] == shape[3]) else { continue }
                var module = String(key.dropLast(".weight".count))
                if component == .textEncoder && module.hasPrefix("text_model.") { module.removeFirst("text_model.".count) }
                shapes[component, default: [:]][module] = shape
                kohyaNames[component, default: [:]][Self.kohyaName(module, component)] = module
            }
        }
        self.shapes = shapes
        self.kohyaNames = kohyaNames
    }

    /// kohya's name of `module`: the path as the original network names it, dots made underscores
    /// (the text encoder's modules are under "text_model." there).
    public static func kohyaName(_ module: String, _ component: LoRAComponent) -> String {
        let path = component == .textEncoder ? "text_model." + module : module
        return path.replacingOccurrences(of: ".", with: "_")
    }

    /// Our name for a module a file names (dotted or kohya-underscored); nil when the model has no such
    /// adaptable module.
    func resolve(_ key: LoRAKey) -> String? {
        if key.underscored { return kohyaNames[key.component]?[key.module] }
        var module = key.module
        if key.component == .textEncoder && module.hasPrefix("text_model.") { module.removeFirst("text_model.".count) }
        return shapes[key.component]?[module] != nil ? module : nil
    }
}
