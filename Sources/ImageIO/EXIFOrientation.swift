// EXIF orientation of JPEG files: phones and cameras store the sensor's pixels as they came and say in
// EXIF tag 0x0112 (IFD0) how to turn them upright. PIL's `ImageOps.exif_transpose`, which diffusers'
// DreamBooth script applies to every training image, turns them; so do we, with the same eight transforms
// (TIFF 6.0 §Orientation; PIL's transposition table in ImageOps.exif_transpose). The decoders themselves
// keep returning stored pixels: the daemon's img2img input keeps its meaning unchanged.
//
// As PIL, we read the FIRST "Exif\0\0" APP1 segment, accept a SHORT or LONG value, and ignore values
// outside 1…8. Not read (PIL would): orientation in an XMP packet, and EXIF in PNG/WebP files.

import Foundation

/// The EXIF/TIFF orientation of stored pixels: where row 0 and column 0 of the stored image belong
/// (TIFF names: `rightTop` = row 0 is the visual right side, column 0 the visual top).
public enum EXIFOrientation: Int, Sendable, CaseIterable {
    /// 1: stored upright.
    case topLeft = 1
    /// 2: mirrored left–right.
    case topRight = 2
    /// 3: upside down (rotated 180°).
    case bottomRight = 3
    /// 4: mirrored top–bottom.
    case bottomLeft = 4
    /// 5: transposed (mirrored about the main diagonal).
    case leftTop = 5
    /// 6: needs a 90° clockwise turn (a phone held upright, home button down).
    case rightTop = 6
    /// 7: transverse (mirrored about the anti-diagonal).
    case rightBottom = 7
    /// 8: needs a 90° counter-clockwise turn.
    case leftBottom = 8

    private static let tag: UInt16 = 0x0112

    /// The orientation a JPEG file declares, or nil when it has no EXIF, no orientation tag, or a value
    /// outside 1…8. Reads only the markers before the first scan; every offset is bounds-checked.
    public init?(jpeg data: Data) {
        let bytes = [UInt8](data.prefix(1 << 20))  // APP segments come first; 1 MiB covers any header
        guard bytes.count >= 4, bytes[0] == 0xFF, bytes[1] == 0xD8 else { return nil }
        var position = 2
        while position + 4 <= bytes.count {
            guard bytes[position] == 0xFF else { return nil }
            let marker = bytes[position + 1]
            if marker == 0xFF { position += 1; continue }  // fill byte
            if marker == 0x01 || (0xD0...0xD7).contains(marker) { position += 2; continue }  // no length
            if marker == 0xDA || marker == 0xD9 { return nil }  // start of scan / end of image: no EXIF
            let length = Int(bytes[position + 2]) << 8 | Int(bytes[position + 3])
            let start = position + 4, end = position + 2 + length
            guard length >= 2, end <= bytes.count else { return nil }
            let exifHeader: [UInt8] = Array("Exif".utf8) + [0, 0]
            if marker == 0xE1, bytes[start..<end].starts(with: exifHeader) {
                // Only the first EXIF segment counts, as in PIL's JPEG plugin.
                self.init(tiff: Array(bytes[(start + 6)..<end]))
                return
            }
            position = end
        }
        return nil
    }

    /// The orientation in a bare TIFF block (the EXIF payload after "Exif\0\0"), or nil.
    init?(tiff bytes: [UInt8]) {
        guard let reader = TIFFReader(tiff: bytes), let ifd0 = reader.firstIFD,
              let entry = reader.entry(tag: UInt16(Self.tag), inIFDAt: Int(ifd0)) else { return nil }
        // A single SHORT (type 3) or LONG (type 4) sits in the entry's own 4-byte value field.
        let value: Int?
        switch reader.u16(entry + 2) {
        case 3: value = reader.u16(entry + 8).map(Int.init)
        case 4: value = reader.u32(entry + 8).map(Int.init)
        default: value = nil
        }
        guard let value, let orientation = EXIFOrientation(rawValue: value) else { return nil }
        self = orientation
    }

    /// Whether turning the image upright swaps its width and height.
    public var swapsDimensions: Bool { rawValue >= 5 }

    /// `image` turned upright: the transpose PIL's `exif_transpose` applies for this orientation
    /// (2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE, 6 ROTATE_270, 7 TRANSVERSE,
    /// 8 ROTATE_90 — PIL's rotations are counter-clockwise).
    public func upright(_ image: RGBImage) -> RGBImage {
        if self == .topLeft { return image }
        let (w, h) = (image.width, image.height)
        let (outWidth, outHeight) = swapsDimensions ? (h, w) : (w, h)
        // For each output pixel (x, y), the stored pixel it comes from.
        let source: (Int, Int) -> (Int, Int)
        switch self {
        case .topLeft: source = { x, y in (x, y) }
        case .topRight: source = { x, y in (w - 1 - x, y) }
        case .bottomRight: source = { x, y in (w - 1 - x, h - 1 - y) }
        case .bottomLeft: source = { x, y in (x, h - 1 - y) }
        case .leftTop: source = { x, y in (y, x) }
        case .rightTop: source = { x, y in (y, h - 1 - x) }
        case .rightBottom: source = { x, y in (w - 1 - y, h - 1 - x) }
        case .leftBottom: source = { x, y in (w - 1 - y, x) }
        }
        var pixels = [UInt8](repeating: 0, count: image.pixels.count)
        image.pixels.withUnsafeBufferPointer { input in
            pixels.withUnsafeMutableBufferPointer { output in
                for y in 0..<outHeight {
                    for x in 0..<outWidth {
                        let (sx, sy) = source(x, y)
                        let from = (sy * w + sx) * 3, to = (y * outWidth + x) * 3
                        output[to] = input[from]; output[to + 1] = input[from + 1]; output[to + 2] = input[from + 2]
                    }
                }
            }
        }
        return RGBImage(width: outWidth, height: outHeight, pixels: pixels)
    }
}

extension ImageFile {
    /// Decodes the image at `url` and turns it upright by its EXIF orientation (JPEG), as PIL's
    /// `Image.open` followed by `ImageOps.exif_transpose` does. Errors name the file.
    public static func decodeUpright(contentsOf url: URL, maxPixels: Int = defaultMaxPixels)
        throws(ImageIOError) -> RGBImage {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ImageIOError(file: url.path, reason: .unreadable((error as NSError).localizedDescription))
        }
        let image = try decode(data, source: url.path, maxPixels: maxPixels).image
        guard ImageFormat(sniffing: data) == .jpeg, let orientation = EXIFOrientation(jpeg: data) else { return image }
        return orientation.upright(image)
    }
}
