// JPEG decode through libjpeg(-turbo), for img2img inputs and training photos (encoding: JPEGEncoder.swift).
//
// libjpeg reports fatal errors by calling `error_exit`, which must not return (the default calls exit()).
// C code would longjmp out; Swift cannot setjmp. So the decode runs on an AbandonableThread: our
// error_exit (JPEGErrorManager) formats libjpeg's message and ends that thread. Everything the thread touches is one
// C-layout `Job` in memory we allocate, and the caller destroys the decompressor after the thread is
// gone. Our own source manager reads from memory and turns "ran out of data" into `.truncated` — libjpeg
// itself would only warn, pad with a fake end marker and return a grey-filled image.

import CImageCodecs
import Foundation

/// JPEG decoding (baseline, progressive, greyscale or YCbCr) to 8-bit RGB.
public enum JPEGCodec {
    /// Decodes `data` and returns the EXIF UserComment (APP1), where A1111 writes the infotext of its JPEGs.
    /// CMYK/YCCK JPEGs (print workflows) are refused as `.unsupported`: converting them correctly needs
    /// their colour profile, and a wrong conversion would silently poison a training set.
    public static func decode(_ data: Data, source: String = ImageIOError.inMemory,
                              maxPixels: Int = ImageFile.defaultMaxPixels)
        throws(ImageIOError) -> (image: RGBImage, parameters: String?) {
        let fail = { (reason: ImageIOError.Reason) in ImageIOError(file: source, reason: reason) }
        guard !data.isEmpty else { throw fail(.empty) }

        let job = UnsafeMutablePointer<Job>.allocate(capacity: 1)
        let message = UnsafeMutablePointer<CChar>.allocate(capacity: Int(JMSG_LENGTH_MAX))
        message.initialize(repeating: 0, count: Int(JMSG_LENGTH_MAX))
        defer {
            // Safe on a decompressor that was never created: it only frees pools that exist.
            jpeg_destroy_decompress(job.pointer(to: \.decompress)!)
            free(job.pointee.pixels)
            free(job.pointee.exif)
            job.deallocate()
            message.deallocate()
        }

        let result: Result<(RGBImage, String?), ImageIOError> = data.withUnsafeBytes { raw in
            job.initialize(to: Job(input: raw.bindMemory(to: UInt8.self).baseAddress!, inputCount: raw.count,
                                   message: message, maxPixels: maxPixels))
            guard AbandonableThread.run(decodeOnThread, context: UnsafeMutableRawPointer(job)) != nil else {
                return .failure(fail(.unreadable("cannot start a decoder thread")))
            }
            let state = job.pointee
            switch state.outcome {
            case .decoded:
                let pixels = Array(UnsafeBufferPointer(start: state.pixels, count: state.width * state.height * 3))
                let image = RGBImage(width: state.width, height: state.height, pixels: pixels)
                let exif = state.exif.map { Data(bytes: $0, count: state.exifCount) }
                return .success((image, exif.flatMap(EXIFUserComment.userComment(inEXIF:))))
            case .truncated: return .failure(fail(.truncated))
            case .tooLarge: return .failure(fail(.tooLarge(width: state.width, height: state.height, maxPixels: maxPixels)))
            case .unsupportedColorSpace: return .failure(fail(.unsupported("CMYK/YCCK JPEG")))
            case .libraryError, .running:
                let text = String(cString: message)
                if !data.starts(with: [0xFF, 0xD8]) { return .failure(fail(.unknownFormat)) }
                return .failure(fail(.corrupt(text.isEmpty ? "libjpeg error" : text)))
            }
        }
        return try result.get()
    }
}

// MARK: - The decoder thread: plain C-layout state and C callbacks only (see AbandonableThread.swift)

private enum Outcome: Int32 {
    case running, decoded, truncated, tooLarge, unsupportedColorSpace, libraryError
}

/// Everything the decoder thread reads and writes. libjpeg keeps pointers to `errors` and `source`, so a
/// Job must stay where it was allocated.
private struct Job {
    var decompress = jpeg_decompress_struct()
    var errors: JPEGErrorManager
    var source = jpeg_source_mgr()
    var input: UnsafePointer<UInt8>
    var inputCount: Int
    var maxPixels: Int
    /// Set once every scanline is out: only then may a missing end marker be forgiven.
    var allRowsRead = false
    var endOfImage: (UInt8, UInt8) = (0xFF, 0xD9)
    var outcome = Outcome.running
    var width = 0
    var height = 0
    /// malloc'd by the thread (C memory: nothing to lose if the thread is ended), freed by the caller.
    var pixels: UnsafeMutablePointer<UInt8>?
    /// A malloc'd copy of the first EXIF APP1 segment ("Exif\0\0" + TIFF), freed by the caller. Copied
    /// because jpeg_finish_decompress frees the saved markers.
    var exif: UnsafeMutablePointer<UInt8>?
    var exifCount = 0

