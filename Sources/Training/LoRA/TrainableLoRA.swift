// The LoRA a training run learns for one network (train_dreambooth_lora.py's peft LoraConfig): for
// every module whose path ends with a target name ("to_q", "to_out.0", "q_proj", …), factors
// A [rank, in] and B [out, rank] on a parameter arena — A drawn from N(0, (1/rank)²) and B zero
// (peft's "gaussian" init), so training starts from the base model exactly — and the update
// scale alpha / rank. The base weights stay mapped from the file and get no gradients.
import Models
import Weights

/// Trainable LoRA factors of one network.
public struct TrainableLoRA: @unchecked Sendable {
    /// The factors, keyed "<module>.lora_A.weight" / "<module>.lora_B.weight".
    public let arena: ParameterArena
    /// Module path → its update (views of the arena).
    public let updates: [String: LowRankUpdate]
    public let rank: Int
    public let alpha: Double

    /// The modules of `source` (a network's weights) that `targets` name: linear layers (rank-2
    /// weights) whose path is a target or ends with "." + a target, in key order.
    public static func modules(of source: CheckpointParameterSource, targets: [String]) -> [(module: String, shape: [Int])] {
        source.keys.compactMap { key in
            guard key.hasSuffix(".weight"), let shape = source.storedShape(key), shape.count == 2 else { return nil }
            let module = String(key.dropLast(".weight".count))
            return targets.contains { module == $0 || module.hasSuffix("." + $0) } ? (module, shape) : nil
        }
    }

    /// Fresh factors for `modules`, drawn from `seed`.
    public init(modules: [(module: String, shape: [Int])], rank: Int, alpha: Double, seed: UInt64) throws {
        (updates, arena) = try ParameterArena.build(from: RandomParameterSource(seed: seed)) { source in
            try Dictionary(uniqueKeysWithValues: modules.map { module, shape in
                let down = try source.parameter("\(module).lora_A.weight", shape: [rank, shape[1]], initializer: .normal(std: 1 / Float(rank)))
                let up = try source.parameter("\(module).lora_B.weight", shape: [shape[0], rank], initializer: .zeros)
                return (module, LowRankUpdate(down: down, up: up, scale: Float(alpha / Double(rank))))
            })
        }
        self.rank = rank
        self.alpha = alpha
    }

    /// This LoRA as the adapter of every row of a batch of `rows`.
    public func adapters(rows: Int) -> RowAdapters {
        RowAdapters(rows: Array(repeating: [RowAdapters.Adapter(updates: updates, weight: 1)], count: rows))
    }
}
