// Errors of the trainer's data stage. Each names the folder or file concerned, so that a user can fix
// the data before hours of training rather than after a crash in the middle.
import ImageIO

/// Something wrong with the training images or the folders that hold them.
public enum TrainingDataError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The folder does not exist or is not a directory (`role`: "instance" or "class").
    case missingDirectory(role: String, path: String)
    /// The folder could not be listed.
    case unreadableDirectory(path: String, reason: String)
    /// The folder holds no usable image.
    case noImages(role: String, path: String)
    /// A file that looks like an image (by its extension) in a format we cannot decode (GIF, HEIC, …).
    case unsupportedFormat(path: String, fileExtension: String)
    /// An image file that fails to decode (the ImageIO error names the file and the reason).
    case undecodable(ImageIOError)
    /// A needed setting is missing (`class_data_dir` with prior preservation; `train_data_dir`).
    case missingSetting(key: String)
    /// A class image could not be written.
    case unwritable(ImageIOError)
    /// The model's scheduler class has no sampler of ours (class images need one; name it explicitly).
    case unsupportedScheduler(className: String, samplers: [String])
    /// An image of a caption-file folder has no `.txt` caption beside it.
    case missingCaption(path: String)
    /// A class image without a caption file when no `class_prompt` stands in for one.
    case uncaptionedClassImage(path: String)
    /// A caption file that exists but cannot be read as UTF-8 text.
    case unreadableCaption(path: String)
    /// A line of `metadata.jsonl` that cannot be used (`location` is file:line).
    case malformedMetadata(location: String, reason: String)

    public var description: String {
        switch self {
        case let .missingDirectory(role, path): "\(role) data directory \(path) does not exist"
        case let .unreadableDirectory(path, reason): "\(path): cannot list the directory: \(reason)"
        case let .noImages(role, path): "\(role) data directory \(path) holds no PNG, JPEG or WebP image"
        case let .unsupportedFormat(path, ext):
            "\(path): .\(ext) images are not supported; convert the file to PNG, JPEG or WebP"
        case let .undecodable(error): "\(error)"
        case let .missingSetting(key):
            key == "train_data_dir" ? "text-to-image training needs train_data_dir" : "with_prior_preservation needs \(key)"
        case let .unwritable(error): "\(error)"
        case let .unsupportedScheduler(className, samplers):
            "the model's scheduler \(className) has no matching sampler; choose one of \(samplers.joined(separator: ", "))"
        case let .missingCaption(path): "\(path): missing caption file (each image needs one, or give the folder a metadata.jsonl)"
        case let .uncaptionedClassImage(path):
            "\(path): class image without a caption file (.txt beside it), and no class_prompt to train it with"
        case let .unreadableCaption(path): "\(path): cannot read the caption file as UTF-8 text"
        case let .malformedMetadata(location, reason): "\(location): \(reason)"
        }
    }
}
