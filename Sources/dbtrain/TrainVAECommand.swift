// `dbtrain train-vae`: a model folder's VAE trained on a folder of images.
import ArgumentParser
import Foundation
import Tensor
import Training

/// `dbtrain train-vae --model DIR --data DIR --out DIR [--resolution 64 --steps 1000 …]`
struct TrainVAE: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-vae",
        abstract: "Train a model folder's VAE on a folder of images (reconstruction + a small KL term).",
        discussion: """
            For a model made from nothing: `dbtrain init` writes a random model, this trains its autoencoder, \
            and text-to-image training (train_data_dir) then trains the UNet and text encoder in its latents. \
            Writes the model folder with the trained VAE into --out, vae_log.jsonl (one line per step) and \
            checkpoint-<step>/ folders; --resume continues from the latest, ending with the uninterrupted run's weights.
            """)

    @Option(help: "The diffusers model folder whose VAE is trained.")
    var model: String
    @Option(help: "A folder of images (captions beside them are ignored).")
    var data: String
    @Option(help: "Where the model folder with the trained VAE goes.")
    var out: String
    @Option(help: "Training image side in pixels.")
    var resolution = 64
    @Option(help: "Optimizer steps.")
    var steps = 1000
    @Option(name: .customLong("batch-size"), help: "Images per step.")
    var batchSize = 8
    @Option(name: .customLong("learning-rate"), help: "AdamW learning rate (the schedule's peak).")
    var learningRate = 1e-3
    @Option(name: .customLong("lr-scheduler"), help: "Learning-rate schedule: \(LearningRateSchedule.Kind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var lrScheduler = LearningRateSchedule.Kind.constant
    @Option(name: .customLong("lr-warmup-steps"), help: "Warm-up steps of the schedule.")
    var lrWarmupSteps = 0
    @Option(name: .customLong("kl-weight"), help: "Weight of the KL term.")
    var klWeight = 1e-6
    @Option(help: "Random seed (image order, flips, posterior noise).")
    var seed: UInt64 = 0
    @Option(name: .customLong("scaling-factor"), help: "The VAE's latent scaling factor (default: 1 / std of the trained VAE's latents of the images).")
    var scalingFactor: Float?
    @Flag(name: .customLong("decoder-only"), help: "Train the decoder only: the encoder and the latent scaling factor stay, so the model's UNet still fits (refining a trained model's decoder).")
    var decoderOnly = false
    @Option(name: .customLong("checkpointing-steps"), help: "Steps between checkpoints (<out>/checkpoint-<step>/).")
    var checkpointingSteps = 500
    @Flag(help: "Continue from the latest checkpoint in --out.")
    var resume = false
    @Option(help: "Compute threads (default: all cores).")
    var threads: Int?

    func run() throws {
        ThreadPool.shared.configure(threads: threads ?? ThreadPool.shared.threads)
        // A training step's peak memory is its working set, reached again every step: keep every freed
        // activation for the next step instead of faulting in fresh zeroed pages (kept memory never
        // lifts the process above that peak: see RecycledBuffers).
        TensorBufferRecycling.setDefaultCapacity(bytes: 64 << 30)
        var settings = VAETrainingSettings(modelDirectory: model, dataDirectory: data, outputDirectory: out)
        settings.resolution = resolution; settings.steps = steps; settings.batchSize = batchSize
        settings.learningRate = learningRate; settings.klWeight = klWeight; settings.seed = seed
        settings.scalingFactor = scalingFactor
        settings.lrScheduler = lrScheduler
        settings.lrWarmupSteps = lrWarmupSteps
        settings.checkpointingSteps = checkpointingSteps
        settings.decoderOnly = decoderOnly
        let interrupt = InterruptFlag()
        try CommandFailure.reporting("dbtrain train-vae") {
            try VAETrainer.run(settings, resume: resume, isCancelled: { interrupt.isSet }) { entry, value in
                if entry.step == 1 || entry.step % 50 == 0 || entry.step == steps {
                    print(String(format: "step %d/%d  loss %.5f  reconstruction %.5f  kl %.1f  grad norm %.3f",
                                 entry.step, steps, entry.loss, value.reconstruction, value.kl, entry.gradNorm))
                }
            } scaled: { factor in
                print(String(format: "latent scaling factor %.5f", factor))
            }
        }
        try CommandFailure.stopIfInterrupted(interrupt, "dbtrain train-vae", "a checkpoint is saved; resume with --resume")
        print("wrote \(out)")
    }
}

extension LearningRateSchedule.Kind: ExpressibleByArgument {}
