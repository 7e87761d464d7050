// dbtrain — the offline DreamBooth trainer.
//   dbtrain --config train.yaml [--resume] [--<setting> value …]   fine-tune (train_dreambooth.py's keys)
//   dbtrain init --preset sd15|tiny|shapes --out DIR --seed N             a randomly initialised model folder
//   dbtrain make-shapes --out DIR --count N --seed S [--size 64] [--include-held-out]
//                                                                   a shapes-world image folder (imagefolder layout)
//   dbtrain train-vae --model DIR --data DIR --out DIR [--steps N …] train a model folder's VAE on images
//   dbtrain evaluate-shapes --model DIR [--seeds N]                  score a shapes-world model from pixels
//   dbtrain evaluate-subject --model DIR [--seeds N]                 score the striped-star DreamBooth demo
import ArgumentParser
import Dispatch
import Foundation
import Models
import Sampling
import Tensor
import Training
import Weights

@main
struct DBTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dbtrain",
        abstract: "DreamBooth fine-tuning for Stable Diffusion 1.x models.",
        subcommands: [Train.self, Init.self, MakeShapes.self, TrainVAE.self, EvaluateShapes.self, EvaluateSubject.self],
        defaultSubcommand: Train.self)
}

/// `dbtrain --config train.yaml [--resume] [--max_train_steps 400 …]`
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune a model on 3–5 photos of a subject (DreamBooth).",
        discussion: """
            Settings are diffusers' train_dreambooth.py options, in a YAML file; any of them can be given \
            on the command line too (--max_train_steps 400, --with_prior_preservation). Writes the trained \
            model folder, checkpoint-<step>/ folders, train_log.jsonl and TensorBoard logs into output_dir.
            """)

    @Option(help: "YAML file of training settings.")
    var config: String

    @Flag(help: "Continue from the latest checkpoint in output_dir.")
    var resume = false

    @Option(help: "Compute threads (default: all cores).")
    var threads: Int?

    @Argument(parsing: .allUnrecognized, help: "Settings that override the file's: --<setting> <value>.")
    var overrides: [String] = []

    func run() throws {
        let configuration: TrainingConfiguration
        do {
            configuration = try TrainingConfiguration.load(file: URL(fileURLWithPath: config), overrides: overrides)
        } catch {
            throw ValidationError("\(error)")
        }
        ThreadPool.shared.configure(threads: threads ?? ThreadPool.shared.threads)
        let interrupt = InterruptFlag()
        let trainer = DreamBoothTrainer(configuration: configuration)
        do {
            try trainer.run(resume: resume, isCancelled: { interrupt.isSet }) { event in Self.print(event) }
        } catch {
            FileHandle.standardError.write(Data("dbtrain: \(error)\n".utf8))
            throw ExitCode.failure
        }
        if interrupt.isSet {
            FileHandle.standardError.write(Data("dbtrain: interrupted; resume with --resume\n".utf8))
            throw ExitCode(130)
        }
    }

    static func print(_ event: TrainerEvent) {
        let line: String?
        switch event {
        case let .classImages(done, total): line = done == total ? "class images: \(total) written" : nil
        case let .promptTruncated(prompt, dropped):
            line = "warning: CLIP reads 75 tokens; dropped from \"\(prompt.prefix(40))…\": \"\(dropped)\""
        case let .resumed(url, step): line = "resumed from \(url.path) at step \(step)"
        case let .started(steps, examples, parameters):
            line = "training \(steps) steps on \(examples) examples (\(parameters) trained parameters)"
        case let .step(entry, total):
            line = String(format: "step %d/%d  loss %.5f%@  lr %.3g  grad_norm %.4f  %.1f s",
                          entry.step, total, entry.loss, entry.priorLoss.map { String(format: "  prior_loss %.5f", $0) } ?? "",
                          entry.lr, entry.gradNorm, entry.seconds)
        case let .checkpoint(url): line = "saved \(url.path)"
        case let .validation(urls): line = "validation images: \(urls.map(\.lastPathComponent).joined(separator: ", "))"
        case let .finished(url): line = "wrote the trained model to \(url.path)"
        }
        if let line { FileHandle.standardError.write(Data((line + "\n").utf8)) }
    }
}

/// Set by SIGINT/SIGTERM: the run stops at the next micro-batch and saves a checkpoint.
final class InterruptFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var set = false
    private var sources: [DispatchSourceSignal] = []

    init() {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [unowned self] in self.lock.withLock { self.set = true } }
            source.resume()
            sources.append(source)
        }
    }

    var isSet: Bool { lock.withLock { set } }
}

