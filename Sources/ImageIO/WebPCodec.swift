// WebP encode (lossless, or lossy at a quality) and decode through libwebp, with the infotext in an EXIF
// chunk attached by libwebpmux. A1111 saves WebP with PIL and then inserts EXIF with piexif, whose
// UserComment holds the infotext (see EXIFUserComment.swift); we produce the same chunk, so A1111's
// "PNG Info" tab, PIL's `getexif()` and piexif all read our parameters. libwebp reports every error as a
// return value, so unlike libpng and libjpeg it needs no special care from Swift.

import CImageCodecs
import Foundation

/// WebP with the generation parameters in EXIF UserComment.
public enum WebPCodec {
    /// WebP's largest side, fixed by the bitstream format.
    public static let maxDimension = 16383

    /// Encodes `image`: lossless when `quality` is nil, otherwise lossy at `quality` in 0...100 (libwebp's
    /// scale, as PIL's `quality=`). `parameters`, when given, is attached as EXIF UserComment.
    public static func encode(_ image: RGBImage, quality: Int? = nil, parameters: String? = nil)
        throws(ImageIOError) -> Data {
        if let quality { precondition((0...100).contains(quality), "WebP quality \(quality) is outside 0...100") }
        guard image.width <= maxDimension, image.height <= maxDimension else {
            throw ImageIOError(file: ImageIOError.inMemory, reason: .encodingFailed(
                "WebP cannot hold \(image.width)x\(image.height) (largest side \(maxDimension))"))
        }
        var output: UnsafeMutablePointer<UInt8>?
        let size = image.pixels.withUnsafeBufferPointer { rgb in
            let (base, w, h, stride) = (rgb.baseAddress, Int32(image.width), Int32(image.height), Int32(image.width * 3))
            if let quality {
                return WebPEncodeRGB(base, w, h, stride, Float(quality), &output)
            }
            return WebPEncodeLosslessRGB(base, w, h, stride, &output)
        }
        defer { WebPFree(output) }
        guard size > 0, let output else {
            throw ImageIOError(file: ImageIOError.inMemory, reason: .encodingFailed("libwebp could not encode the image"))
        }
        guard let parameters else { return Data(bytes: output, count: size) }
        return try attachEXIF(EXIFUserComment.tiff(userComment: parameters), to: output, count: size)
    }

    /// Rebuilds the file with WebPMux: a VP8X header with the EXIF flag, the image, then the EXIF chunk.
    private static func attachEXIF(_ exif: [UInt8], to bitstream: UnsafePointer<UInt8>, count: Int)
        throws(ImageIOError) -> Data {
        guard let mux = WebPMuxNew() else {
            throw ImageIOError(file: ImageIOError.inMemory, reason: .encodingFailed("WebPMuxNew failed"))
        }
        defer { WebPMuxDelete(mux) }
        var image = WebPData(bytes: bitstream, size: count)
        var assembled = WebPData()
        defer { WebPDataClear(&assembled) }
        let status = exif.withUnsafeBufferPointer { exifBytes -> WebPMuxError in
            var chunk = WebPData(bytes: exifBytes.baseAddress, size: exifBytes.count)
            // copy_data = 1: the mux keeps its own copies, so neither buffer has to outlive this closure.
            var status = WebPMuxSetImage(mux, &image, 1)
            if status == WEBP_MUX_OK { status = WebPMuxSetChunk(mux, "EXIF", &chunk, 1) }
            if status == WEBP_MUX_OK { status = WebPMuxAssemble(mux, &assembled) }
            return status
        }
        guard status == WEBP_MUX_OK, let bytes = assembled.bytes else {
            throw ImageIOError(file: ImageIOError.inMemory,
                               reason: .encodingFailed("WebPMux error \(status.rawValue)"))
        }
        return Data(bytes: bytes, count: assembled.size)
    }

    /// Decodes a still WebP (lossy or lossless, with or without alpha) to RGB, compositing alpha over
    /// white, and returns the EXIF UserComment if the file has one.
    public static func decode(_ data: Data, source: String = ImageIOError.inMemory,
                              maxPixels: Int = ImageFile.defaultMaxPixels)
        throws(ImageIOError) -> (image: RGBImage, parameters: String?) {
        let fail = { (reason: ImageIOError.Reason) in ImageIOError(file: source, reason: reason) }
        guard !data.isEmpty else { throw fail(.empty) }
        let result: Result<(RGBImage, String?), ImageIOError> = data.withUnsafeBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            var features = WebPBitstreamFeatures()
            var status = WebPGetFeatures(bytes.baseAddress, bytes.count, &features)
            guard status == VP8_STATUS_OK else { return .failure(fail(reason(for: status))) }
            if features.has_animation != 0 { return .failure(fail(.unsupported("animated WebP"))) }
            let width = Int(features.width), height = Int(features.height)
            guard width * height <= maxPixels else {
                return .failure(fail(.tooLarge(width: width, height: height, maxPixels: maxPixels)))
            }

            var config = WebPDecoderConfig()
            guard WebPInitDecoderConfig(&config) != 0 else {
                return .failure(fail(.unsupported("libwebp decoder version mismatch")))
            }
            let channels = features.has_alpha != 0 ? 4 : 3
            var pixels = [UInt8](repeating: 0, count: width * height * channels)
            status = pixels.withUnsafeMutableBufferPointer { out in
                config.output.colorspace = channels == 4 ? MODE_RGBA : MODE_RGB
                config.output.is_external_memory = 1
                config.output.u.RGBA = WebPRGBABuffer(rgba: out.baseAddress, stride: Int32(width * channels),
                                                      size: out.count)
                defer { WebPFreeDecBuffer(&config.output) }
                return WebPDecode(bytes.baseAddress, bytes.count, &config)
            }
            guard status == VP8_STATUS_OK else { return .failure(fail(reason(for: status))) }
            let image = channels == 3
                ? RGBImage(width: width, height: height, pixels: pixels)
                : pixels.withUnsafeBufferPointer { RGBImage(compositingOverWhite: $0, width: width, height: height) }
            return .success((image, exifChunk(in: bytes).flatMap(EXIFUserComment.userComment(inEXIF:))))
        }
        let (image, parameters) = try result.get()
        return (image, parameters)
    }

    /// The EXIF chunk of a WebP file, or nil.
    private static func exifChunk(in bytes: UnsafeBufferPointer<UInt8>) -> Data? {
        var bitstream = WebPData(bytes: bytes.baseAddress, size: bytes.count)
        // copy_data = 0: the mux points into `bytes`, which outlives it; we copy the chunk out below.
        guard let mux = WebPMuxCreate(&bitstream, 0) else { return nil }
        defer { WebPMuxDelete(mux) }
        var chunk = WebPData()
        guard WebPMuxGetChunk(mux, "EXIF", &chunk) == WEBP_MUX_OK, let chunkBytes = chunk.bytes else { return nil }
        return Data(bytes: chunkBytes, count: chunk.size)
    }

    private static func reason(for status: VP8StatusCode) -> ImageIOError.Reason {
        switch status {
        case VP8_STATUS_NOT_ENOUGH_DATA: .truncated
        case VP8_STATUS_UNSUPPORTED_FEATURE: .unsupported("WebP feature not supported by libwebp")
        case VP8_STATUS_OUT_OF_MEMORY: .corrupt("libwebp ran out of memory")
        default: .corrupt("libwebp status \(status.rawValue)")
        }
    }
}
