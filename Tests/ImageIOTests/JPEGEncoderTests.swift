// JPEG encoding: what it writes decodes (ours and, in the interop tests, PIL's) to the image within the
// loss its quality allows, carries the infotext in EXIF UserComment where A1111 puts it, and refuses
// what it cannot write.
import Foundation
import ImageIO
import Testing

@Suite("JPEG encoding")
struct JPEGEncoderTests {
    /// A smooth gradient with a hard edge: what renders look like.
    private func picture(width: Int, height: Int) -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                pixels[i] = UInt8(x * 255 / max(width - 1, 1))
                pixels[i + 1] = UInt8(y * 255 / max(height - 1, 1))
                pixels[i + 2] = x < width / 2 ? 40 : 220
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    private func psnr(_ a: [UInt8], _ b: [UInt8]) -> Double {
        let squared = zip(a, b).reduce(0.0) { $0 + pow(Double(Int($1.0) - Int($1.1)), 2) }
        return 10 * log10(255 * 255 * Double(a.count) / max(squared, 1e-9))
    }

    @Test("round trip: the decoded image is within the quality's loss, and the infotext comes back", arguments: [(95, 35.0), (50, 28.0)])
    func roundTrip(quality: Int, minimumPSNR: Double) throws {
        let image = picture(width: 80, height: 48)
        let infotext = "a red (circle:1.2), \"quoted\"\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7.0, Seed: 1, Size: 80x48"
        let data = try ImageFile.encode(image, format: .jpeg, quality: quality, parameters: infotext)
        #expect(ImageFormat(sniffing: data) == .jpeg)
        let decoded = try ImageFile.decode(data)
        #expect(decoded.image.width == 80 && decoded.image.height == 48)
        #expect(psnr(decoded.image.pixels, image.pixels) >= minimumPSNR, "PSNR \(psnr(decoded.image.pixels, image.pixels)) dB at quality \(quality)")
        #expect(decoded.parameters == infotext)
    }

    @Test("higher quality, more bytes; no infotext, no EXIF")
    func qualityAndSize() throws {
        let image = picture(width: 64, height: 64)
        let low = try ImageFile.encode(image, format: .jpeg, quality: 20), high = try ImageFile.encode(image, format: .jpeg, quality: 95)
        #expect(low.count < high.count)
        #expect(try ImageFile.decode(low).parameters == nil)
        #expect(throws: ImageIOError.self) { try JPEGCodec.encode(image, quality: 101) }
    }
}
