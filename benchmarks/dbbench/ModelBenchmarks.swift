// Model benchmarks at full SD 1.5 size (random weights: speed does not depend on their values):
// text encoder (batch 2), UNet (batch 2 — one classifier-free-guidance step) at 32×32 and 64×64
// latents, VAE decode at 32×32 and 64×64 latents, and TAESD's decoder (diffusers' AutoencoderTiny at its
// default size, random weights) on the same latents; median time and the process's peak RSS. With
// `renderSteps` > 0, also one whole 512×512 render (prompt encoding, that many guided euler steps, VAE
// decode) through the pipeline dbrenderd serves with, timed once after the components have warmed up.
// benchmarks/models.sh runs PyTorch on the same folder in the same run and prints the ratios.
import Foundation
import Models
import Sampling
import Tensor
import Weights

enum ModelBenchmarks {
    static func run(modelPath: String, repetitions: Int, renderSteps: Int = 0, json: Bool) throws {
        let threads = ThreadPool.shared.threads
        ThreadPool.shared.configure(threads: threads)
        var results: [(name: String, seconds: Double, peakRSS: Int)] = []
        let loadStart = DispatchTime.now().uptimeNanoseconds
        let checkpoint = try ModelCheckpoint.open(URL(fileURLWithPath: modelPath))
        let c = checkpoint.configurations
        let text = try CLIPTextEncoder(configuration: c.textEncoder, parameters: checkpoint.source(.textEncoder))
        let unet = try UNet2DCondition(configuration: c.unet, parameters: checkpoint.source(.unet))
        let vae = try AutoencoderKL(configuration: c.vae, parameters: checkpoint.source(.vae))
        results.append(("load (mmap)", Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e9, peakRSS()))

        let ids = [[49406, 320, 1125, 539, 48136, 1929] + Array(repeating: 49407, count: 71),
                   [49406] + Array(repeating: 49407, count: 76)]
        let textTime = measure(repetitions) { _ = text(ids) }
        results.append(("text encoder, batch 2", textTime, peakRSS()))
        let context = text(ids)
        for size in [32, 64] {
            let latents = randomTensor([2, 4, size, size])
            let t = measure(repetitions) { _ = unet(latents, timesteps: [500, 500], context: context) }
            results.append(("UNet batch 2, \(size)×\(size) latents (\(size * 8) px)", t, peakRSS()))
        }
        for size in [32, 64] {
            let latents = randomTensor([1, 4, size, size])
            let t = measure(max(1, repetitions / 2)) { _ = vae.decode(latents) }
            results.append(("VAE decode, \(size)×\(size) latents (\(size * 8) px)", t, peakRSS()))
        }
        let taesd = try AutoencoderTiny(configuration: TinyAutoencoderConfiguration(), parameters: RandomParameterSource(seed: 0), encoder: false)
        for size in [32, 64] {
            let latents = randomTensor([1, 4, size, size])
            let t = measure(repetitions) { _ = taesd.decoder!(latents) }
            results.append(("TAESD decode, \(size)×\(size) latents (\(size * 8) px)", t, peakRSS()))
        }
        if renderSteps > 0 {
            let pipeline = try StableDiffusionPipeline(checkpoint: checkpoint)
            var request = RenderRequest(prompt: "a photograph of an astronaut riding a horse", seed: 0)
            request.steps = renderSteps
            request.sampler = "euler"
            request.width = 512
            request.height = 512
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try pipeline.render(request)
            results.append(("render 512×512, \(renderSteps) euler steps, guidance 7.5",
                            Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, peakRSS()))
        }
        if json {
            let rows = results.map { "{\"name\": \"\($0.name)\", \"seconds\": \($0.seconds), \"peak_rss_mb\": \($0.peakRSS / 1_048_576)}" }
            print("[" + rows.joined(separator: ",\n ") + "]")
        } else {
            var table = Table(columns: ["dbrender (\(threads) threads)", "seconds", "peak RSS MB"])
            for r in results { table.add([r.name, String(format: "%.3f", r.seconds), "\(r.peakRSS / 1_048_576)"]) }
            table.print()
        }
    }

    /// The process's peak resident set size in bytes.
    static func peakRSS() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss * 1024
    }
}
