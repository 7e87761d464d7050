// Decoding the files PIL wrote (Tests/Fixtures/make_image_fixtures.py) to the pixels the script stored.
import Foundation
import Testing
@testable import ImageIO

@Suite struct FixtureDecodeTests {
    /// (fixture file, expected-pixel name, tolerance). Lossless formats must match exactly. 16-bit PNG: the
    /// script stores exact rounding of v·255/65535, libpng's sRGB path may differ by 1. JPEG and lossy WebP
    /// were decoded by PIL's libjpeg-turbo/libwebp; another build's IDCT may differ by 1–2.
    static let cases: [(String, String, Int)] = [
        ("png_rgb.png", "png_rgb", 0),
        ("png_rgba.png", "png_rgba", 0),
        ("png_gray.png", "png_gray", 0),
        ("png_rgb16.png", "png_rgb16", 1),
        ("png_palette.png", "png_palette", 0),
        ("jpeg_baseline.jpg", "jpeg_baseline", 2),
        ("jpeg_progressive.jpg", "jpeg_progressive", 2),
        ("jpeg_gray.jpg", "jpeg_gray", 2),
        ("webp_lossless.webp", "webp_lossless", 0),
        ("webp_rgba.webp", "webp_rgba", 0),
        ("webp_lossy.webp", "webp_lossy", 2),
    ]

    @Test(arguments: cases)
    func decodesPILFixture(file: String, expected: String, tolerance: Int) throws {
        let (image, parameters) = try ImageFile.decode(contentsOf: TestImages.fixture(file))
        #expect(image.width == 16 && image.height == 12)
        #expect(TestImages.maxAbsDifference(image.pixels, TestImages.expectedPixels(expected)) <= tolerance)
        #expect(parameters == nil)
    }

    @Test(arguments: ["a1111_parameters.png", "a1111_parameters.jpg", "a1111_parameters.webp"])
    func readsA1111Parameters(file: String) throws {
        let expected = String(decoding: TestImages.fixtureData("a1111_infotext.txt"), as: UTF8.self)
        let (_, parameters) = try ImageFile.decode(contentsOf: TestImages.fixture(file))
        #expect(parameters == expected)
        let text = try #require(parameters)
        #expect(try GenerationParameters(infotext: text).sampler == "dpmpp_2m_karras")
    }

    @Test func refusesCMYKJPEG() {
        let url = TestImages.fixture("jpeg_cmyk.jpg")
        let error = TestImages.error { _ = try ImageFile.decode(contentsOf: url) }
        #expect(error == ImageIOError(file: url.path, reason: .unsupported("CMYK/YCCK JPEG")))
    }

    @Test func sniffsFormatsFromContentNotExtension() {
        #expect(ImageFormat(sniffing: TestImages.fixtureData("png_rgb.png")) == .png)
        #expect(ImageFormat(sniffing: TestImages.fixtureData("jpeg_baseline.jpg")) == .jpeg)
        #expect(ImageFormat(sniffing: TestImages.fixtureData("webp_lossy.webp")) == .webp)
        #expect(ImageFormat(sniffing: Data("GIF89a......".utf8)) == nil)
    }
}
