// The decoders of a model's final latents at full SD 1.5 size: the VAE decoder (plain and tiled) and
// TAESD's decoder (diffusers' AutoencoderTiny at its default size; random weights time the same as
// trained ones), at 64×64 latents (512 px) and, with --large, 128×128 (1024 px, where the VAE tiles);
// median time, the TAESD speed-up over the VAE measured in the same run, and the process's peak RSS
// after each (RSS only grows, so the rows run from the smallest working set up). --taesd-only skips the VAE;
// --latent-sizes 32,64 picks the latent sizes.
import Foundation
import Models
import Tensor
import Weights

enum DecoderBenchmark {
    static func run(modelPath: String, large: Bool, latentSizes: [Int]? = nil, taesdOnly: Bool = false, repetitions: Int) throws {
        let checkpoint = try ModelCheckpoint.open(URL(fileURLWithPath: modelPath))
        let vae = try AutoencoderKL(configuration: checkpoint.configurations.vae, parameters: checkpoint.source(.vae))
        let taesd = try AutoencoderTiny(configuration: TinyAutoencoderConfiguration(), parameters: RandomParameterSource(seed: 0), encoder: false)
        var table = Table(columns: ["decoder (\(ThreadPool.shared.threads) threads)", "latents", "seconds", "VAE / this", "peak RSS MB"])
        for size in latentSizes ?? (large ? [64, 128] : [64]) {
            let latents = randomTensor([1, 4, size, size])
            let tiny = measure(repetitions) { _ = taesd.decoder!(latents) }
            table.add(["TAESD", "\(size)×\(size)", String(format: "%.3f", tiny), "", "\(ModelBenchmarks.peakRSS() / 1_048_576)"])
            if taesdOnly { continue }
            let tiled = measure(max(1, repetitions / 2)) { _ = vae.decodeTiled(latents) }
            table.add(["VAE, tiled", "\(size)×\(size)", String(format: "%.3f", tiled), "", "\(ModelBenchmarks.peakRSS() / 1_048_576)"])
            let full = measure(max(1, repetitions / 2)) { _ = vae.decode(latents) }
            table.add(["VAE", "\(size)×\(size)", String(format: "%.3f", full), "1.00", "\(ModelBenchmarks.peakRSS() / 1_048_576)"])
            print(String(format: "%d×%d latents: TAESD decodes %.1f× faster than the VAE", size, size, full / tiny))
        }
        table.print()
    }
}
