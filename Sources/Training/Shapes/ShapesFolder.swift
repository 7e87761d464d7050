// Writes a shapes-world data set in the layout of diffusers' `imagefolder` (what train_text_to_image.py
// loads with `--train_data_dir`): DIR/00000.png …, and DIR/metadata.jsonl with one
// {"file_name": "00000.png", "text": "<caption>"} per image. Each image also gets its caption in a .txt
// of the same base name (00000.txt), the convention of kohya-style trainers and of a human browsing.
//
// Every file is written atomically (ImageFile's temporary file + fsync + rename), and metadata.jsonl
// last: an interrupted run leaves no half-written image and no metadata naming a missing one. The folder
// must be new or empty, because imagefolder takes every image in it — a stray PNG from an earlier, larger
// run would join the data set without a caption.
import Foundation
import ImageIO

/// Writing shapes data sets to disk.
public enum ShapesFolder {
    /// Images per data set. Names widen past five digits when needed; more than ten million images is
    /// surely a typo, and would be refused before hours of writing.
    public static let countRange = 1...10_000_000
    /// Image sides: ≥ 48 keeps the 3 % margin at least one pixel wide (see ShapeScene), ≤ 1024 is
    /// beyond any SD 1.x training size.
    public static let sizeRange = 48...1024
    /// The metadata file imagefolder reads.
    public static let metadataName = "metadata.jsonl"

    /// The base name of image `index` in a set of `count`: zero-padded to five digits, or more when
    /// `count` needs them, so that names sort in image order.
    public static func baseName(index: Int, count: Int) -> String {
        let digits = max(5, String(max(count - 1, 0)).count)
        let number = String(index)
        return String(repeating: "0", count: max(digits - number.count, 0)) + number
    }

    /// Writes images 0 ..< `count` of `dataset` at `side` pixels into `directory` (created if missing).
    /// `progress` is called with the number of images written after each one.
    public static func write(_ dataset: ShapesDataset, count: Int, side: Int, to directory: URL,
                             progress: (Int) -> Void = { _ in }) throws(ShapesError) {
        guard countRange.contains(count) else { throw .invalidCount(count, allowed: countRange) }
        guard sizeRange.contains(side) else { throw .invalidSize(side, allowed: sizeRange) }
        try prepare(directory)

        var metadata = ""
        for index in 0..<count {
            let (image, caption) = dataset.example(at: index, side: side)
            let base = baseName(index: index, count: count)
            do {
                try ImageFile.write(image, to: directory.appendingPathComponent(base + ".png"), format: .png)
                try ImageFile.write(Data(caption.utf8), atomicallyTo: directory.appendingPathComponent(base + ".txt"))
            } catch {
                throw .unwritable(error)
            }
            metadata += metadataLine(fileName: base + ".png", text: caption) + "\n"
            progress(index + 1)
        }
        do {
            try ImageFile.write(Data(metadata.utf8), atomicallyTo: directory.appendingPathComponent(metadataName))
        } catch {
            throw .unwritable(error)
        }
    }

    /// One line of metadata.jsonl: `{"file_name": "00000.png", "text": "…"}`, the form of diffusers'
    /// imagefolder documentation; values are JSON-escaped, though our captions never need it.
    public static func metadataLine(fileName: String, text: String) -> String {
        "{\"file_name\": \(jsonString(fileName)), \"text\": \(jsonString(text))}"
    }

    /// `value` as a JSON string literal (Foundation's encoder: quotes, backslashes and control
    /// characters escaped; slashes left alone, as Python's json writes them).
    private static func jsonString(_ value: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        // Encoding a String cannot fail.
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
    }

    /// Creates `directory` if missing; refuses a file, or a directory that holds anything.
    static func prepare(_ directory: URL) throws(ShapesError) {
        let path = directory.path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw .notADirectory(path: path) }
            let entries: [String]
            do {
                entries = try FileManager.default.contentsOfDirectory(atPath: path)
            } catch {
                throw .unusableDirectory(path: path, reason: Self.reason(error))
            }
            guard entries.isEmpty else { throw .directoryNotEmpty(path: path, entries: entries.count) }
        } else {
            do {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            } catch {
                throw .unusableDirectory(path: path, reason: Self.reason(error))
            }
        }
    }

    private static func reason(_ error: any Error) -> String {
        if let cocoa = error as? CocoaError, let posix = cocoa.underlying as? POSIXError {
            return String(cString: strerror(posix.code.rawValue))
        }
        return (error as NSError).localizedDescription
    }
}
