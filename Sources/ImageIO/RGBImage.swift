// RGBImage: the one in-memory picture type of ImageIO — 8-bit sRGB, interleaved R, G, B, top row first.
// Every decoder converts to it (alpha composited over white, grey/palette/16-bit widened or narrowed to
// 8-bit RGB) so that img2img and the trainer never see a second pixel layout.

/// An 8-bit RGB image: `pixels[(y * width + x) * 3 + c]`, rows top to bottom, no padding between rows.
public struct RGBImage: Sendable, Equatable {
    /// Columns, ≥ 1.
    public let width: Int
    /// Rows, ≥ 1.
    public let height: Int
    /// `width * height * 3` bytes: R, G, B of each pixel, row-major from the top-left corner.
    public var pixels: [UInt8]

    /// Wraps `pixels`; their count must be `width * height * 3` (a programmer error otherwise).
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0, "RGBImage needs positive dimensions, got \(width)x\(height)")
        precondition(pixels.count == width * height * 3,
                     "RGBImage \(width)x\(height) needs \(width * height * 3) bytes, got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// An image filled with one colour.
    public init(width: Int, height: Int, red: UInt8, green: UInt8, blue: UInt8) {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in stride(from: 0, to: pixels.count, by: 3) {
            pixels[i] = red; pixels[i + 1] = green; pixels[i + 2] = blue
        }
        self.init(width: width, height: height, pixels: pixels)
    }

    /// The R, G, B values of the pixel at column `x`, row `y`.
    public subscript(x: Int, y: Int) -> (red: UInt8, green: UInt8, blue: UInt8) {
        let i = (y * width + x) * 3
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }

    /// Flattens 8-bit RGBA onto a white background, as A1111 does for img2img inputs
    /// (`img2img_background_color` defaults to white) — dropping alpha instead would reveal whatever colour
    /// an editor left under transparent pixels. The blend is done on the stored sRGB values with rounding,
    /// `(c·a + 255·(255 − a) + 127) / 255`, the same integer formula the fixture script uses.
    init(compositingOverWhite rgba: UnsafeBufferPointer<UInt8>, width: Int, height: Int) {
        precondition(rgba.count == width * height * 4)
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        rgb.withUnsafeMutableBufferPointer { out in
            for p in 0..<(width * height) {
                let a = UInt32(rgba[p * 4 + 3])
                for c in 0..<3 {
                    let value = UInt32(rgba[p * 4 + c])
                    out[p * 3 + c] = UInt8((value * a + 255 * (255 - a) + 127) / 255)
                }
            }
        }
        self.init(width: width, height: height, pixels: rgb)
    }
}
