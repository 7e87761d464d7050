// The training examples of DreamBooth, as diffusers' `DreamBoothDataset` and `collate_fn`
// (examples/dreambooth/train_dreambooth.py) define them:
//   • length = max(instance images, class images used); example i = instance image i mod n_instance with
//     the instance prompt, and (with prior preservation) class image i mod n_class with the class prompt;
//   • class images used = min(images in class_data_dir, num_class_images);
//   • a class image with a caption file beside it (`0-ab12.png` + `0-ab12.txt`, as kohya's
//     regularisation images may have, and as ClassImageGenerator writes from `class_prompts`) is
//     trained with that caption instead of `class_prompt`: class images of a varied class then keep
//     every way of prompting it, not just the one class prompt;
//   • a batch holds the instance images of its examples first, then their class images (twice the batch
//     size), so that one UNet pass serves both losses; the last batch of an epoch may be short
//     (DataLoader's drop_last=False).
// Ours differs where diffusers is nondeterministic or fragile:
//   • files are sorted by name instead of taken in directory order, and non-image/hidden files skipped
//     (ImageFolder.swift);
//   • every image used is decoded once when the dataset is built, so a bad file stops the trainer before
//     training, with its name, instead of crashing it mid-run;
//   • the epoch order (diffusers: DataLoader(shuffle=True), i.e. torch.randperm on torch's global
//     generator) and random crops come from our SplitMix64 seeded by `seed`: the same seed gives the same
//     order and crops, but not torch's.
import Foundation
import ImageIO
import Models
import Tensor

/// One example: the instance image and prompt, and with prior preservation the class image and prompt.
public struct DreamBoothExample: Sendable {
    /// `[3, resolution, resolution]` in [−1, 1].
    public let instancePixels: Tensor
    /// 77 token ids of the instance prompt.
    public let instanceTokenIDs: [Int]
    /// `[3, resolution, resolution]`, nil without prior preservation.
    public let classPixels: Tensor?
    /// 77 token ids of the class prompt, nil without prior preservation.
    public let classTokenIDs: [Int]?
}

/// A collated batch, in diffusers' `collate_fn` order: instance examples first, then class examples.
public struct DreamBoothBatch: Sendable {
    /// `[B · (prior preservation ? 2 : 1), 3, resolution, resolution]`.
    public let pixelValues: Tensor
    /// One row of 77 token ids per image of `pixelValues`, in the same order.
    public let tokenIDs: [[Int]]
    /// B: the first `instanceCount` images are instance images, the rest (as many) class images.
    public let instanceCount: Int

    public init(pixelValues: Tensor, tokenIDs: [[Int]], instanceCount: Int) {
        precondition(pixelValues.shape.first == tokenIDs.count, "a batch of \(pixelValues.shape) images with \(tokenIDs.count) prompts")
        self.pixelValues = pixelValues; self.tokenIDs = tokenIDs; self.instanceCount = instanceCount
    }
}

/// The instance (and class) images and prompts of a DreamBooth run.
public struct DreamBoothDataset: TrainingExamples {
    /// Instance image files, sorted by name.
    public let instanceFiles: [URL]
    /// Class image files used (the first `min(count, num_class_images)` by name); empty without prior preservation.
    public let classFiles: [URL]
    public let instancePrompt: TokenizedPrompt
    /// The prompt of each of `classFiles`: its caption file, else `class_prompt`; empty without prior
    /// preservation.
    public let classFilePrompts: [TokenizedPrompt]
    /// The instance prompt as written.
    public let instancePromptText: String
    /// `classFilePrompts` as written.
    public let classFilePromptTexts: [String]
    public let transform: TrainingImageTransform
    /// Seeds the epoch order and the random crops.
    public let seed: UInt64
    /// Decoder pixel limit (a guard against decompression bombs in downloaded photos).
    public let maxPixels: Int

    /// Lists and validates the images.
    ///
    /// - Parameters:
    ///   - classDirectory: with prior preservation, `class_data_dir` (already filled, see
    ///     `ClassImageGenerator`); nil without.
    ///   - classPrompt: the prompt of the class images without a caption file; nil when all have one.
    ///   - numClassImages: `num_class_images`: at most this many class images are used.
    /// - Throws: `TrainingDataError` naming the folder or the first file that cannot be used.
    public init(instanceDirectory: URL, instancePrompt: String,
                classDirectory: URL? = nil, classPrompt: String? = nil, numClassImages: Int? = nil,
                transform: TrainingImageTransform, tokenizer: CLIPTokenizer, seed: UInt64,
                maxPixels: Int = ImageFile.defaultMaxPixels) throws(TrainingDataError) {
        self.transform = transform
        self.seed = seed
        self.maxPixels = maxPixels
        instanceFiles = try ImageFolder.imageFiles(in: instanceDirectory, role: "instance")
        guard !instanceFiles.isEmpty else { throw .noImages(role: "instance", path: instanceDirectory.path) }
        self.instancePrompt = tokenizer.tokenize(instancePrompt)
        instancePromptText = instancePrompt
        if let classDirectory {
            let all = try ImageFolder.imageFiles(in: classDirectory, role: "class")
            classFiles = Array(all.prefix(max(0, numClassImages ?? all.count)))
            guard !classFiles.isEmpty else { throw .noImages(role: "class", path: classDirectory.path) }
            classFilePromptTexts = try classFiles.map { (file: URL) throws(TrainingDataError) in
                if let caption = try ImageFolder.caption(beside: file) { return caption }
                guard let classPrompt else { throw .uncaptionedClassImage(path: file.path) }
                return classPrompt
            }
            classFilePrompts = classFilePromptTexts.map { tokenizer.tokenize($0) }
        } else {
            classFiles = []
            classFilePrompts = []
            classFilePromptTexts = []
        }
        // Decode everything now: a truncated download must not surface hours into a run.
        for file in instanceFiles + classFiles { _ = try Self.load(file, maxPixels: maxPixels) }
    }

