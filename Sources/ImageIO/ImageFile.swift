// ImageFile: the front door of ImageIO. Decode any supported file by sniffing its first bytes, encode to
// PNG or WebP with the generation parameters embedded, and write files atomically, so that a crash or a
// full disk never leaves a half-written image under the final name for a watcher or a client to pick up.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading and writing image files.
public enum ImageFile {
    /// The default pixel limit of every decoder (16384²): enough for any photo, small enough that a
    /// crafted header cannot make us allocate more than 1 GiB.
    public static let defaultMaxPixels = 16_384 * 16_384

    /// Decodes the PNG, JPEG or WebP file at `url` to RGB and returns the A1111 infotext it carries
    /// (PNG `parameters` text chunk, or EXIF UserComment in JPEG/WebP), if any.
    /// Errors name the file: unreadable, empty, unknown format, truncated, corrupt, unsupported, too large.
    public static func decode(contentsOf url: URL, maxPixels: Int = defaultMaxPixels)
        throws(ImageIOError) -> (image: RGBImage, parameters: String?) {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ImageIOError(file: url.path, reason: .unreadable(systemReason(error)))
        }
        return try decode(data, source: url.path, maxPixels: maxPixels)
    }

    /// Decodes in-memory image bytes; `source` is the name errors carry (an upload's field name, say).
    public static func decode(_ data: Data, source: String = ImageIOError.inMemory,
                              maxPixels: Int = defaultMaxPixels)
        throws(ImageIOError) -> (image: RGBImage, parameters: String?) {
        guard !data.isEmpty else { throw ImageIOError(file: source, reason: .empty) }
        switch ImageFormat(sniffing: data) {
        case .png: return try PNGCodec.decode(data, source: source, maxPixels: maxPixels)
        case .jpeg: return try JPEGCodec.decode(data, source: source, maxPixels: maxPixels)
        case .webp: return try WebPCodec.decode(data, source: source, maxPixels: maxPixels)
        case nil:
            // A file cut inside its own signature is truncated rather than of unknown format.
            let signatures: [[UInt8]] = [[0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], [0xFF, 0xD8, 0xFF],
                                         Array("RIFF".utf8)]
            let isCutSignature = data.count < 12 && signatures.contains { $0.starts(with: data.prefix($0.count)) }
            throw ImageIOError(file: source, reason: isCutSignature ? .truncated : .unknownFormat)
        }
    }

    /// Encodes `image` as PNG, WebP or JPEG with `parameters` (an infotext) embedded where A1111 puts it.
    /// `quality`: WebP — nil means lossless, 0...100 lossy; JPEG — 0...100, nil means A1111's default 80.
    public static func encode(_ image: RGBImage, format: ImageFormat, quality: Int? = nil,
                              parameters: String? = nil) throws(ImageIOError) -> Data {
        switch format {
        case .png: return PNGCodec.encode(image, parameters: parameters)
        case .webp: return try WebPCodec.encode(image, quality: quality, parameters: parameters)
        case .jpeg: return try JPEGCodec.encode(image, quality: quality ?? 80, parameters: parameters)
        }
    }

    /// Encodes `image` and writes it to `url` atomically. `format` defaults to the one of the file's
    /// extension (.png, .webp).
    public static func write(_ image: RGBImage, to url: URL, format: ImageFormat? = nil, quality: Int? = nil,
                             parameters: String? = nil) throws(ImageIOError) {
        guard let format = format ?? ImageFormat(fileExtension: url.pathExtension) else {
            throw ImageIOError(file: url.path, reason: .encodingFailed(
                "cannot tell the image format from the extension \"\(url.pathExtension)\""))
        }
        let data: Data
        do {
            data = try encode(image, format: format, quality: quality, parameters: parameters)
        } catch {
            throw ImageIOError(file: url.path, reason: error.reason)
        }
        try write(data, atomicallyTo: url)
    }

    /// Writes `data` to `url` so that readers see either the old file or the complete new one: write a
    /// temporary file in the same directory (rename is atomic only within one file system), fsync it,
    /// rename it over `url`, then fsync the directory so that the rename itself survives a power cut.
    public static func write(_ data: Data, atomicallyTo url: URL) throws(ImageIOError) {
        let path = url.path
        let fail = { (what: String) in
            ImageIOError(file: path, reason: .unwritable("\(what): \(String(cString: strerror(errno)))"))
        }
        let directory = url.deletingLastPathComponent().path
        let temporary = "\(directory)/.\(url.lastPathComponent).\(UInt64.random(in: 0...UInt64.max)).tmp"

        // 0666 less the umask, as for any file the user creates.
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard fd >= 0 else { throw fail("cannot create \(temporary)") }
        var renamed = false
        defer { if !renamed { unlink(temporary) } }

        let written: Bool = data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = systemWrite(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += n
            }
            return true
        }
        guard written else { let error = fail("write failed"); close(fd); throw error }
        guard fsync(fd) == 0 else { let error = fail("fsync failed"); close(fd); throw error }
        guard close(fd) == 0 else { throw fail("close failed") }
        guard rename(temporary, path) == 0 else { throw fail("rename failed") }
        renamed = true

        let directoryFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            // Best effort: some file systems refuse fsync on directories, and the data is already in place.
            _ = fsync(directoryFD)
            close(directoryFD)
        }
    }

    /// write(2); named apart because `write` inside ImageFile means our own methods.
    private static func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
        Glibc.write(fd, buffer, count)
        #else
        Darwin.write(fd, buffer, count)
        #endif
    }

    private static func systemReason(_ error: any Error) -> String {
        if let cocoa = error as? CocoaError, let posix = cocoa.underlying as? POSIXError {
            return String(cString: strerror(posix.code.rawValue))
        }
        return (error as NSError).localizedDescription
    }
}
