// Classifier-free guidance as ONE batched UNet call (batch 2: unconditional + conditional) against
// two separate batch-1 calls, at 32×32 and 64×64 latents (or `--latent-sizes 32,…`) on the full SD 1.5
// UNet, same run.
import Foundation
import Models
import Tensor
import Weights

enum GuidanceBenchmark {
    static func run(modelPath: String, latentSizes: [Int] = [32, 64], repetitions: Int) throws {
        ThreadPool.shared.configure(threads: ThreadPool.shared.threads)
        let checkpoint = try ModelCheckpoint.open(URL(fileURLWithPath: modelPath))
        let c = checkpoint.configurations
        let unet = try UNet2DCondition(configuration: c.unet, parameters: checkpoint.source(.unet))
        let context = randomTensor([2, 77, c.unet.crossAttentionDim])
        var table = Table(columns: ["CFG step, SD 1.5 UNet", "batched s", "2 × batch-1 s", "speed-up"])
        for size in latentSizes {
            let latents = randomTensor([2, 4, size, size])
            let batched = measure(repetitions) { _ = unet(latents, timesteps: [500, 500], context: context) }
            let separate = measure(repetitions) {
                for i in 0..<2 {
                    _ = unet(latents.slice(i..<(i + 1)), timesteps: [500], context: context.slice(i..<(i + 1)))
                }
            }
            table.add(["\(size)×\(size) latents (\(size * 8) px)", String(format: "%.3f", batched),
                       String(format: "%.3f", separate), String(format: "%.2f×", separate / batched)])
        }
        table.print()
    }
}
