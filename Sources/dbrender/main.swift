// dbrender — the command-line client of dbrenderd. Renders one prompt, or every line of a batch prompt
// file, over the daemon's Unix socket: progress on stderr, images written atomically, each written path
// on stdout. The work is done by RenderClient; this file maps flags to jobs and errors to exit statuses.
import ArgumentParser
import Foundation
import RenderAPI
import RenderClient

struct DBRender: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dbrender",
        abstract: "Render images with dbrenderd, the Stable Diffusion daemon.",
        usage: """
            dbrender <prompt> [--seed 42] [--steps 30] [--sampler dpmpp_2m] [--out dog.png] [options]
            dbrender --prompts FILE [--out-dir DIR] [options]
            """,
        discussion: """
            OUTPUT NAMES (written atomically; each path is printed on stdout)
              --out FILE     FILE; with --count N > 1, FILE's stem + -1 … -N before
                             the extension (dog.png → dog-1.png, dog-2.png). The
                             format follows FILE's extension unless --format is set.
              --out-dir DIR  one prompt: DIR/<prompt>-<seed>.<ext>, the prompt's
                             letters and digits, lowercased, joined by "-"
                             (a-photo-of-sks-dog-42.png).
                             --prompts: DIR/<line>-<seed>.<ext>, the file's line
                             number in 4 digits (line 7, seed 42 → 0007-42.png).
              Image i of a prompt has seed + i. Without --out or --out-dir,
              images go to the current folder, named as with --out-dir.

            BATCH PROMPT FILES (--prompts FILE)
              One prompt per line. A line may begin with render options that
              override the command line's for that line only:
                --seed 7 --steps 40 a photo of sks dog on the beach
                --negative-prompt "blurry, low quality" a photo of sks dog
              `--` ends the options. A line whose first non-blank character is
              # is a comment (a # later in the line belongs to the prompt);
              blank lines are skipped. A relative --init-image is relative to
              the file's folder. A .jsonl file holds one request object per
              line instead: {"prompt": "…", "seed": 7, "negative_prompt": "…"}.
              The whole file is checked before anything renders. Outputs that
              exist are skipped, so rerunning an interrupted batch resumes it
              (with a random seed, a line is done when `count` files
              <line>-<any seed>.<ext> exist).

            SOCKET
              --socket, else $DBRENDER_SOCKET, else the first that exists of
              $XDG_RUNTIME_DIR/dbrender.sock and /run/dbrender/dbrender.sock.

            EXIT STATUS
              0 done; 1 error (one line on stderr); 64 bad usage; 69 daemon
              unreachable; 130 Ctrl-C (the running job is cancelled).
            """)

    @Argument(help: "The prompt (or --prompts FILE).")
    var prompt: String?

    @Option(help: "What the image should not show.")
    var negativePrompt: String?
    @Option(help: "Denoising steps (daemon default 30).")
    var steps: Int?
    @Option(help: "Classifier-free guidance scale (daemon default 7.5).")
    var guidance: Double?
    @Option(help: "ddim, pndm, euler, euler_a, dpmpp_2m, dpmpp_2m_karras, heun, lms or lcm (daemon default euler_a).")
    var sampler: String?
    @Option(help: "Seed of the first image; image i uses seed + i (default: random, reported).")
    var seed: UInt64?
    @Option(help: "Image width in pixels, a multiple of 8.")
    var width: Int?
    @Option(help: "Image height in pixels, a multiple of 8.")
    var height: Int?
    @Option(help: "Images to render from this prompt.")
    var count: Int?
    @Option(help: "png, webp or jpeg.")
    var format: String?
    @Option(help: "WebP quality 0–100 (default lossless); JPEG quality (default 80).")
    var quality: Int?
    @Option(help: "Skip the last CLIP layers, as A1111 counts (1 = none).")
    var clipSkip: Int?
    @Option(help: "a1111 (default: (word:1.3), [word], BREAK) or plain (the prompt as written).")
    var promptSyntax: String?
    @Option(help: ArgumentHelp("Start from this image (image-to-image).", valueName: "file"))
    var initImage: String?
    @Option(help: "Image-to-image strength, 0–1.")
    var strength: Double?
    @Option(help: ArgumentHelp("A LoRA of the daemon's --lora-dir, weight 1 unless given; repeat for several.", valueName: "name[:weight]"))
    var lora: [String] = []
    @Option(help: "vae (the model's own, default) or taesd (the daemon's --taesd: fast, softer detail).")
    var decoder: String?
    @Flag(help: "The VAE works by overlapping tiles on images larger than it was trained at, so large images fit in memory (a prompt file's JSON line: \"vae_tiling\": true).")
    var vaeTiling = false

    @Option(help: ArgumentHelp("Write the image to this file.", valueName: "file"))
    var out: String?
    @Option(help: ArgumentHelp("Write images into this folder (created if missing).", valueName: "dir"))
    var outDir: String?
    @Option(help: ArgumentHelp("Render every line of this prompt file.", valueName: "file"))
    var prompts: String?
    @Option(help: ArgumentHelp("The daemon's socket.", valueName: "path"))
    var socket: String?

    func validate() throws {
        switch (prompt, prompts) {
        case (nil, nil): throw ValidationError("Give a prompt, or --prompts FILE.")
        case (.some, .some): throw ValidationError("Give a prompt or --prompts FILE, not both.")
        default: break
        }
        if out != nil && outDir != nil { throw ValidationError("Give --out or --out-dir, not both.") }
        if out != nil && prompts != nil { throw ValidationError("--prompts writes several files: use --out-dir.") }
        if let out, let format, let implied = OutputNaming.format(ofPath: out), implied != format.lowercased() {
            throw ValidationError("--out \(out) does not match --format \(format).")
        }
        for choice in lora {
            var scratch = RenderSpec(request: RenderRequestBody(prompt: ""))
            do { try RenderFlag.lora.apply(choice, to: &scratch) } catch { throw ValidationError(error.description) }
        }
        if let initImage, !FileManager.default.isReadableFile(atPath: initImage) {
            throw ValidationError("--init-image \(initImage) does not exist or is not readable.")
        }
    }

    func run() throws {
        let reporter = TerminalReporter()
        var interrupt: InterruptHandler?
        do {
            let location = SocketLocation.resolve(flag: socket, environment: ProcessInfo.processInfo.environment,
                                                  exists: { FileManager.default.fileExists(atPath: $0) })
            let client = DaemonClient(http: UnixHTTPClient(socketPath: location.path, alternativesTried: location.alternatives))
            let jobs = try makeJobs()
            if let outDir { try createDirectory(outDir) }
            let handler = InterruptHandler(client: client, reporter: reporter)
            interrupt = handler
            let runner = RenderRunner(client: client, skipExisting: prompts != nil)
            try runner.run(jobs) { event in
                handler.track(event)
                reporter.handle(event)
            }
            handler.waitIfInterrupted()
        } catch let error as ClientError {
            interrupt?.waitIfInterrupted()
            reporter.fail(error.description)
            switch error.cause {
            case .cannotConnect, .connectTimedOut, .socketPathTooLong: throw ExitCode(69)
            default: throw ExitCode.failure
            }
        }
    }

    /// The command line's render settings, shared by every job.
    func baseSpec() -> RenderSpec {
        var spec = RenderSpec(request: RenderRequestBody(prompt: prompt ?? ""), initImagePath: initImage)
        spec.request.negativePrompt = negativePrompt
        spec.request.steps = steps
        spec.request.guidanceScale = guidance
        spec.request.sampler = sampler
        spec.request.seed = seed
        spec.request.width = width
        spec.request.height = height
        spec.request.count = count
        spec.request.format = format ?? out.flatMap(OutputNaming.format(ofPath:))
        spec.request.quality = quality
        spec.request.clipSkip = clipSkip
        spec.request.promptSyntax = promptSyntax
        spec.request.strength = strength
        spec.request.decoder = decoder
        spec.request.vaeTiling = vaeTiling ? true : nil
        for choice in lora {
            // Validated in validate(): the flag's own parser gives the same message as on a prompt-file line.
            try? RenderFlag.lora.apply(choice, to: &spec)
        }
        return spec
    }

    func makeJobs() throws(ClientError) -> [RenderJob] {
        let base = baseSpec()
        guard let prompts else {
            let output = out.map(OutputNaming.file) ?? .prompt(directory: outDir ?? ".", prompt: base.request.prompt)
            return [RenderJob(spec: base, output: output)]
        }
        return try PromptFile.load(path: prompts, base: base).map { entry in
            RenderJob(spec: entry.spec, output: .batch(directory: outDir ?? ".", line: entry.line),
                      origin: RenderJob.Origin(file: prompts, line: entry.line))
        }
    }

    /// mkdir -p, one component at a time, so that the error names the errno of the step that failed.
    func createDirectory(_ path: String) throws(ClientError) {
        var current = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            current += component + "/"
            if mkdir(current, 0o777) != 0 && errno != EEXIST { throw .cannotWrite(path: path, errno: errno) }
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .cannotWrite(path: path, errno: ENOTDIR)
        }
    }
}

DBRender.main()
