// PNG encode and decode through libpng's simplified API (png_image_*), plus the `parameters` text chunk.
//
// Why the simplified API: libpng's full API reports errors by longjmp to a setjmp point the caller
// provides, and Swift cannot call setjmp (it returns twice). If no setjmp point is set, libpng aborts the
// process. The simplified API wraps each call in libpng's own setjmp internally and reports failure as a
// return value plus `png_image.message`, so it is safe to call from Swift. It has no text-chunk support;
// PNGTextChunks.swift handles those at the byte level.

import CImageCodecs
import Foundation

/// PNG with A1111's `parameters` text chunk.
public enum PNGCodec {
    /// The text-chunk keyword A1111 and the tools that read its images use for the infotext.
    public static let parametersKeyword = "parameters"

    /// Encodes `image` as an 8-bit RGB PNG; `parameters`, when given, goes into a `parameters` text chunk
    /// (tEXt if Latin-1, iTXt otherwise, as A1111/PIL write it).
    public static func encode(_ image: RGBImage, parameters: String? = nil) -> Data {
        var png = png_image()
        png.version = png_uint_32(PNG_IMAGE_VERSION)
        png.width = png_uint_32(image.width)
        png.height = png_uint_32(image.height)
        png.format = png_uint_32(PNG_FORMAT_FLAG_COLOR)  // PNG_FORMAT_RGB

        // Room for the worst case (incompressible rows stored verbatim, plus one filter byte per row and
        // zlib's block overhead) so that one call normally suffices; the API tells us if it needed more.
        let raw = (image.width * 3 + 1) * image.height
        var capacity = raw + raw / 1000 + 1024
        var encoded = Data()
        image.pixels.withUnsafeBytes { pixels in
            for _ in 0..<2 {
                var buffer = [UInt8](repeating: 0, count: capacity)
                var size = png_alloc_size_t(capacity)
                let ok = buffer.withUnsafeMutableBytes { out in
                    png_image_write_to_memory(&png, out.baseAddress, &size, 0, pixels.baseAddress, 0, nil)
                }
                if ok != 0 {
                    encoded = Data(buffer.prefix(Int(size)))
                    return
                }
                guard Int(size) > capacity else { break }
                capacity = Int(size)
                png.warning_or_error = 0
            }
        }
        // Writing an in-memory RGB buffer fails only for bad arguments or exhausted memory: a bug, not input.
        guard !encoded.isEmpty else { preconditionFailure("libpng could not encode: \(message(of: png))") }
        guard let parameters else { return encoded }
        return PNGChunks.inserting([PNGTextChunk(keyword: parametersKeyword, text: parameters)], into: encoded)
    }

    /// Decodes any PNG (grey, palette, 16-bit, with or without alpha) to 8-bit RGB, compositing alpha over
    /// white, and returns the text of its last `parameters` chunk (the one PIL's `info` would show).
    ///
    /// - Parameters:
    ///   - source: the file name that errors carry.
    ///   - maxPixels: images whose header declares more pixels are refused before decoding.
    public static func decode(_ data: Data, source: String = ImageIOError.inMemory,
                              maxPixels: Int = ImageFile.defaultMaxPixels)
        throws(ImageIOError) -> (image: RGBImage, parameters: String?) {
        let image = try decodePixels(data, source: source, maxPixels: maxPixels)
        let parameters = PNGChunks.textChunks(in: data).last { $0.keyword == parametersKeyword }?.text
        return (image, parameters)
    }

    /// All text chunks of `data` (tEXt and uncompressed iTXt) in file order.
    public static func textChunks(in data: Data) -> [PNGTextChunk] {
        PNGChunks.textChunks(in: data)
    }

    private static func decodePixels(_ data: Data, source: String, maxPixels: Int) throws(ImageIOError) -> RGBImage {
        let fail = { (reason: ImageIOError.Reason) in ImageIOError(file: source, reason: reason) }
        guard !data.isEmpty else { throw fail(.empty) }
        let result: Result<RGBImage, ImageIOError> = data.withUnsafeBytes { bytes in
            var png = png_image()
            png.version = png_uint_32(PNG_IMAGE_VERSION)
            // libpng keeps pointers into `bytes` until png_image_finish_read or png_image_free.
            defer { png_image_free(&png) }
            guard png_image_begin_read_from_memory(&png, bytes.baseAddress, bytes.count) != 0 else {
                return .failure(fail(classify(message(of: png), data: data)))
            }
            let width = Int(png.width), height = Int(png.height)
            // PNG sides are below 2³¹, so the product cannot overflow a 64-bit Int.
            guard width * height <= maxPixels else {
                return .failure(fail(.tooLarge(width: width, height: height, maxPixels: maxPixels)))
            }
            // Files from outside rarely mark 16-bit data as linear; without this flag libpng would assume
            // linear and brighten them on the way to 8-bit sRGB. PIL, too, treats them as plain sRGB.
            png.flags |= png_uint_32(PNG_IMAGE_FLAG_16BIT_sRGB)
            // RGBA, then our own composite over white: libpng's own background composite works in linear
            // light, which would differ from what A1111/PIL produce for the same file.
            png.format = png_uint_32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)
            var rgba = [UInt8](repeating: 0, count: width * height * 4)
            let ok = rgba.withUnsafeMutableBytes { out in
                png_image_finish_read(&png, nil, out.baseAddress, 0, nil)
            }
            guard ok != 0 else { return .failure(fail(classify(message(of: png), data: data))) }
            return .success(rgba.withUnsafeBufferPointer {
                RGBImage(compositingOverWhite: $0, width: width, height: height)
            })
        }
        return try result.get()
    }

    /// libpng's error message, from the fixed-size `message` field of `png_image`.
    private static func message(of png: png_image) -> String {
        withUnsafeBytes(of: png.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// Maps a libpng failure to a reason. The simplified API's memory reader reports running out of input
    /// as "read beyond end of data" (png_image_memory_read), which for a whole file in memory means the
    /// file is cut short; any other message is libpng's description of damage ("IHDR: CRC error", …).
    private static func classify(_ message: String, data: Data) -> ImageIOError.Reason {
        if !data.starts(with: PNGChunks.signature) { return .unknownFormat }
        if message == "read beyond end of data" { return .truncated }
        return .corrupt(message.isEmpty ? "libpng error" : message)
    }
}
