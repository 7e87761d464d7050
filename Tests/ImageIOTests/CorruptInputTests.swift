// Every broken input throws the specific ImageIOError naming the file — and never crashes the process.
import Foundation
import Testing
@testable import ImageIO

@Suite struct CorruptInputTests {
    /// Writes `data` to a temporary file and decodes it, returning the error (nil if it decoded).
    func decodeError(_ data: Data, name: String, maxPixels: Int = ImageFile.defaultMaxPixels) -> (ImageIOError?, String) {
        let directory = TestImages.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent(name)
        try! data.write(to: url)
        return (TestImages.error { _ = try ImageFile.decode(contentsOf: url, maxPixels: maxPixels) }, url.path)
    }

    func expectReason(_ data: Data, name: String, _ reason: ImageIOError.Reason,
                      maxPixels: Int = ImageFile.defaultMaxPixels, sourceLocation: SourceLocation = #_sourceLocation) {
        let (error, path) = decodeError(data, name: name, maxPixels: maxPixels)
        #expect(error == ImageIOError(file: path, reason: reason), sourceLocation: sourceLocation)
    }

    func expectCorrupt(_ data: Data, name: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let (error, path) = decodeError(data, name: name)
        guard case .corrupt = error?.reason, error?.file == path else {
            Issue.record("\(name): expected .corrupt naming \(path), got \(String(describing: error))",
                         sourceLocation: sourceLocation)
            return
        }
    }

    @Test func zeroByteFile() {
        expectReason(Data(), name: "empty.png", .empty)
    }

    @Test func garbage() {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<512).map { _ in UInt8.random(in: 0...255, using: &generator) }
        expectReason(Data("not an image at all".utf8) + bytes, name: "garbage.png", .unknownFormat)
    }

    @Test func missingFileIsUnreadable() {
        let url = URL(fileURLWithPath: "/nonexistent/dir/photo.png")
        let error = TestImages.error { _ = try ImageFile.decode(contentsOf: url) }
        guard case .unreadable = error?.reason, error?.file == url.path else {
            Issue.record("expected .unreadable naming the file, got \(String(describing: error))"); return
        }
        #expect(error!.description.hasPrefix("/nonexistent/dir/photo.png: cannot read"))
    }

    /// Every proper prefix of each fixture must fail as truncated — except that a file whose pixel data
    /// is complete and only its end is cut decodes, as libpng and libjpeg (and PIL) allow: a PNG without
    /// its 12-byte IEND chunk, a JPEG without its 2-byte end-of-image marker.
    @Test(arguments: ["png_rgba.png", "png_palette.png", "a1111_parameters.png", "jpeg_baseline.jpg",
                      "jpeg_progressive.jpg", "webp_lossless.webp", "webp_lossy.webp", "a1111_parameters.webp"])
    func everyTruncationIsReportedAsTruncated(file: String) {
        let data = TestImages.fixtureData(file)
        let forgivenTail = file.hasSuffix(".jpg") ? 2 : file.hasSuffix(".png") ? 12 : 0
        var wrong: [String] = []
        for length in 1..<data.count {
            let error = TestImages.error { _ = try ImageFile.decode(data.prefix(length), source: file) }
            if length >= data.count - forgivenTail, error == nil { continue }
            if error != ImageIOError(file: file, reason: .truncated) {
                wrong.append("\(length): \(String(describing: error))")
            }
        }
        #expect(wrong.isEmpty, "\(file) of \(data.count) bytes: \(wrong.prefix(8))")
    }

    @Test func truncatedFilesNameTheFile() {
        expectReason(TestImages.fixtureData("png_rgb.png").prefix(100), name: "cut.png", .truncated)
        expectReason(TestImages.fixtureData("jpeg_baseline.jpg").prefix(400), name: "cut.jpg", .truncated)
        expectReason(TestImages.fixtureData("webp_lossy.webp").prefix(60), name: "cut.webp", .truncated)
    }

    @Test func damagedPNGData() {
        var png = TestImages.fixtureData("png_rgb.png")
        let idat = [UInt8](png).firstRange(of: Array("IDAT".utf8))!
        png[idat.upperBound + 6] ^= 0xFF  // inside the compressed data: the chunk CRC no longer matches
        expectCorrupt(png, name: "damaged.png")
        var header = TestImages.fixtureData("png_rgb.png")
        header[16 + 8] = 3  // IHDR bit depth 3 does not exist
        expectCorrupt(header, name: "bad-header.png")
    }

    @Test func damagedJPEGData() {
        // A quantisation table with index 15 (0–3 exist): libjpeg's error_exit, which must end as an
        // error and not as exit().
        let badTable = Data([0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x43, 0x0F]) + Data(repeating: 1, count: 64) + Data([0xFF, 0xD9])
        expectCorrupt(badTable, name: "bad-table.jpg")
        // The error names what libjpeg found ("Bogus DQT index 15"), formatted by our error manager.
        if case .corrupt(let text)? = decodeError(badTable, name: "bad-table.jpg").0?.reason {
            #expect(text.contains("DQT"), "\(text)")
        }
        // A signature followed by noise: libjpeg skips it looking for a marker and runs out of data.
        expectReason(Data([0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x02]) + Data(repeating: 0x5A, count: 300),
                     name: "noise.jpg", .truncated)
        var jpeg = TestImages.fixtureData("jpeg_baseline.jpg")
        let sof = [UInt8](jpeg).firstRange(of: [0xFF, 0xC0])!
        jpeg[sof.lowerBound + 4] = 12  // 12-bit precision: not decodable by an 8-bit libjpeg build
        expectCorrupt(jpeg, name: "twelve-bit.jpg")
    }

    @Test func damagedWebPData() {
        var webp = TestImages.fixtureData("webp_lossy.webp")
        for i in 30..<webp.count { webp[i] = 0xFF }
        expectCorrupt(webp, name: "damaged.webp")
    }

    @Test func hugePNGHeaderIsRefusedBeforeDecoding() {
        // A valid 100000×100000 RGB header and a token IDAT: 30 GB of pixels promised by 57 bytes.
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] { PNGChunks.encodeChunk(type: type, data: data) }
        let side: [UInt8] = [0x00, 0x01, 0x86, 0xA0]
        let png = PNGChunks.signature + chunk("IHDR", side + side + [8, 2, 0, 0, 0])
            + chunk("IDAT", [0x78, 0x9C, 0x03, 0x00]) + chunk("IEND", [])
        expectReason(Data(png), name: "bomb.png", .tooLarge(width: 100_000, height: 100_000, maxPixels: ImageFile.defaultMaxPixels))
    }

    @Test func hugeJPEGHeaderIsRefusedBeforeDecoding() {
        var jpeg = TestImages.fixtureData("jpeg_baseline.jpg")
        let sof = [UInt8](jpeg).firstRange(of: [0xFF, 0xC0])!
        // SOF0: FF C0, length (2), precision (1), height (2), width (2).
        for offset in [5, 7] { jpeg[sof.lowerBound + offset] = 0xEA; jpeg[sof.lowerBound + offset + 1] = 0x60 }
        expectReason(jpeg, name: "bomb.jpg", .tooLarge(width: 60_000, height: 60_000, maxPixels: ImageFile.defaultMaxPixels))
    }

    @Test func pixelLimitAppliesToEveryFormat() {
        for file in ["png_rgb.png", "jpeg_baseline.jpg", "webp_lossless.webp"] {
            expectReason(TestImages.fixtureData(file), name: file, .tooLarge(width: 16, height: 12, maxPixels: 100), maxPixels: 100)
        }
    }
}
