// `dbtrain --config train.yaml`: a DreamBooth or text-to-image run with train_dreambooth.py's keys.
import ArgumentParser
import Foundation
import Tensor
import Training

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
        // A training step's peak memory is its working set, reached again every step: keep every freed
        // activation for the next step instead of faulting in fresh zeroed pages (kept memory never
        // lifts the process above that peak: see RecycledBuffers).
        TensorBufferRecycling.setDefaultCapacity(bytes: 64 << 30)
        let interrupt = InterruptFlag()
        let trainer = DreamBoothTrainer(configuration: configuration)
        // Under `mpirun -np N` (N > 1): data-parallel, train_batch_size per rank; rank 0 reports.
        let mpi = MPIProcessGroup.fromLauncher()
        if let mpi { trainer.group = mpi }
        let reports = trainer.group.isWriter
        if let mpi, reports {
            FileHandle.standardError.write(Data("data parallel: \(mpi.size) ranks, a global batch of \(mpi.size) × \(configuration.trainBatchSize)\n".utf8))
        }
        try CommandFailure.reporting(mpi.map { "dbtrain (rank \($0.rank))" } ?? "dbtrain") {
            try trainer.run(resume: resume, isCancelled: { interrupt.isSet }) { event in
                if reports { Self.print(event, lora: configuration.useLora) }
            }
        }
        if let mpi, reports, mpi.gradientSums > 0 {
            // What the allreduce costs, for benchmarks/data-parallel.sh (and anyone sizing a cluster).
            FileHandle.standardError.write(Data(String(format: "allreduce: %.3f s in %d gradient sums on rank 0\n",
                                                       mpi.gradientSumSeconds, mpi.gradientSums).utf8))
        }
        mpi?.finish()
        try CommandFailure.stopIfInterrupted(interrupt, "dbtrain", "resume with --resume")
    }

    static func print(_ event: TrainerEvent, lora: Bool) {
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
        case let .finished(url):
            line = lora ? "wrote the trained LoRA to \(url.path) (pytorch_lora_weights.safetensors, \(url.lastPathComponent).safetensors)"
                : "wrote the trained model to \(url.path)"
        }
        if let line { FileHandle.standardError.write(Data((line + "\n").utf8)) }
    }
}
