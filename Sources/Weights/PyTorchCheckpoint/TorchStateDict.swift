// Finding the weights inside an unpickled checkpoint and naming them. Checkpoints wrap the state
// dict in different ways:
//   - `torch.save(model.state_dict())` (diffusers/transformers `.bin`): the top level is the state dict;
//   - PyTorch Lightning (the original SD 1.x `.ckpt`, DreamBooth trainers built on it):
//     `{"state_dict": {"model.diffusion_model.…": tensor, …}, "global_step": …, "epoch": …,
//       "callbacks": …, "optimizer_states": …, "hyper_parameters": …}`;
//   - other trainers: `{"model": state_dict, …}` or `{"module": state_dict, …}`.
// Nested dicts below the chosen one are flattened with "." as `nn.Module.state_dict()` would name them.

/// The tensors of a checkpoint, by flattened name.
struct TorchStateDict {
    /// Tensor name → where its elements are.
    var records: [String: TorchTensorRecord] = [:]
    /// Names of entries in the state dict that are no tensor (numbers, placeholders), sorted.
    var skippedEntries: [String] = []

    /// Nested dicts deeper than this are refused (a cycle would otherwise never end).
    static let maximumDepth = 64
    /// Most dict entries visited while flattening. Memoised dicts may be shared, and sharing
    /// k levels deep names 2^k entries; no state dict has millions of tensors.
    static let maximumVisits = 1 << 20

    /// Keys under which a wrapper dict keeps the state dict, in order of preference.
    private static let wrapperKeys = ["state_dict", "model", "module"]

    /// Locates and flattens the state dict of the pickled `root`.
    init(root: PickleValue, file: String) throws(WeightsError) {
        guard case .dict(var dict) = root else {
            throw .noStateDict(file: file, reason: "the pickle holds \(root.kindDescription), not a dict")
        }
        // Descend through wrappers. "state_dict" always wins (a Lightning checkpoint also has
        // optimizer tensors elsewhere); "model"/"module" only when the dict holds no tensors itself,
        // since a flat state dict could have a tensor called "model".
        for _ in 0..<Self.maximumDepth {
            guard let inner = Self.wrapped(dict, file: file) else { break }
            dict = inner
        }
        try flatten(dict, file: file)
        skippedEntries.sort()
    }

    private static func wrapped(_ dict: PickleDict, file: String) -> PickleDict? {
        if case .dict(let inner) = dict["state_dict"] { return inner }
        let holdsTensors = dict.entries.contains { entry in
            guard case .call(let call) = entry.value, let role = call.global?.role else { return false }
            switch role {
            case .rebuildTensor, .rebuildTensorV2, .rebuildTensorV3, .rebuildParameter, .rebuildFromType: return true
            default: return false
            }
        }
        guard !holdsTensors else { return nil }
        for key in wrapperKeys.dropFirst() {
            if case .dict(let inner) = dict[key] { return inner }
        }
        return nil
    }

    /// Walks nested dicts iteratively (no recursion on untrusted depth).
    private mutating func flatten(_ top: PickleDict, file: String) throws(WeightsError) {
        var pending: [(prefix: String, dict: PickleDict, depth: Int)] = [("", top, 0)]
        var visits = 0
        while let (prefix, dict, depth) = pending.popLast() {
            guard depth < Self.maximumDepth else {
                throw .pickleLimitExceeded(file: file, limit: "state dict nested deeper than \(Self.maximumDepth) (or cyclic)")
            }
            for (key, value) in dict.entries {
                visits += 1
                guard visits <= Self.maximumVisits else {
                    throw .pickleLimitExceeded(file: file, limit: "more than \(Self.maximumVisits) state dict entries (shared dicts)")
                }
                let part: String
                switch key {
                case .string(let s): part = s
                case .int(let i): part = String(i)
                default: continue  // not a name a parameter can have
                }
                let name = prefix + part
                if case .dict(let inner) = value {
                    pending.append((name + ".", inner, depth + 1))
                } else if let record = try TorchTensorRecord.interpret(value, name: name, file: file) {
                    guard records.updateValue(record, forKey: name) == nil else {
                        throw .duplicateKey(file: file, key: name)
                    }
                } else {
                    skippedEntries.append(name)
                }
            }
        }
    }
}
