// ImageFile: format dispatch, atomic writes, and the export that the PIL read-back check consumes.
import Foundation
import Testing
@testable import ImageIO

@Suite struct ImageFileTests {
    let parameters = GenerationParameters(
        prompt: "a photo of sks dog, on the beach", negativePrompt: "blurry, lowres", steps: 30,
        sampler: "dpmpp_2m_karras", cfgScale: 7.5, seed: 1_234_567, width: 37, height: 23,
        modelHash: "0123456789", modelName: "sks-dog", extra: [.init("Lora hashes", "a: 1, b: 2")]).infotext

    @Test(arguments: [ImageFormat.png, .webp])
    func writesAtomicallyAndReadsBack(format: ImageFormat) throws {
        let directory = TestImages.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("out.\(format.rawValue)")
        try Data("old contents".utf8).write(to: url)
        let image = TestImages.pattern()
        try ImageFile.write(image, to: url, parameters: parameters)
        let (decoded, readParameters) = try ImageFile.decode(contentsOf: url)
        #expect(decoded == image)
        #expect(readParameters == parameters)
        // Nothing but the final file is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["out.\(format.rawValue)"])
    }

    @Test func reportsUnwritableDestinations() {
        let url = URL(fileURLWithPath: "/nonexistent-dir/out.png")
        let error = TestImages.error { try ImageFile.write(TestImages.pattern(), to: url) }
        guard case .unwritable = error?.reason, error?.file == url.path else {
            Issue.record("expected .unwritable naming the file, got \(String(describing: error))"); return
        }
    }

    @Test func needsAFormatItCanWrite() {
        let noExtension = URL(fileURLWithPath: "/tmp/out.bmp")
        guard case .encodingFailed = TestImages.error({ try ImageFile.write(TestImages.pattern(), to: noExtension) })?.reason
        else { Issue.record("expected encodingFailed for .bmp"); return }
        // JPEG is written too (JPEGEncoderTests), under either extension.
        #expect(ImageFormat(fileExtension: "JPG") == .jpeg && ImageFormat.jpeg.canEncode)
    }

    /// Writes PNG and WebP files with parameters (plus the expected text beside each) for the PIL check of
    /// Tests/Fixtures/make_image_fixtures.py --check DIR. Without IMAGEIO_PIL_CHECK_DIR it writes to a
    /// temporary directory and verifies the files with our own decoder only.
    @Test func exportForPILCheck() throws {
        let requested = ProcessInfo.processInfo.environment["IMAGEIO_PIL_CHECK_DIR"]
        let directory = requested.map { URL(fileURLWithPath: $0) } ?? TestImages.temporaryDirectory()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { if requested == nil { try? FileManager.default.removeItem(at: directory) } }

        let unicode = "柴犬 🐕, café\nNegative prompt: ぼやけた\nSteps: 20, Sampler: Euler a, CFG scale: 7.0, Seed: 9, Size: 37x23"
        let files: [(String, ImageFormat, Int?, String)] = [
            ("latin1.png", .png, nil, parameters + ", Note: café"),
            ("unicode.png", .png, nil, unicode),
            ("lossless.webp", .webp, nil, parameters),
            ("lossy.webp", .webp, 80, unicode),
        ]
        for (name, format, quality, text) in files {
            let url = directory.appendingPathComponent(name)
            try ImageFile.write(TestImages.pattern(), to: url, format: format, quality: quality, parameters: text)
            try ImageFile.write(Data(text.utf8), atomicallyTo: url.deletingPathExtension().appendingPathExtension("txt"))
            #expect(try ImageFile.decode(contentsOf: url).parameters == text)
        }
    }
}
