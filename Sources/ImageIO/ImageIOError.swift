// ImageIOError: the single error type of ImageIO. Every failure a user can cause (a bad upload, a truncated
// training photo, an unwritable output folder) names the file and says what is wrong with it.

/// A decode or encode failure, naming the file (or `<memory>` for in-memory data) and the reason.
public struct ImageIOError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Why the operation failed.
    public enum Reason: Sendable, Equatable {
        /// The input has no bytes at all.
        case empty
        /// The first bytes are not a PNG, JPEG or WebP signature.
        case unknownFormat
        /// The data ends before the image does.
        case truncated
        /// The data is damaged; the associated text is the codec's own message.
        case corrupt(String)
        /// A valid file we deliberately do not handle (CMYK JPEG, animated WebP, …).
        case unsupported(String)
        /// The header declares more pixels than the limit — refused before any allocation, so that a small
        /// crafted file (a "decompression bomb") cannot make us allocate gigabytes.
        case tooLarge(width: Int, height: Int, maxPixels: Int)
        /// The file could not be read (the associated text is the system's reason).
        case unreadable(String)
        /// The file could not be written (the associated text is the system's reason).
        case unwritable(String)
        /// The encoder refused the image (e.g. WebP's 16383-pixel side limit).
        case encodingFailed(String)
    }

    /// The path of the file concerned, or `<memory>` when decoding bytes that came from elsewhere.
    public var file: String
    /// What went wrong.
    public var reason: Reason

    /// Creates an error for `file`.
    public init(file: String, reason: Reason) {
        self.file = file
        self.reason = reason
    }

    /// `<file>: <reason>`, ready for a log line or an HTTP error message.
    public var description: String {
        let text: String
        switch reason {
        case .empty: text = "empty file"
        case .unknownFormat: text = "not a PNG, JPEG or WebP image"
        case .truncated: text = "truncated image data"
        case .corrupt(let message): text = "corrupt image data (\(message))"
        case .unsupported(let what): text = "unsupported image: \(what)"
        case .tooLarge(let width, let height, let maxPixels):
            text = "image of \(width)x\(height) pixels exceeds the limit of \(maxPixels) pixels"
        case .unreadable(let why): text = "cannot read: \(why)"
        case .unwritable(let why): text = "cannot write: \(why)"
        case .encodingFailed(let why): text = "cannot encode: \(why)"
        }
        return "\(file): \(text)"
    }
}

extension ImageIOError {
    /// The `file` named by errors about data that did not come from a file.
    public static let inMemory = "<memory>"
}
