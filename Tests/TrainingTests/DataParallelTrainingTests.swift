// Data-parallel training: how a global batch is split over ranks (DataParallelSlice, the draws'
// rows), and the real thing — `mpirun -np 2 dbtrain` (Open MPI from Debian) against one process with
// the same global batch on models/tiny: the same losses and weights up to summation order, class
// images rendered once, one writer, a resume with another number of ranks, and a killed rank that
// stops the whole job instead of leaving the other waiting.
import Foundation
import ImageIO
import Tensor
import Testing
import TestSupport
import Training
import Weights

@Suite struct DataParallelSliceTests {
    @Test func contiguousRunsPerRank() {
        // A full global batch of 2 ranks × 3, then an epoch's short last batch of 4 and of 2.
        #expect(DataParallelSlice(rank: 0, size: 2, perRank: 3, globalCount: 6).examples == 0..<3)
        #expect(DataParallelSlice(rank: 1, size: 2, perRank: 3, globalCount: 6).examples == 3..<6)
        #expect(DataParallelSlice(rank: 1, size: 2, perRank: 3, globalCount: 4).examples == 3..<4)
        #expect(DataParallelSlice(rank: 1, size: 2, perRank: 3, globalCount: 2).examples.isEmpty)
        #expect(DataParallelSlice(rank: 0, size: 1, perRank: 1, globalCount: 0).examples.isEmpty, "no class image missing")
        for (size, perRank, count) in [(2, 3, 6), (2, 3, 4), (3, 2, 5), (4, 1, 1)] {
            let slices = (0..<size).map { DataParallelSlice(rank: $0, size: size, perRank: perRank, globalCount: count) }
            #expect(slices.flatMap { Array($0.examples) } == Array(0..<count), "every example exactly once")
            #expect(abs(slices.reduce(0) { $0 + $1.weight } - 1) < 1e-15, "weights add up to the global mean")
        }
    }

    @Test func rowsFollowTheBatchLayout() {
        // With prior preservation a global batch of 4 examples has rows [i0 i1 i2 i3 c0 c1 c2 c3].
        let slice = DataParallelSlice(rank: 1, size: 2, perRank: 2, globalCount: 4)
        #expect(slice.rows(priorPreservation: true) == [2, 3, 6, 7])
        #expect(slice.rows(priorPreservation: false) == [2, 3])
        let draws = DreamBoothNoise(latentSample: Tensor(shape: [4, 1, 1, 2], values: (0..<8).map(Float.init)),
                                    noise: Tensor(shape: [4, 1, 1, 2], values: (0..<8).map { Float(10 + $0) }),
                                    timesteps: [5, 6, 7, 8])
        let picked = draws.rows([3, 1])
        #expect(picked.latentSample.shape == [2, 1, 1, 2] && picked.latentSample.scalars == [6, 7, 2, 3])
        #expect(picked.noise.scalars == [16, 17, 12, 13] && picked.timesteps == [8, 6])
    }
}

@Suite("dbtrain under mpirun", .serialized)
struct MPITrainingTests {
    static let root = Fixtures.packageRoot

