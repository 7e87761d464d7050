// Shared helpers of the ImageIO tests: synthetic images, the committed fixture images
// (Tests/Fixtures/images, written by Tests/Fixtures/make_image_fixtures.py), pixel comparisons.
import Foundation
import ImageIO
import TestSupport

enum TestImages {
    /// A busy pattern touching the whole 0…255 range in every channel (odd sizes exercise row strides).
    static func pattern(width: Int = 37, height: Int = 23) -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                pixels[i] = UInt8((x * 7 + y * 3) % 256)
                pixels[i + 1] = UInt8((x * y * 5 + 11) % 256)
                pixels[i + 2] = UInt8((255 - x * 9) & 0xFF)
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// A smooth gradient, what lossy codecs are made for.
    static func gradient(width: Int = 64, height: Int = 48) -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                pixels[i] = UInt8(30 + x * 3)
                pixels[i + 1] = UInt8(20 + y * 4)
                pixels[i + 2] = UInt8(220 - x - y)
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    static let fixtureDirectory = Fixtures.directory.appendingPathComponent("images")

    static func fixture(_ file: String) -> URL { fixtureDirectory.appendingPathComponent(file) }

    /// The fixture's bytes; a missing file is a test-setup bug.
    static func fixtureData(_ file: String) -> Data {
        guard let data = try? Data(contentsOf: fixture(file)) else { fatalError("missing fixture \(file)") }
        return data
    }

    /// The raw RGB pixels `<name>.rgb` the fixture script stored for fixture `<name>`.
    static func expectedPixels(_ name: String) -> [UInt8] { [UInt8](fixtureData("\(name).rgb")) }

    static func maxAbsDifference(_ a: [UInt8], _ b: [UInt8]) -> Int {
        precondition(a.count == b.count)
        return zip(a, b).map { abs(Int($0) - Int($1)) }.max() ?? 0
    }

    /// Peak signal-to-noise ratio in dB (infinity for identical images).
    static func psnr(_ a: RGBImage, _ b: RGBImage) -> Double {
        precondition(a.pixels.count == b.pixels.count)
        let squared = zip(a.pixels, b.pixels).reduce(0.0) { $0 + pow(Double($1.0) - Double($1.1), 2) }
        let mse = squared / Double(a.pixels.count)
        return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
    }

    /// The error `body` throws, or nil.
    /// Another error type would be a bug; it comes back as a `.corrupt` naming "?" so that it mismatches.
    static func error(_ body: () throws -> Void) -> ImageIOError? {
        do {
            try body()
            return nil
        } catch let error as ImageIOError {
            return error
        } catch {
            return ImageIOError(file: "?", reason: .corrupt("unexpected error \(error)"))
        }
    }

    /// A fresh empty directory under the system temporary directory.
    static func temporaryDirectory() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("imageio-tests-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
