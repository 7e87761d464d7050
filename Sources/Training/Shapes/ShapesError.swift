// Errors of making a shapes-world data set. Each names the setting or the path that is wrong, so that
// `dbtrain make-shapes` can print it as is.
import ImageIO

/// A shapes data set that cannot be made as asked.
public enum ShapesError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The number of images is outside the allowed range.
    case invalidCount(Int, allowed: ClosedRange<Int>)
    /// The image side is outside the allowed range.
    case invalidSize(Int, allowed: ClosedRange<Int>)
    /// The instance images' background is one of the subject's own colours.
    case invalidInstanceBackground(ShapeColor, allowed: [ShapeColor])
    /// The output path exists and is not a directory.
    case notADirectory(path: String)
    /// The output directory already holds files (diffusers' imagefolder would read strays as data).
    case directoryNotEmpty(path: String, entries: Int)
    /// The output directory could not be created or listed (`reason`: the system's).
    case unusableDirectory(path: String, reason: String)
    /// A file could not be written (the ImageIO error names it and says why).
    case unwritable(ImageIOError)

    public var description: String {
        switch self {
        case let .invalidCount(count, allowed):
            "--count \(count) is out of range: give \(allowed.lowerBound)…\(allowed.upperBound) images"
        case let .invalidSize(size, allowed):
            "--size \(size) is out of range: give \(allowed.lowerBound)…\(allowed.upperBound) pixels"
        case let .invalidInstanceBackground(background, allowed):
            "--instance-background \(background.rawValue) is one of the subject's colours: give one of \(allowed.map(\.rawValue).joined(separator: ", "))"
        case let .notADirectory(path): "\(path) exists and is not a directory"
        case let .directoryNotEmpty(path, entries):
            "\(path) is not empty (\(entries) entries); give a new or empty folder, so that no stray file joins the data set"
        case let .unusableDirectory(path, reason): "\(path): cannot use the directory: \(reason)"
        case let .unwritable(error): "\(error)"
        }
    }
}
