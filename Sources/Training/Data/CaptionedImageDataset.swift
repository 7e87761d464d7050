// The examples of text-to-image training (diffusers' examples/text_to_image/train_text_to_image.py on
// a local `train_data_dir`): each image with its own caption. Two layouts are read, as users have them:
//   • diffusers' imagefolder: `metadata.jsonl`, one JSON object per line with `file_name` and the
//     caption under `caption_column` (default "text") — what `dbtrain make-shapes` writes;
//   • a caption file beside each image (`00000.png` + `00000.txt`), as kohya's scripts and many
//     hand-made sets have it (used when there is no metadata.jsonl).
// The transform is train_text_to_image.py's: Resize → CenterCrop | RandomCrop → RandomHorizontalFlip
// (with `random_flip`) → ToTensor → Normalize. As in DreamBoothDataset, every image and caption is
// read and checked up front (a bad file names itself before training starts), and the epoch order,
// crops and flips come from our seeded SplitMix64, not torch's generator.
import Foundation
import ImageIO
import Models
import Tensor

/// Images and their captions, batched for the training step.
public struct CaptionedImageDataset: TrainingExamples {
    /// The image files, in metadata.jsonl's order (or sorted by name for caption files).
    public let files: [URL]
    /// Each image's caption, tokenized (77 ids).
    public let captions: [TokenizedPrompt]
    /// The captions as written.
    public let captionTexts: [String]
    public let transform: TrainingImageTransform
    /// `random_flip`: mirror each image left-right with probability ½.
    public let randomFlip: Bool
    /// `caption_dropout_rate`: the chance that an example is shown with the empty prompt instead.
    public let captionDropoutRate: Double
    /// The empty prompt, tokenized.
    let emptyCaption: TokenizedPrompt
    public let seed: UInt64
    public let maxPixels: Int

    /// Reads `directory`'s images and captions.
    /// - Parameters:
    ///   - captionColumn: the metadata.jsonl key holding the caption (`caption_column`).
    ///   - maxSamples: `max_train_samples`: use only the first this many examples.
    ///   - captionDropoutRate: `caption_dropout_rate`.
    /// - Throws: `TrainingDataError` naming the folder, file or line that cannot be used.
    public init(directory: URL, captionColumn: String = "text", maxSamples: Int? = nil, transform: TrainingImageTransform,
                randomFlip: Bool, captionDropoutRate: Double = 0, tokenizer: CLIPTokenizer, seed: UInt64,
                maxPixels: Int = ImageFile.defaultMaxPixels) throws(TrainingDataError) {
        self.transform = transform
        self.randomFlip = randomFlip
        self.captionDropoutRate = captionDropoutRate
        emptyCaption = tokenizer.tokenize("")
        self.seed = seed
        self.maxPixels = maxPixels
        var pairs = try Self.captionedFiles(in: directory, captionColumn: captionColumn)
        if let maxSamples { pairs = Array(pairs.prefix(max(0, maxSamples))) }
        guard !pairs.isEmpty else { throw .noImages(role: "training", path: directory.path) }
        files = pairs.map(\.file)
        captionTexts = pairs.map(\.caption)
        captions = captionTexts.map { tokenizer.tokenize($0) }
        for file in files { _ = try DreamBoothDataset.load(file, maxPixels: maxPixels) }
    }

    /// The dataset of a training configuration with `train_data_dir`.
    public init(configuration c: TrainingConfiguration, tokenizer: CLIPTokenizer, seed: UInt64) throws(TrainingDataError) {
        guard let directory = c.trainDataDir else { throw .missingSetting(key: "train_data_dir") }
        try self.init(directory: URL(fileURLWithPath: directory), captionColumn: c.captionColumn, maxSamples: c.maxTrainSamples,
                      transform: TrainingImageTransform(resolution: c.resolution, centerCrop: c.centerCrop),
                      randomFlip: c.randomFlip, captionDropoutRate: c.captionDropoutRate, tokenizer: tokenizer, seed: seed)
    }

    public var count: Int { files.count }
    public var hasPriorPreservation: Bool { false }
    public var prompts: [(text: String, tokens: TokenizedPrompt)] { Array(zip(captionTexts, captions)) }

    public func batches(epoch: Int, batchSize: Int) -> [[Int]] {
        seededBatches(seed: seed, epoch: epoch, batchSize: batchSize)
    }

    public func batch(_ indices: [Int], epoch: Int) throws(TrainingDataError) -> DreamBoothBatch {
        precondition(!indices.isEmpty, "an empty batch")
        let side = transform.resolution
        let pixelValues = Tensor(uninitialized: [indices.count, 3, side, side])
        var tokenIDs: [[Int]] = []
        for (row, index) in indices.enumerated() {
            // One generator per (epoch, example): the crop, then the flip, then the caption dropout,
            // whatever the batch holds.
            var generator = SplitMix64(seed: seed, epoch, index, 2)
            var image = transform.croppedImage(try DreamBoothDataset.load(files[index], maxPixels: maxPixels), using: &generator)
            // EXIF orientation 2 is exactly a left-right mirror (PIL's FLIP_LEFT_RIGHT).
            if randomFlip && generator.next() & 1 == 1 { image = EXIFOrientation.topRight.upright(image) }
            ImageTensor.write(image, into: pixelValues[row])
            let dropped = captionDropoutRate > 0 && generator.unitInterval() < captionDropoutRate
            tokenIDs.append(dropped ? emptyCaption.ids : captions[index].ids)
        }
        return DreamBoothBatch(pixelValues: pixelValues, tokenIDs: tokenIDs, instanceCount: indices.count)
    }

    // MARK: Reading the folder

    /// (image, caption) pairs of `directory`: from metadata.jsonl when present, else from caption files.
    static func captionedFiles(in directory: URL, captionColumn: String) throws(TrainingDataError) -> [(file: URL, caption: String)] {
        let metadata = directory.appendingPathComponent("metadata.jsonl")
        guard FileManager.default.fileExists(atPath: metadata.path) else {
            return try ImageFolder.imageFiles(in: directory, role: "training").map { (file: URL) throws(TrainingDataError) in
                guard let caption = try ImageFolder.caption(beside: file) else {
                    throw .missingCaption(path: file.deletingPathExtension().appendingPathExtension("txt").path)
                }
                return (file, caption)
            }
        }
        guard let data = FileManager.default.contents(atPath: metadata.path) else {
            throw .unreadableDirectory(path: metadata.path, reason: "cannot read the file")
        }
        var pairs: [(file: URL, caption: String)] = []
        for (number, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            let at = "\(metadata.path):\(number + 1)"
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
                throw .malformedMetadata(location: at, reason: "not a JSON object")
            }
            guard let name = object["file_name"] as? String, !name.isEmpty else {
                throw .malformedMetadata(location: at, reason: "no \"file_name\" string")
            }
            guard let caption = object[captionColumn] as? String else {
                throw .malformedMetadata(location: at, reason: "no \"\(captionColumn)\" string (caption_column)")
            }
            let file = directory.appendingPathComponent(name)
            guard !name.contains(".."), FileManager.default.fileExists(atPath: file.path) else {
                throw .malformedMetadata(location: at, reason: "file_name \"\(name)\" is not a file in the folder")
            }
            pairs.append((file, caption))
        }
        return pairs
    }
}
