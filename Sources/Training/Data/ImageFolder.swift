// The image files of a training folder (instance_data_dir, class_data_dir). diffusers takes every entry
// of `Path.iterdir()`, in directory order — which differs between file systems and machines, and chokes
// on a stray README or .DS_Store. We list regular files only, skip hidden ones (".…") and files that are
// not images, sort by the bytes of their names (locale-independent), and refuse files that claim an
// image format we cannot read rather than silently training without them.
import Foundation
import ImageIO

/// Listing the images of a folder.
public enum ImageFolder {
    /// Extensions of the formats ImageIO decodes.
    public static let imageExtensions: Set<String> = ["png", "jpg", "jpeg", "webp"]
    /// Image formats a user may drop into a folder that we cannot decode: an error, not a silent skip.
    public static let unsupportedImageExtensions: Set<String> =
        ["gif", "bmp", "tif", "tiff", "heic", "heif", "avif", "jxl", "jp2"]

    /// The image files of `directory`, sorted by name. Non-image files, hidden files and sub-folders are
    /// skipped; `role` ("instance", "class") goes into errors.
    public static func imageFiles(in directory: URL, role: String) throws(TrainingDataError) -> [URL] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory),
              isDirectory.boolValue else {
            throw .missingDirectory(role: role, path: directory.path)
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw .unreadableDirectory(path: directory.path, reason: (error as NSError).localizedDescription)
        }
        var files: [URL] = []
        for name in names where !name.hasPrefix(".") {
            let url = directory.appendingPathComponent(name)
            let fileExtension = url.pathExtension.lowercased()
            var entryIsDirectory: ObjCBool = false
            // fileExists follows symbolic links: a link to an image counts, a link to a folder does not.
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &entryIsDirectory),
                  !entryIsDirectory.boolValue else { continue }
            if unsupportedImageExtensions.contains(fileExtension) {
                throw .unsupportedFormat(path: url.path, fileExtension: fileExtension)
            }
            if imageExtensions.contains(fileExtension) { files.append(url) }
        }
        return files.sorted { $0.lastPathComponent.utf8.lexicographicallyPrecedes($1.lastPathComponent.utf8) }
    }

    /// The caption file beside `image` (same name, `.txt`, as kohya's folders have it), trimmed; nil
    /// when there is none.
    public static func caption(beside image: URL) throws(TrainingDataError) -> String? {
        let captionFile = image.deletingPathExtension().appendingPathExtension("txt")
        guard FileManager.default.fileExists(atPath: captionFile.path) else { return nil }
        guard let data = FileManager.default.contents(atPath: captionFile.path),
              let caption = String(data: data, encoding: .utf8) else {
            throw .unreadableCaption(path: captionFile.path)
        }
        return caption.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
