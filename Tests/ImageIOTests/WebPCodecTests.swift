// WebP: lossless round trips are pixel-exact, lossy ones stay close, and the parameters come back from
// the EXIF UserComment.
import Foundation
import Testing
@testable import ImageIO

@Suite struct WebPCodecTests {
    let parameters = "a photo of sks dog 🐕, 柴犬\nNegative prompt: blurry\n" +
        "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 42, Size: 64x48"

    @Test func losslessRoundTripIsPixelExactWithParameters() throws {
        let image = TestImages.pattern()
        let webp = try WebPCodec.encode(image, quality: nil, parameters: parameters)
        let decoded = try WebPCodec.decode(webp)
        #expect(decoded.image == image)
        #expect(decoded.parameters == parameters)
    }

    @Test func lossyRoundTripStaysAbove35dB() throws {
        // Quality 90 on a smooth gradient: libwebp's lossy mode lands well above 35 dB (the bound
        // apple/ml-stable-diffusion uses for "the same image"); lower quality makes smaller files.
        let image = TestImages.gradient()
        let webp = try WebPCodec.encode(image, quality: 90, parameters: parameters)
        let decoded = try WebPCodec.decode(webp)
        #expect(TestImages.psnr(decoded.image, image) > 35)
        #expect(decoded.parameters == parameters)
        let small = try WebPCodec.encode(image, quality: 10)
        #expect(small.count < webp.count)
    }

    @Test func writesTheEXIFLayoutPiexifWrites() throws {
        // Big-endian TIFF, one Exif IFD pointer, one UserComment "UNICODE\0" + UTF-16BE.
        let tiff = EXIFUserComment.tiff(userComment: "Hi")
        #expect(Array(tiff.prefix(4)) == [0x4D, 0x4D, 0x00, 0x2A])
        #expect(Array(tiff.suffix(12)) == Array("UNICODE".utf8) + [0, 0, 0x48, 0, 0x69])
        #expect(EXIFUserComment.userComment(inEXIF: Data(tiff)) == "Hi")
        #expect(EXIFUserComment.userComment(inEXIF: Data(Array("Exif".utf8) + [0, 0] + tiff)) == "Hi")
    }

    @Test func readsUTF16InEitherByteOrder() {
        // A little-endian TIFF (PIL's default) holding piexif's big-endian text, and the reverse.
        func littleEndianTIFF(comment: [UInt8]) -> Data {
            var out: [UInt8] = [0x49, 0x49, 0x2A, 0x00, 8, 0, 0, 0]
            out += [1, 0, 0x69, 0x87, 4, 0, 1, 0, 0, 0, 26, 0, 0, 0, 0, 0, 0, 0]
            out += [1, 0, 0x86, 0x92, 7, 0, UInt8(comment.count), 0, 0, 0, 44, 0, 0, 0, 0, 0, 0, 0]
            return Data(out + comment)
        }
        let unicode = Array("UNICODE".utf8) + [0]
        #expect(EXIFUserComment.userComment(inEXIF: littleEndianTIFF(comment: unicode + [0, 0x41, 0, 0x42])) == "AB")
        #expect(EXIFUserComment.userComment(inEXIF: littleEndianTIFF(comment: unicode + [0x41, 0, 0x42, 0])) == "AB")
        #expect(EXIFUserComment.userComment(inEXIF: littleEndianTIFF(comment: Array("ASCII".utf8) + [0, 0, 0] + Array("ok".utf8))) == "ok")
        #expect(EXIFUserComment.userComment(inEXIF: Data([0x4D, 0x4D, 0, 0x2A, 0, 0, 0, 8, 0, 1])) == nil)
    }

    @Test func encodesWithoutParameters() throws {
        let webp = try WebPCodec.encode(TestImages.pattern(width: 5, height: 3))
        #expect(try WebPCodec.decode(webp).parameters == nil)
    }

    @Test func refusesImagesBeyondWebPLimits() {
        let wide = RGBImage(width: WebPCodec.maxDimension + 1, height: 1, red: 0, green: 0, blue: 0)
        let error = TestImages.error { _ = try WebPCodec.encode(wide) }
        guard case .encodingFailed = error?.reason else { Issue.record("expected encodingFailed, got \(String(describing: error))"); return }
    }
}
