// Prior preservation's class images: when class_data_dir holds fewer than num_class_images images, the
// missing ones are rendered from class_prompt by the model being fine-tuned, before training starts —
// train_dreambooth.py's "Generate class images" step. Its settings are those of a bare
// `StableDiffusionPipeline(prompt)` call: 50 steps, guidance 7.5, the model's native size, the scheduler
// the model folder names, `sample_batch_size` images per call. Differences from diffusers, on purpose:
//   • seeds are deterministic: image number n (counting the images already there) uses seed `seed + n`,
//     so a run that is interrupted and resumed yields the same images as one that is not;
//   • files are PNG (no JPEG re-compression of a training image), named "<n>-<16 hex of SHA-256 of the
//     pixels>.png" (diffusers: "<n>-<sha1>.jpg"), written atomically (temporary file + rename) so that
//     an interrupted run never leaves a half-written image for the dataset to choke on;
//   • existing images are counted by ImageFolder's rules (image files only), not every directory entry;
//   • with several prompts (`class_prompts`), image n is rendered from prompt n mod count, one image per
//     call, and its prompt is written beside it as "<name>.txt" (before the image, so that no image is
//     ever without its caption), which DreamBoothDataset then trains it with.
import Foundation
import ImageIO
import Sampling
import Weights

/// Progress of class-image generation.
public struct ClassImageProgress: Sendable, Equatable {
    /// Images written so far in this run.
    public let imagesDone: Int
    /// Images this run writes in all.
    public let imagesTotal: Int
    /// Denoising step of the current batch, and the steps per image.
    public let step: Int
    public let steps: Int
}

/// Renders missing class images into `class_data_dir`.
public struct ClassImageGenerator: Sendable {
    public let pipeline: StableDiffusionPipeline
    /// The sampler (our name for a scheduler class); by default the one the model's scheduler config names.
    public let sampler: String
    /// Denoising steps (diffusers' pipeline default: 50).
    public let steps: Int
    public let guidanceScale: Float
    /// `sample_batch_size`: images per pipeline call.
    public let batchSize: Int
    /// Image number n uses seed `seed + n`.
    public let seed: UInt64

    /// - Parameter sampler: nil takes the sampler matching the model's `scheduler_config.json` class
    ///   (PNDM for SD 1.x folders and for single files, which carry no scheduler config).
    /// - Throws: `.unsupportedScheduler` when the model's class has no sampler of ours and none is given.
    public init(pipeline: StableDiffusionPipeline, seed: UInt64, steps: Int = 50, guidanceScale: Float = 7.5,
                batchSize: Int = 4, sampler: String? = nil) throws(TrainingDataError) {
        precondition(steps >= 1 && batchSize >= 1, "steps \(steps), batch size \(batchSize)")
        let className = pipeline.schedulerConfiguration.className ?? "PNDMScheduler"
        guard let name = sampler ?? Self.samplerName(
            forSchedulerClass: className, karras: pipeline.schedulerConfiguration.useKarrasSigmas ?? false) else {
            throw .unsupportedScheduler(className: className, samplers: SchedulerFactory.samplerNames)
        }
        self.pipeline = pipeline
        self.sampler = name
        self.steps = steps
        self.guidanceScale = guidanceScale
        self.batchSize = batchSize
        self.seed = seed
    }

    /// Our sampler name for a diffusers scheduler class (`_class_name`), or nil when we have none
    /// (DDPM, UniPC, …).
    public static func samplerName(forSchedulerClass className: String, karras: Bool = false) -> String? {
        switch className {
        case "PNDMScheduler": "pndm"
        case "DDIMScheduler": "ddim"
        case "EulerDiscreteScheduler": "euler"
        case "EulerAncestralDiscreteScheduler": "euler_a"
        case "DPMSolverMultistepScheduler": karras ? "dpmpp_2m_karras" : "dpmpp_2m"
        case "HeunDiscreteScheduler": "heun"
        case "LMSDiscreteScheduler": "lms"
        case "LCMScheduler": "lcm"
        default: nil
        }
    }