    /// The dataset of a training configuration (`with_prior_preservation` needs `class_data_dir` and
    /// `class_prompt`). `seed` stands for `seed` of the configuration, which may be absent.
    public init(configuration c: TrainingConfiguration, tokenizer: CLIPTokenizer, seed: UInt64) throws(TrainingDataError) {
        var classDirectory: URL?
        if c.withPriorPreservation {
            guard let directory = c.classDataDir else { throw .missingSetting(key: "class_data_dir") }
            classDirectory = URL(fileURLWithPath: directory)
        }
        try self.init(instanceDirectory: URL(fileURLWithPath: c.instanceDataDir), instancePrompt: c.instancePrompt,
                      classDirectory: classDirectory, classPrompt: c.classPrompt, numClassImages: c.numClassImages,
                      transform: TrainingImageTransform(resolution: c.resolution, centerCrop: c.centerCrop),
                      tokenizer: tokenizer, seed: seed)
    }

    /// True when class images are part of each example.
    public var hasPriorPreservation: Bool { !classFiles.isEmpty }

    /// Examples per epoch: max(instance images, class images used).
    public var count: Int { max(instanceFiles.count, classFiles.count) }

    /// The instance prompt, and with prior preservation each distinct class prompt.
    public var prompts: [(text: String, tokens: TokenizedPrompt)] {
        var seen: Set<String> = [instancePromptText]
        var prompts = [(text: instancePromptText, tokens: instancePrompt)]
        for (text, tokens) in zip(classFilePromptTexts, classFilePrompts) where seen.insert(text).inserted {
            prompts.append((text, tokens))
        }
        return prompts
    }

    /// Example `index` as seen in `epoch`: the random crops depend on (seed, epoch, index), never on
    /// the order examples are loaded in.
    public func example(at index: Int, epoch: Int) throws(TrainingDataError) -> DreamBoothExample {
        precondition(index >= 0 && index < count, "example \(index) of \(count)")
        let instance = try image(instanceFiles[index % instanceFiles.count], epoch: epoch, index: index, role: 0)
        guard hasPriorPreservation else {
            return DreamBoothExample(instancePixels: instance, instanceTokenIDs: instancePrompt.ids,
                                     classPixels: nil, classTokenIDs: nil)
        }
        let classIndex = index % classFiles.count
        let classImage = try image(classFiles[classIndex], epoch: epoch, index: index, role: 1)
        return DreamBoothExample(instancePixels: instance, instanceTokenIDs: instancePrompt.ids,
                                 classPixels: classImage, classTokenIDs: classFilePrompts[classIndex].ids)
    }

    /// The order of example indices in `epoch`: a permutation of `0..<count` drawn from (seed, epoch).
    public func epochOrder(_ epoch: Int) -> [Int] {
        batches(epoch: epoch, batchSize: max(count, 1)).flatMap { $0 }
    }

    /// The indices of each batch of `epoch`: `epochOrder` cut into runs of `batchSize`, the last one
    /// shorter when `count` is not a multiple (DataLoader's default drop_last=False).
    public func batches(epoch: Int, batchSize: Int) -> [[Int]] {
        seededBatches(seed: seed, epoch: epoch, batchSize: batchSize)
    }

    /// The examples `indices` collated as diffusers' `collate_fn` does with prior preservation: all
    /// instance images, then all class images.
    public func batch(_ indices: [Int], epoch: Int) throws(TrainingDataError) -> DreamBoothBatch {
        precondition(!indices.isEmpty, "an empty batch")
        let examples = try indices.map { (i: Int) throws(TrainingDataError) in try example(at: i, epoch: epoch) }
        var images = examples.map(\.instancePixels)
        var tokenIDs = examples.map(\.instanceTokenIDs)
        if hasPriorPreservation {
            images += examples.compactMap(\.classPixels)
            tokenIDs += examples.compactMap(\.classTokenIDs)
        }
        let side = transform.resolution
        let pixelValues = Tensor(uninitialized: [images.count, 3, side, side])
        for (i, image) in images.enumerated() { pixelValues[i].assign(image) }
        return DreamBoothBatch(pixelValues: pixelValues, tokenIDs: tokenIDs, instanceCount: examples.count)
    }

    /// Decodes `file` upright (EXIF orientation applied, as diffusers' `exif_transpose`). Grey and palette
    /// images become RGB as PIL's `convert("RGB")` makes them; images with alpha are composited over white
    /// by ImageIO, where PIL would drop the alpha channel and keep whatever colour hides under it.
    public static func load(_ file: URL, maxPixels: Int = ImageFile.defaultMaxPixels) throws(TrainingDataError) -> RGBImage {
        do {
            return try ImageFile.decodeUpright(contentsOf: file, maxPixels: maxPixels)
        } catch {
            throw .undecodable(error)
        }
    }

    private func image(_ file: URL, epoch: Int, index: Int, role: Int) throws(TrainingDataError) -> Tensor {
        var generator = SplitMix64(seed: seed, epoch, index, role)
        return transform.tensor(try Self.load(file, maxPixels: maxPixels), using: &generator)
    }
}