    /// A folder with the DreamBooth subject's four instance images and a YAML file for a run on
    /// models/tiny with prior preservation (five class images: an epoch ends on a short batch) and
    /// a trained text encoder.
    static func setUp() throws -> (folder: URL, config: URL) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("dbtrain-mpi-\(UUID().uuidString.prefix(8))")
        try DottedSubject.writeInstanceImages(count: 4, seed: 0, side: 64, to: folder.appendingPathComponent("subject"))
        let yaml = """
            pretrained_model_name_or_path: \(root.appendingPathComponent("models/tiny").path)
            instance_data_dir: \(folder.appendingPathComponent("subject").path)
            instance_prompt: a sks star
            with_prior_preservation: true
            class_prompt: a star
            num_class_images: 5
            resolution: 64
            train_text_encoder: true
            learning_rate: 1.0e-3
            lr_warmup_steps: 0
            max_train_steps: 3
            checkpointing_steps: 100
            seed: 3

            """
        let config = folder.appendingPathComponent("train.yaml")
        try Data(yaml.utf8).write(to: config)
        return (folder, config)
    }

    static var mpirun: URL {
        get throws {
            URL(fileURLWithPath: try #require(["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) },
                                              "mpirun is not installed: scripts/setup.sh installs the Debian package openmpi-bin"))
        }
    }

    /// `mpirun -np N dbtrain ARGS`; as root (CI) Open MPI wants to be told that this is intended.
    static func mpiArguments(ranks: Int, _ arguments: [String]) -> [String] {
        ["-np", "\(ranks)", "--oversubscribe"] + (geteuid() == 0 ? ["--allow-run-as-root"] : [])
            + [Fixtures.builtProduct("dbtrain").path] + arguments
    }

    static func weights(_ file: URL) throws -> [String: [Float]] {
        let reader = try SafetensorsFile(contentsOf: file)
        return try Dictionary(uniqueKeysWithValues: reader.tensorNames.map { ($0, try reader.tensor($0).scalars) })
    }

    @Test("2 ranks × batch 1 train what one process with batch 2 trains: losses within 1e-5 relative, weights within 1e-5; class images rendered once; one writer")
    func twoRanksMatchOneProcess() throws {
        let (folder, config) = try Self.setUp()
        defer { try? FileManager.default.removeItem(at: folder) }
        let one = try runProcess(Fixtures.builtProduct("dbtrain"), ["--config", config.path, "--train_batch_size", "2",
                                                                     "--output_dir", folder.appendingPathComponent("one").path,
                                                                     "--class_data_dir", folder.appendingPathComponent("class-one").path])
        try #require(one.status == 0, "\(one.output)")
        let two = try runProcess(try Self.mpirun, Self.mpiArguments(ranks: 2, [
            "--config", config.path, "--train_batch_size", "1",
            "--output_dir", folder.appendingPathComponent("two").path,
            "--class_data_dir", folder.appendingPathComponent("class-two").path]))
        try #require(two.status == 0, "\(two.output)")
        #expect(two.output.contains("data parallel: 2 ranks"), "\(two.output)")
        // Rank 0 alone reports: one line per step, not two.
        #expect(two.output.components(separatedBy: "step 3/3").count == 2, "\(two.output)")

        // The same class images (names carry the pixels' hash), each rendered once.
        let classOne = try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("class-one").path).sorted()
        let classTwo = try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("class-two").path).sorted()
        #expect(classOne.count == 5 && classOne == classTwo, "\(classOne) vs \(classTwo)")

        let logOne = try TrainingLog.read(folder.appendingPathComponent("one/train_log.jsonl"))
        let logTwo = try TrainingLog.read(folder.appendingPathComponent("two/train_log.jsonl"))
        #expect(logTwo.map(\.step) == [1, 2, 3], "one writer: \(logTwo.map(\.step))")
        for (a, b) in zip(logOne, logTwo) {
            #expect(abs(a.loss - b.loss) <= 1e-5 * abs(a.loss), "step \(a.step): \(a.loss) vs \(b.loss)")
            #expect(abs((a.priorLoss ?? 0) - (b.priorLoss ?? 0)) <= 1e-5 * abs(a.priorLoss ?? 1), "step \(a.step)")
            #expect(abs(a.gradNorm - b.gradNorm) <= 1e-5 * a.gradNorm, "step \(a.step): \(a.gradNorm) vs \(b.gradNorm)")
        }
        // Weights of magnitude ~1 after three AdamW steps at lr 1e-3: Adam's step is lr·m/√v, so a
        // summation-order difference in a gradient near zero moves a weight by a fraction of lr.
        // Measured: 2e-6 at most.
        for (component, file) in [("unet", "diffusion_pytorch_model.safetensors"), ("text_encoder", "model.safetensors")] {
            let a = try Self.weights(folder.appendingPathComponent("one/\(component)/\(file)"))
            let b = try Self.weights(folder.appendingPathComponent("two/\(component)/\(file)"))
            #expect(a.keys.sorted() == b.keys.sorted())
            let worst = a.keys.map { key in zip(a[key]!, b[key]!).map { abs($0 - $1) }.max() ?? 0 }.max() ?? 0
            #expect(worst <= 1e-5, "\(component): \(worst)")
        }
    }

    @Test("a checkpoint of 2 ranks resumes in one process, and a killed rank stops the job instead of hanging; --resume finishes it")
    func resumeAndKilledRank() throws {
        let (folder, config) = try Self.setUp()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("out")
        let common = ["--config", config.path, "--train_batch_size", "1", "--output_dir", output.path,
                      "--class_data_dir", folder.appendingPathComponent("class").path, "--checkpointing_steps", "1"]
        let first = try runProcess(try Self.mpirun, Self.mpiArguments(ranks: 2, common + ["--max_train_steps", "2"]))
        try #require(first.status == 0, "\(first.output)")
        let resumed = try runProcess(Fixtures.builtProduct("dbtrain"), common + ["--max_train_steps", "4", "--resume"])
        #expect(resumed.status == 0 && resumed.output.contains("resumed from") && resumed.output.contains("step 4/4"), "\(resumed.output)")
        #expect(try TrainingLog.read(output.appendingPathComponent("train_log.jsonl")).map(\.step) == [1, 2, 3, 4])

        // A long run; one rank is killed once a checkpoint exists.
        let long = folder.appendingPathComponent("long")
        let longArguments = ["--config", config.path, "--train_batch_size", "1", "--output_dir", long.path,
                             "--class_data_dir", folder.appendingPathComponent("class").path,
                             "--checkpointing_steps", "5", "--max_train_steps", "100000"]
        let job = Process()
        job.executableURL = try Self.mpirun
        job.arguments = Self.mpiArguments(ranks: 2, longArguments)
        job.standardOutput = FileHandle.nullDevice
        job.standardError = FileHandle.nullDevice
        try job.run()
        defer { if job.isRunning { job.terminate() } }
        try waitForFile(long.appendingPathComponent("checkpoint-5"), timeout: 300)
        let ranks = try childProcesses(of: job.processIdentifier)
        try #require(ranks.count == 2, "the ranks of mpirun: \(ranks)")
        kill(ranks[1], SIGKILL)
        let deadline = Date().addingTimeInterval(120)
        while job.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(!job.isRunning, "mpirun still runs 120 s after a rank was killed")
        #expect(job.isRunning || job.terminationStatus != 0)
        for rank in ranks { #expect(!isRunning(rank), "rank \(rank) outlived the job") }

        let checkpoint = try #require(TrainingCheckpoint.list(in: long).last)
        let finish = try runProcess(try Self.mpirun, Self.mpiArguments(ranks: 2, longArguments.dropLast(2) + ["--max_train_steps", "\(checkpoint.step + 2)", "--resume"]))
        #expect(finish.status == 0 && finish.output.contains("resumed from"), "\(finish.output)")
        #expect(try TrainingLog.read(long.appendingPathComponent("train_log.jsonl")).map(\.step) == Array(1...(checkpoint.step + 2)))
    }

    private func waitForFile(_ url: URL, timeout: Double) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("trainer_state.json").path) {
            guard Date() < deadline else { throw TestFailure("no \(url.lastPathComponent) within \(timeout) s") }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// The fields of /proc/PID/stat after the command name (state, parent, …); nil once it is gone.
    private func statFields(_ pid: Int32) -> [Substring]? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ")
    }

    /// True while `pid` exists and is not a zombie (an exited child nobody has reaped yet).
    private func isRunning(_ pid: Int32) -> Bool {
        statFields(pid).map { $0.first != "Z" } ?? false
    }

    /// The processes whose parent is `pid` (mpirun starts the ranks itself on one host).
    private func childProcesses(of pid: Int32) throws -> [Int32] {
        try FileManager.default.contentsOfDirectory(atPath: "/proc").compactMap(Int32.init).filter { child in
            guard let fields = statFields(child), fields.count > 1 else { return false }
            return Int32(fields[1]) == pid
        }.sorted()
    }
}

private struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