    /// Renders `prompt` into `directory` until it holds `targetCount` images (creating the folder if
    /// needed), and returns the files written (none when there are enough already).
    /// - Parameters:
    ///   - progress: called after every denoising step and after every batch is written.
    ///   - isCancelled: polled between steps; a cancelled run keeps the images already written.
    public func generate(prompt: String, into directory: URL, targetCount: Int,
                         progress: (ClassImageProgress) -> Void = { _ in },
                         isCancelled: () -> Bool = { false }) throws -> [URL] {
        try generate(prompts: [prompt], captioned: false, into: directory, targetCount: targetCount,
                     progress: progress, isCancelled: isCancelled)
    }

    /// Renders image n from `prompts[n mod count]` into `directory` until it holds `targetCount`
    /// images; with `captioned`, each image's prompt is written beside it (`<name>.txt`).
    public func generate(prompts: [String], captioned: Bool, into directory: URL, targetCount: Int,
                         progress: (ClassImageProgress) -> Void = { _ in },
                         isCancelled: () -> Bool = { false }) throws -> [URL] {
        let numbers = try missingNumbers(in: directory, targetCount: targetCount)
        return try generate(prompts: prompts, captioned: captioned, into: directory, numbers: numbers,
                            progress: progress, isCancelled: isCancelled)
    }

    /// The numbers of the images `directory` lacks to hold `targetCount` (creating the folder if
    /// needed): from the count already there up to the target.
    public func missingNumbers(in directory: URL, targetCount: Int) throws -> Range<Int> {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw TrainingDataError.unwritable(ImageIOError(
                file: directory.path, reason: .unwritable((error as NSError).localizedDescription)))
        }
        let existing = try ImageFolder.imageFiles(in: directory, role: "class").count
        return existing..<max(existing, targetCount)
    }

    /// Renders images `numbers` (image n from `prompts[n mod count]`, seed `seed + n`) into `directory`.
    /// Ranks of a data-parallel run each render their own run of numbers into the same folder.
    public func generate(prompts: [String], captioned: Bool, into directory: URL, numbers: Range<Int>,
                         progress: (ClassImageProgress) -> Void = { _ in },
                         isCancelled: () -> Bool = { false }) throws -> [URL] {
        precondition(!prompts.isEmpty, "no class prompt")
        let missing = numbers.count
        var written: [URL] = []
        while written.count < missing {
            let first = numbers.lowerBound + written.count
            let prompt = prompts[first % prompts.count]
            var request = RenderRequest(prompt: prompt, seed: seed &+ UInt64(first))
            request.steps = steps
            request.guidanceScale = guidanceScale
            request.sampler = sampler
            // A batch shares its prompt: with several, one image per call.
            request.count = prompts.count == 1 ? min(batchSize, missing - written.count) : 1
            let done = written.count
            let images = try pipeline.render(request, progress: { step in
                progress(ClassImageProgress(imagesDone: done, imagesTotal: missing, step: step.step, steps: step.steps))
            }, isCancelled: isCancelled)
            for (offset, rendered) in images.enumerated() {
                let url = freeName(in: directory, number: first + offset, image: rendered.image)
                if captioned {
                    let caption = url.deletingPathExtension().appendingPathExtension("txt")
                    do { try Data((prompt + "\n").utf8).write(to: caption, options: .atomic) } catch {
                        throw TrainingDataError.unwritable(ImageIOError(file: caption.path, reason: .unwritable((error as NSError).localizedDescription)))
                    }
                }
                do { try ImageFile.write(rendered.image, to: url, format: .png) } catch { throw TrainingDataError.unwritable(error) }
                written.append(url)
            }
            progress(ClassImageProgress(imagesDone: written.count, imagesTotal: missing, step: steps, steps: steps))
        }
        return written
    }

    /// "<number>-<hash>.png", with a "-<k>" suffix in the unlikely case that name is taken.
    private func freeName(in directory: URL, number: Int, image: RGBImage) -> URL {
        var hasher = SHA256()
        hasher.update(image.pixels)
        let stem = "\(number)-\(hasher.finalizeHex().prefix(16))"
        var url = directory.appendingPathComponent("\(stem).png")
        var k = 1
        while FileManager.default.fileExists(atPath: url.path) {
            url = directory.appendingPathComponent("\(stem)-\(k).png")
            k += 1
        }
        return url
    }
}
