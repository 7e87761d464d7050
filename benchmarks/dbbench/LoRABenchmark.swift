// LoRAs applied beside the base weights: the UNet call with a rank-16 LoRA on every attention
// projection (to_q, to_k, to_v, to_out.0) against the same call without, and a mixed batch — two
// requests with two different LoRAs in one call — against the same two requests one after another.
// Same run, same inputs; figures are ratios (the target for the LoRA overhead is ≤ 1.1×).
import Foundation
import Models
import Tensor
import Weights

enum LoRABenchmark {
    static func run(modelPath: String, rank: Int, repetitions: Int) throws {
        ThreadPool.shared.configure(threads: ThreadPool.shared.threads)
        let checkpoint = try ModelCheckpoint.open(URL(fileURLWithPath: modelPath))
        let c = checkpoint.configurations
        let unet = try UNet2DCondition(configuration: c.unet, parameters: checkpoint.source(.unet))
        let source = checkpoint.source(.unet)
        let projections = source.keys.filter { key in [".to_q.weight", ".to_k.weight", ".to_v.weight", ".to_out.0.weight"].contains { key.hasSuffix($0) } }
        func lora(seed: Float) -> [String: LowRankUpdate] {
            Dictionary(uniqueKeysWithValues: projections.map { key in
                let shape = source.storedShape(key)!
                return (String(key.dropLast(".weight".count)),
                        LowRankUpdate(down: randomTensor([rank, shape[1]], scale: 0.01 * seed), up: randomTensor([shape[0], rank], scale: 0.01), scale: 1))
            })
        }
        let first = RowAdapters.Adapter(updates: lora(seed: 1), weight: 1), second = RowAdapters.Adapter(updates: lora(seed: 2), weight: 0.8)
        var table = Table(columns: ["UNet call, \(projections.count) projections, rank \(rank)", "base s", "with LoRA s", "ratio"])
        for size in [32, 64] {
            let latents = randomTensor([2, 4, size, size]), context = randomTensor([2, 77, c.unet.crossAttentionDim])
            let call = { _ = unet(latents, timesteps: [500, 500], context: context) }
            let base = measure(repetitions, call)
            let adapted = RowAdapters.$current.withValue(RowAdapters(rows: [[first], [first]])) { measure(repetitions, call) }
            table.add(["batch 2 (one CFG step), \(size * 8) px", String(format: "%.3f", base), String(format: "%.3f", adapted),
                       String(format: "%.3f×", adapted / base)])
            // Two guided requests, each with its own LoRA: one 4-row call against two 2-row calls.
            let four = randomTensor([4, 4, size, size]), fourContext = randomTensor([4, 77, c.unet.crossAttentionDim])
            let mixed = RowAdapters.$current.withValue(RowAdapters(rows: [[first], [first], [second], [second]])) {
                measure(repetitions) { _ = unet(four, timesteps: [500, 500, 500, 500], context: fourContext) }
            }
            let sequential = measure(repetitions) {
                for (i, adapter) in [first, second].enumerated() {
                    RowAdapters.$current.withValue(RowAdapters(rows: [[adapter], [adapter]])) {
                        _ = unet(four.slice((2 * i)..<(2 * i + 2)), timesteps: [500, 500], context: fourContext.slice((2 * i)..<(2 * i + 2)))
                    }
                }
            }
            table.add(["2 requests × 2 LoRAs: one call vs one after another, \(size * 8) px", String(format: "%.3f", sequential),
                       String(format: "%.3f", mixed), String(format: "%.3f×", mixed / sequential)])
        }
        table.print()
    }
}