    init(input: UnsafePointer<UInt8>, inputCount: Int, message: UnsafeMutablePointer<CChar>, maxPixels: Int) {
        self.input = input
        self.inputCount = inputCount
        self.errors = JPEGErrorManager(message: message)
        self.maxPixels = maxPixels
    }
}

private func jobOf(_ decompress: j_decompress_ptr) -> UnsafeMutablePointer<Job> {
    decompress.pointee.client_data.assumingMemoryBound(to: Job.self)
}

private let decodeOnThread: AbandonableThread.Body = { raw in
    let job = raw.assumingMemoryBound(to: Job.self)
    let decompress = job.pointer(to: \.decompress)!

    // A fatal error leaves the outcome `.running`: the caller reads it as libjpeg's error.
    decompress.pointee.err = JPEGErrorManager.install(at: job.pointer(to: \.errors)!)
    decompress.pointee.client_data = raw
    // jpeg_create_decompress is a macro: it passes the library version and struct size for an ABI check.
    jpeg_CreateDecompress(decompress, JPEG_LIB_VERSION, MemoryLayout<jpeg_decompress_struct>.size)
    decompress.pointee.client_data = raw  // CreateDecompress keeps `err` and `client_data`, but be explicit

    let source = job.pointer(to: \.source)!
    source.pointee.next_input_byte = job.pointee.input
    source.pointee.bytes_in_buffer = job.pointee.inputCount
    source.pointee.init_source = { _ in }
    source.pointee.term_source = { _ in }
    source.pointee.resync_to_restart = jpeg_resync_to_restart
    source.pointee.fill_input_buffer = { decompress in
        // The whole file was handed over at once, so being asked for more means it ended early. Once all
        // rows are out, a missing end-of-image marker is harmless: give libjpeg one, as jpeg_mem_src does.
        let job = jobOf(decompress!)
        guard job.pointee.allRowsRead else {
            job.pointee.outcome = .truncated
            AbandonableThread.abandon()
        }
        let source = decompress!.pointee.src!
        source.pointee.next_input_byte = UnsafePointer(
            UnsafeRawPointer(job.pointer(to: \.endOfImage)!).assumingMemoryBound(to: UInt8.self))
        source.pointee.bytes_in_buffer = 2
        return 1
    }
    source.pointee.skip_input_data = { decompress, count in
        guard let decompress, count > 0 else { return }
        let source = decompress.pointee.src!
        var remaining = Int(count)
        while remaining > source.pointee.bytes_in_buffer {
            remaining -= source.pointee.bytes_in_buffer
            _ = source.pointee.fill_input_buffer(decompress)
        }
        source.pointee.next_input_byte += remaining
        source.pointee.bytes_in_buffer -= remaining
    }
    decompress.pointee.src = source

    jpeg_save_markers(decompress, JPEG_APP0 + 1, 0xFFFF)
    // With require_image = TRUE a stream without an image is an error_exit; our source never suspends.
    guard jpeg_read_header(decompress, 1) == JPEG_HEADER_OK else {
        job.pointee.outcome = .libraryError
        return
    }
    var marker = decompress.pointee.marker_list
    while let current = marker, job.pointee.exif == nil {
        let count = Int(current.pointee.data_length)
        if let data = current.pointee.data, count > 6, memcmp(data, "Exif", 4) == 0, data[4] == 0, data[5] == 0,
           let copy = malloc(count)?.assumingMemoryBound(to: UInt8.self) {
            copy.update(from: data, count: count)
            job.pointee.exif = copy
            job.pointee.exifCount = count
        }
        marker = current.pointee.next
    }
    job.pointee.width = Int(decompress.pointee.image_width)
    job.pointee.height = Int(decompress.pointee.image_height)
    guard job.pointee.width * job.pointee.height <= job.pointee.maxPixels else {
        job.pointee.outcome = .tooLarge
        return
    }
    let colorSpace = decompress.pointee.jpeg_color_space
    guard colorSpace != JCS_CMYK, colorSpace != JCS_YCCK else {
        job.pointee.outcome = .unsupportedColorSpace
        return
    }
    decompress.pointee.out_color_space = JCS_RGB
    _ = jpeg_start_decompress(decompress)

    let stride = Int(decompress.pointee.output_width) * 3
    let rows = Int(decompress.pointee.output_height)
    guard let pixels = malloc(stride * rows)?.assumingMemoryBound(to: UInt8.self) else {
        job.pointee.outcome = .libraryError
        return
    }
    job.pointee.pixels = pixels
    while decompress.pointee.output_scanline < decompress.pointee.output_height {
        var row: JSAMPROW? = pixels + Int(decompress.pointee.output_scanline) * stride
        _ = jpeg_read_scanlines(decompress, &row, 1)
    }
    job.pointee.allRowsRead = true
    _ = jpeg_finish_decompress(decompress)
    job.pointee.outcome = .decoded
}
