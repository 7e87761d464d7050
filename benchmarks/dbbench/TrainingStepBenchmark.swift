// One DreamBooth optimizer step at full SD 1.5 size: the forward and backward pass (VAE encode,
// text encoder, UNet with its pullback) and the optimizer (clipping + AdamW over every trained
// parameter), timed apart; median of the repetitions after one warm-up step, and peak RSS.
// benchmarks/training.sh runs the same step in PyTorch on the same folder for the ratio. With `--lora`
// the step is DreamBooth-LoRA's (rank 4 on the attention projections, and the text encoder's with
// --text-encoder): the base stays mapped, only the factors train. `--cache-latents` keeps the VAE
// posteriors after the warm-up step (cache_latents), so the timed steps skip the encoder.
import Dispatch
import Foundation
import Models
import Sampling
import Tensor
import Training
import Weights

enum TrainingStepBenchmark {
    static func run(modelPath: String, resolution: Int, priorPreservation: Bool, trainTextEncoder: Bool,
                    checkpointing: Bool, lora: Bool = false, cacheLatents: Bool = false, repetitions: Int, json: Bool) throws {
        let url = URL(fileURLWithPath: modelPath)
        TensorBufferRecycling.setDefaultCapacity(bytes: 64 << 30)  // as dbtrain does
        let setupStart = DispatchTime.now().uptimeNanoseconds
        let checkpoint = try ModelCheckpoint.open(url)
        let loraSettings = lora ? DreamBoothModels.LoRASettings(rank: 4, alpha: 4, unetTargets: ["to_k", "to_q", "to_v", "to_out.0"],
                                                                 textEncoderTargets: ["q_proj", "k_proj", "v_proj", "out_proj"], seed: 0) : nil
        let models = try DreamBoothModels(checkpoint: checkpoint, trainTextEncoder: trainTextEncoder, lora: loraSettings)
        let modelsTime = seconds(since: setupStart)
        let noising = try DDPMNoising(configuration: try ModelCheckpoint.open(url).schedulerConfiguration())
        let step = DreamBoothStep(models: models, noising: noising, loss: DreamBoothLoss(priorPreservation: priorPreservation),
                                  optimizer: AdamWHyperparameters(), maxGradNorm: 1)
        step.gradientCheckpointing = checkpointing
        // The warm-up step fills the cache; the timed steps see the same images, as a run's later epochs do.
        if cacheLatents { step.latentCache = LatentCache() }
        let setup = seconds(since: setupStart)
        if !json { print(String(format: "setup: networks into arenas %.2f s, optimizer state %.2f s", modelsTime, setup - modelsTime)) }

        let count = priorPreservation ? 2 : 1
        var generator = TorchGenerator(seed: 0)
        let pixels = generator.randn([count, 3, resolution, resolution])
        for i in 0..<pixels.count { pixels.pointer[i] = max(-1, min(1, pixels.pointer[i] / 3)) }
        let prompt = [49406, 320, 1125, 539, 48136, 1929, 49407] + [Int](repeating: 49407, count: 70)
        let batch = DreamBoothBatch(pixelValues: pixels, tokenIDs: [[Int]](repeating: prompt, count: count), instanceCount: 1)
        let side = resolution / 8
        var passes: [Double] = [], updates: [Double] = []
        for r in 0...repetitions {
            let draws = DreamBoothNoise(latentSample: generator.randn([count, 4, side, side]), noise: generator.randn([count, 4, side, side]),
                                        timesteps: (0..<count).map { (r * 389 + $0 * 577) % 1000 })
            let passStart = DispatchTime.now().uptimeNanoseconds
            _ = step.accumulate(batch, noise: draws)
            let pass = seconds(since: passStart)
            let updateStart = DispatchTime.now().uptimeNanoseconds
            _ = step.applyGradients(learningRate: 5e-6)
            let update = seconds(since: updateStart)
            if r > 0 { passes.append(pass); updates.append(update) }  // the first is a warm-up
        }
        let median = { (values: [Double]) in values.sorted()[values.count / 2] }
        let trained = models.arenas.reduce(0) { $0 + $1.entries.reduce(0) { $0 + $1.count } }
        let rows: [(String, Double)] = [("setup (weights into the arenas)", setup), ("forward + backward", median(passes)),
                                        ("clip + AdamW", median(updates)), ("optimizer step total", median(passes) + median(updates))]
        if json {
            let objects = rows.map { ["name": $0.0, "seconds": $0.1, "peak_rss": Double(ModelBenchmarks.peakRSS())] as [String: Any] }
            print(String(decoding: try JSONSerialization.data(withJSONObject: objects), as: UTF8.self))
        } else {
            print("DreamBooth\(lora ? "-LoRA" : "") step\(cacheLatents ? " (cached latents)" : ""), \(resolution) px, batch \(count), \(trained) trained parameters, median of \(repetitions)")
            for (name, value) in rows { print(String(format: "  %-34@ %8.2f s", name as NSString, value)) }
            print("  peak RSS \(ModelBenchmarks.peakRSS() / 1_000_000) MB")
        }
    }

    static func seconds(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
}