/// `dbtrain init --preset sd15|tiny|shapes --out DIR --seed N`
struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a randomly initialised model folder in diffusers layout.")

    @Option(help: "Architecture: \(RandomModelFolder.Preset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var preset: RandomModelFolder.Preset

    @Option(help: "Folder to create (must not exist, or be empty).")
    var out: String

    @Option(help: "Random seed: the same seed writes the same weights.")
    var seed: UInt64 = 0

    func run() throws {
        let start = Date()
        let url = URL(fileURLWithPath: out)
        do {
            let summary = try RandomModelFolder.write(preset.configurations, seed: seed, to: url)
            let counts = ModelComponent.allCases.map { "\($0.rawValue) \(formatCount(summary.parameterCounts[$0] ?? 0))" }
            print("wrote \(url.path): \(preset.rawValue), seed \(seed) (\(counts.joined(separator: ", ")) parameters) in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
        } catch {
            throw ValidationError("cannot write \(url.path): \(error)")
        }
    }

    private func formatCount(_ n: Int) -> String {
        n >= 1_000_000 ? String(format: "%.1f M", Double(n) / 1e6) : String(format: "%.1f k", Double(n) / 1e3)
    }
}

extension RandomModelFolder.Preset: ExpressibleByArgument {}

/// `dbtrain make-shapes --out DIR --count N --seed S [--size 64] [--include-held-out]`
struct MakeShapes: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make-shapes",
        abstract: "Write a shapes-world data set: anti-aliased shapes with captions, in imagefolder layout.",
        discussion: """
            Writes DIR/00000.png …, a caption beside each (00000.txt: "a red circle on a blue background") \
            and DIR/metadata.jsonl ({"file_name", "text"} per image, as diffusers' train_text_to_image.py \
            reads it). Image i depends only on the seed and i. The training set never shows the \
            \(ShapesDataset.heldOutCombinations.count) held-out combinations; --include-held-out writes an \
            evaluation set of only those.
            """)

    @Option(help: "Folder to write (created if missing; must be empty).")
    var out: String

    @Option(help: "Number of images.")
    var count: Int

    @Option(help: "Random seed: the same seed writes the same images.")
    var seed: UInt64 = 0

    @Option(help: "Image side in pixels (\(ShapesFolder.sizeRange.lowerBound)–\(ShapesFolder.sizeRange.upperBound)).")
    var size: Int = 64

    @Flag(help: "Write only the held-out combinations (an evaluation set) instead of the training ones.")
    var includeHeldOut = false

    @Flag(help: "Write DreamBooth instance images of the striped star (StripedSubject) instead: PNGs only, no captions.")
    var subject = false

    func run() throws {
        let start = Date()
        let url = URL(fileURLWithPath: out)
        if subject {
            do {
                try StripedSubject.writeInstanceImages(count: count, seed: seed, side: size, to: url)
            } catch {
                FileHandle.standardError.write(Data("dbtrain make-shapes: \(error)\n".utf8))
                throw ExitCode.failure
            }
            print("wrote \(count) instance images of the striped star, \(size)x\(size), to \(url.path) (seed \(seed))")
            return
        }
        let dataset = ShapesDataset(seed: seed, split: includeHeldOut ? .heldOut : .training)
        do {
            try ShapesFolder.write(dataset, count: count, side: size, to: url)
        } catch {
            FileHandle.standardError.write(Data("dbtrain make-shapes: \(error)\n".utf8))
            throw ExitCode.failure
        }
        print("wrote \(count) images of \(size)x\(size) to \(url.path): \(dataset.split.rawValue) split, " +
              "\(dataset.combinations.count) combinations, seed \(seed), in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
    }
}

