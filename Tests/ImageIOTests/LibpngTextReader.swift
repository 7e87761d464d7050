// An independent check of our PNG text chunks: libpng's full read API (png_read_info + png_get_text)
// reads them as every libpng-based viewer does, verifying layout and CRC. Its errors longjmp, so it runs
// on an AbandonableThread like JPEGCodec (see there); only raw C-layout state is touched on that thread.
import CImageCodecs
import Foundation
@testable import ImageIO

enum LibpngTextReader {
    /// (chunk kind, keyword, text) of every text chunk before IDAT, or nil if libpng reported an error.
    /// Kind: "tEXt", "zTXt", "iTXt".
    static func textChunks(in png: Data) -> [(kind: String, keyword: String, text: String)]? {
        let state = UnsafeMutablePointer<ReaderState>.allocate(capacity: 1)
        defer { state.deallocate() }
        return png.withUnsafeBytes { raw in
            state.initialize(to: ReaderState(input: raw.bindMemory(to: UInt8.self).baseAddress!, count: raw.count))
            let finished = AbandonableThread.run(readInfo, context: UnsafeMutableRawPointer(state))
            defer { png_destroy_read_struct(&state.pointee.png, &state.pointee.info, nil) }
            guard finished == true, state.pointee.succeeded, let png = state.pointee.png else { return nil }
            var texts: png_textp?
            var count: Int32 = 0
            _ = png_get_text(png, state.pointee.info, &texts, &count)
            return (0..<Int(count)).map { i in
                let entry = texts![i]
                let kinds: [Int32: String] = [PNG_TEXT_COMPRESSION_NONE: "tEXt", PNG_TEXT_COMPRESSION_zTXt: "zTXt",
                                              PNG_ITXT_COMPRESSION_NONE: "iTXt", PNG_ITXT_COMPRESSION_zTXt: "iTXt"]
                let bytes = UnsafeRawBufferPointer(start: entry.text,
                                                   count: entry.compression > 0 ? entry.itxt_length : entry.text_length)
                // tEXt/zTXt text is Latin-1, iTXt text UTF-8.
                let text = entry.compression > 0
                    ? String(decoding: bytes, as: UTF8.self)
                    : String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
                return (kinds[entry.compression] ?? "?", String(cString: entry.key), text)
            }
        }
    }
}

private struct ReaderState {
    var input: UnsafePointer<UInt8>
    var count: Int
    var offset = 0
    var png: png_structp?
    var info: png_infop?
    var succeeded = false

    init(input: UnsafePointer<UInt8>, count: Int) {
        self.input = input
        self.count = count
    }
}

private let readInfo: AbandonableThread.Body = { raw in
    let state = raw.assumingMemoryBound(to: ReaderState.self)
    // The error function must not return into libpng (it would abort): end the thread instead.
    guard let png = png_create_read_struct(PNG_LIBPNG_VER_STRING, raw, { _, _ in AbandonableThread.abandon() },
                                           { _, _ in }) else { return }
    state.pointee.png = png
    state.pointee.info = png_create_info_struct(png)
    png_set_read_fn(png, raw) { png, out, length in
        let state = png_get_io_ptr(png)!.assumingMemoryBound(to: ReaderState.self)
        guard length <= state.pointee.count - state.pointee.offset else { png_error(png, "read past end") }
        out!.update(from: state.pointee.input + state.pointee.offset, count: length)
        state.pointee.offset += length
    }
    png_read_info(png, state.pointee.info)
    state.pointee.succeeded = true
}
