// JPEG encode through libjpeg(-turbo), for OpenAI's `output_format: "jpeg"` and A1111's `samples_format:
// "jpg"`: baseline, 4:2:0, at a quality 0–100, with the infotext in an EXIF APP1 segment's UserComment,
// where A1111 writes it for JPEGs (piexif), so that its "PNG Info" tab, PIL's getexif() and our own
// decoder read the parameters back. libjpeg's fatal errors end the encoder's own thread, as for decoding
// (AbandonableThread): the thread touches only the C-layout `EncodeJob`; the compressed bytes land in a
// buffer libjpeg mallocs (jpeg_mem_dest), freed by the caller.
import CImageCodecs
import Foundation

extension JPEGCodec {
    /// `image` as a JPEG at `quality` (0–100), with `parameters` in EXIF UserComment.
    public static func encode(_ image: RGBImage, quality: Int, parameters: String? = nil) throws(ImageIOError) -> Data {
        let fail = { (reason: String) in ImageIOError(file: ImageIOError.inMemory, reason: .encodingFailed(reason)) }
        guard (0...100).contains(quality) else { throw fail("JPEG quality must be 0 to 100, got \(quality)") }
        guard image.width > 0, image.height > 0, image.width <= 65_500, image.height <= 65_500 else {
            throw fail("JPEG sides must be 1 to 65500, got \(image.width)×\(image.height)")
        }
        let exif: [UInt8] = parameters.map { Array("Exif".utf8) + [0, 0] + EXIFUserComment.tiff(userComment: $0) } ?? []
        guard exif.count + 2 <= 0xFFFF else { throw fail("the infotext is too long for a JPEG EXIF segment") }

        let job = UnsafeMutablePointer<EncodeJob>.allocate(capacity: 1)
        let message = UnsafeMutablePointer<CChar>.allocate(capacity: Int(JMSG_LENGTH_MAX))
        message.initialize(repeating: 0, count: Int(JMSG_LENGTH_MAX))
        defer {
            jpeg_destroy_compress(job.pointer(to: \.compress)!)
            free(job.pointee.output)
            job.deallocate()
            message.deallocate()
        }
        return try image.pixels.withUnsafeBufferPointer { pixels throws(ImageIOError) -> Data in
            try exif.withUnsafeBufferPointer { exifBytes throws(ImageIOError) -> Data in
                job.initialize(to: EncodeJob(pixels: pixels.baseAddress!, width: image.width, height: image.height,
                                             quality: Int32(quality), exif: exifBytes.baseAddress, exifCount: exifBytes.count,
                                             message: message))
                guard let finished = AbandonableThread.run(encodeOnThread, context: UnsafeMutableRawPointer(job)) else {
                    throw fail("cannot start an encoder thread")
                }
                guard finished, job.pointee.done, let output = job.pointee.output else {
                    let text = String(cString: message)
                    throw fail(text.isEmpty ? "libjpeg error" : text)
                }
                return Data(bytes: output, count: Int(job.pointee.outputCount))
            }
        }
    }
}

/// Everything the encoder thread reads and writes; libjpeg keeps a pointer to `errors`.
private struct EncodeJob {
    var compress = jpeg_compress_struct()
    var errors: JPEGErrorManager
    var pixels: UnsafePointer<UInt8>
    var width: Int
    var height: Int
    var quality: Int32
    var exif: UnsafePointer<UInt8>?
    var exifCount: Int
    var output: UnsafeMutablePointer<UInt8>?
    var outputCount: UInt = 0
    var done = false

    init(pixels: UnsafePointer<UInt8>, width: Int, height: Int, quality: Int32, exif: UnsafePointer<UInt8>?, exifCount: Int,
         message: UnsafeMutablePointer<CChar>) {
        self.pixels = pixels; self.width = width; self.height = height; self.quality = quality
        self.exif = exif; self.exifCount = exifCount; self.errors = JPEGErrorManager(message: message)
    }
}

private let encodeOnThread: AbandonableThread.Body = { raw in
    let job = raw.assumingMemoryBound(to: EncodeJob.self)
    let compress = job.pointer(to: \.compress)!
    compress.pointee.err = JPEGErrorManager.install(at: job.pointer(to: \.errors)!)
    jpeg_CreateCompress(compress, JPEG_LIB_VERSION, MemoryLayout<jpeg_compress_struct>.size)
    compress.pointee.client_data = raw
    // libjpeg-turbo grows the buffer as it writes; both are ours to free after the thread.
    jpeg_mem_dest(compress, job.pointer(to: \.output)!, job.pointer(to: \.outputCount)!)
    compress.pointee.image_width = JDIMENSION(job.pointee.width)
    compress.pointee.image_height = JDIMENSION(job.pointee.height)
    compress.pointee.input_components = 3
    compress.pointee.in_color_space = JCS_RGB
    jpeg_set_defaults(compress)
    jpeg_set_quality(compress, job.pointee.quality, 1)
    jpeg_start_compress(compress, 1)
    if let exif = job.pointee.exif, job.pointee.exifCount > 0 {
        jpeg_write_marker(compress, JPEG_APP0 + 1, exif, UInt32(job.pointee.exifCount))
    }
    let stride = job.pointee.width * 3
    while compress.pointee.next_scanline < compress.pointee.image_height {
        var row: JSAMPROW? = UnsafeMutablePointer(mutating: job.pointee.pixels + Int(compress.pointee.next_scanline) * stride)
        _ = jpeg_write_scanlines(compress, &row, 1)
    }
    jpeg_finish_compress(compress)
    job.pointee.done = true
}