/// `dbtrain train-vae --model DIR --data DIR --out DIR [--resolution 64 --steps 1000 …]`
struct TrainVAE: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-vae",
        abstract: "Train a model folder's VAE on a folder of images (reconstruction + a small KL term).",
        discussion: """
            For a model made from nothing: `dbtrain init` writes a random model, this trains its autoencoder, \
            and text-to-image training (train_data_dir) then trains the UNet and text encoder in its latents. \
            Writes the model folder with the trained VAE into --out, and vae_log.jsonl (one line per step).
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
    @Option(name: .customLong("learning-rate"), help: "AdamW learning rate (constant).")
    var learningRate = 1e-3
    @Option(name: .customLong("kl-weight"), help: "Weight of the KL term.")
    var klWeight = 1e-6
    @Option(help: "Random seed (image order, flips, posterior noise).")
    var seed: UInt64 = 0
    @Option(name: .customLong("scaling-factor"), help: "The VAE's latent scaling factor (default: 1 / std of the trained VAE's latents of the images).")
    var scalingFactor: Float?
    @Option(help: "Compute threads (default: all cores).")
    var threads: Int?

    func run() throws {
        ThreadPool.shared.configure(threads: threads ?? ThreadPool.shared.threads)
        var settings = VAETrainingSettings(modelDirectory: model, dataDirectory: data, outputDirectory: out)
        settings.resolution = resolution; settings.steps = steps; settings.batchSize = batchSize
        settings.learningRate = learningRate; settings.klWeight = klWeight; settings.seed = seed
        settings.scalingFactor = scalingFactor
        let interrupt = InterruptFlag()
        do {
            try VAETrainer.run(settings, isCancelled: { interrupt.isSet }) { entry, value in
                if entry.step == 1 || entry.step % 50 == 0 || entry.step == steps {
                    print(String(format: "step %d/%d  loss %.5f  reconstruction %.5f  kl %.1f  grad norm %.3f",
                                 entry.step, steps, entry.loss, value.reconstruction, value.kl, entry.gradNorm))
                }
            } scaled: { factor in
                print(String(format: "latent scaling factor %.5f", factor))
            }
        } catch {
            FileHandle.standardError.write(Data("dbtrain train-vae: \(error)\n".utf8))
            throw ExitCode.failure
        }
        if interrupt.isSet {
            FileHandle.standardError.write(Data("dbtrain train-vae: interrupted; nothing written but vae_log.jsonl\n".utf8))
            throw ExitCode(130)
        }
        print("wrote \(out)")
    }
}

/// `dbtrain evaluate-shapes --model DIR [--seeds 4] [--size 64] [--steps 20]`
struct EvaluateShapes: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate-shapes",
        abstract: "Render every shapes-world caption at fixed seeds and score the images from their pixels.",
        discussion: "A render matches when its background colour, shape colour and shape kind, as ShapeAnalysis reads them, are the prompt's.")

    @Option(help: "The model folder (or single file) to evaluate.")
    var model: String
    @Option(help: "Seeds per combination (0, 1, …).")
    var seeds = 4
    @Option(help: "Image side in pixels.")
    var size = 64
    @Option(help: "Sampling steps (DPM-Solver++ 2M).")
    var steps = 20
    @Option(help: "Compute threads (default: all cores).")
    var threads: Int?

    func run() throws {
        ThreadPool.shared.configure(threads: threads ?? ThreadPool.shared.threads)
        let pipeline = try StableDiffusionPipeline.load(URL(fileURLWithPath: model))
        let heldOut = Set(ShapesDataset.heldOutCombinations)
        let evaluation = try ShapesEvaluation.run(pipeline, combinations: ShapeCombination.all, seeds: (0..<seeds).map(UInt64.init),
                                                  size: size, steps: steps)
        let trained = Set(ShapeCombination.all).subtracting(heldOut)
        for (name, set) in [("trained combinations", trained), ("held-out combinations", heldOut)] {
            let a = evaluation.attributeAccuracy(of: set)
            print(String(format: "%@: %.1f %% match (background %.1f %%, colour %.1f %%, shape %.1f %%), %d renders", name,
                         100 * evaluation.accuracy(of: set), 100 * a.background, 100 * a.color, 100 * a.kind, set.count * seeds))
        }
    }
}

/// `dbtrain evaluate-subject --model DIR [--seeds 8] [--token sks]`
struct EvaluateSubject: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate-subject",
        abstract: "Score a DreamBooth fine-tune on the striped star: subject fidelity, prompt fidelity, prior preservation.",
        discussion: """
            Renders "a <token> star on a red / green / white background" and plain star prompts at fixed seeds \
            and reads each image with PatternReading (does the figure show the yellow body and the black stripes?).
            """)

    @Option(help: "The fine-tuned model folder.")
    var model: String
    @Option(help: "Seeds per prompt (0, 1, …).")
    var seeds = 8
    @Option(help: "The subject's rare token.")
    var token = "sks"
    @Option(help: "Sampling steps (DPM-Solver++ 2M).")
    var steps = 20
    @Option(help: "Compute threads (default: all cores).")
    var threads: Int?

    func run() throws {
        ThreadPool.shared.configure(threads: threads ?? ThreadPool.shared.threads)
        let pipeline = try StableDiffusionPipeline.load(URL(fileURLWithPath: model))
        let e = try SubjectEvaluation.run(pipeline, token: token, seeds: (0..<seeds).map(UInt64.init), steps: steps)
        print(String(format: "subject fidelity %.1f %%, prompt fidelity %.1f %% (%d renders); prior preservation %.1f %% (%d renders)",
                     100 * e.subjectFidelity, 100 * e.promptFidelity, e.subjectRenders.count,
                     100 * e.priorPreservation, e.priorRenders.count))
    }
}
