// EXIF orientation against PIL: Tests/Fixtures/make_training_data_fixtures.py saves one 12×7 picture as
// a JPEG with each Orientation tag 1…8 and, beside it, PIL's `ImageOps.exif_transpose` of that same
// JPEG. Both sides decode the same JPEG with libjpeg(-turbo) (4:4:4, quality 100, so no chroma
// upsampling), so the comparison isolates the transposition: it must be exact.
import Foundation
import ImageIO
import Testing
import TestSupport

@Suite struct EXIFOrientationTests {
    static let directory = Fixtures.directory.appendingPathComponent("training_data")

    @Test("decodeUpright equals PIL's exif_transpose for each orientation", arguments: 1...8)
    func matchesPIL(orientation: Int) throws {
        let jpeg = Self.directory.appendingPathComponent("orientation_\(orientation).jpg")
        let data = try Data(contentsOf: jpeg)
        #expect(EXIFOrientation(jpeg: data)?.rawValue == orientation)
        let upright = try ImageFile.decodeUpright(contentsOf: jpeg)
        let expected = try ImageFile.decode(contentsOf: Self.directory.appendingPathComponent("orientation_\(orientation).png")).image
        #expect(upright.width == expected.width && upright.height == expected.height)
        #expect(upright.width == (orientation >= 5 ? 7 : 12))
        #expect(upright.pixels == expected.pixels, "orientation \(orientation): max |Δ| \(maxDifference(upright, expected))")
    }

    @Test("a JPEG without EXIF, or with EXIF but no orientation, is left as stored")
    func noOrientation() throws {
        let plain = Fixtures.directory.appendingPathComponent("images/jpeg_baseline.jpg")
        #expect(EXIFOrientation(jpeg: try Data(contentsOf: plain)) == nil)
        let commented = Fixtures.directory.appendingPathComponent("images/a1111_parameters.jpg")
        #expect(EXIFOrientation(jpeg: try Data(contentsOf: commented)) == nil)
        #expect(try ImageFile.decodeUpright(contentsOf: plain) == ImageFile.decode(contentsOf: plain).image)
    }

    @Test("big-endian TIFF with a LONG value; values outside 1…8 and damaged blocks are ignored")
    func tiffVariants() {
        // "MM", 42, IFD0 at 8: one entry (tag 0x0112, type, count 1, value), next IFD 0.
        func tiff(type: UInt8, value: [UInt8]) -> [UInt8] {
            [0x4D, 0x4D, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, type, 0, 0, 0, 1] + value + [0, 0, 0, 0]
        }
        func jpeg(_ tiff: [UInt8]) -> Data {
            let payload = Array("Exif".utf8) + [0, 0] + tiff
            let length = payload.count + 2
            return Data([0xFF, 0xD8, 0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + payload + [0xFF, 0xDA, 0, 2])
        }
        #expect(EXIFOrientation(jpeg: jpeg(tiff(type: 4, value: [0, 0, 0, 6]))) == .rightTop)
        #expect(EXIFOrientation(jpeg: jpeg(tiff(type: 3, value: [0, 8, 0, 0]))) == .leftBottom)
        #expect(EXIFOrientation(jpeg: jpeg(tiff(type: 3, value: [0, 9, 0, 0]))) == nil)
        #expect(EXIFOrientation(jpeg: jpeg(tiff(type: 2, value: [0, 6, 0, 0]))) == nil)  // ASCII: not a number
        #expect(EXIFOrientation(jpeg: jpeg(Array(tiff(type: 3, value: [0, 6, 0, 0]).prefix(14)))) == nil)
        // A segment length running past the end of the file.
        #expect(EXIFOrientation(jpeg: Data([0xFF, 0xD8, 0xFF, 0xE1, 0x40, 0x00, 0x45, 0x78])) == nil)
        // Only the first EXIF segment counts, as in PIL: a later one with orientation 3 is not read.
        let first = jpeg(tiff(type: 3, value: [0, 1, 0, 0])).dropLast(4)
        let second = jpeg(tiff(type: 3, value: [0, 3, 0, 0])).dropFirst(2)
        #expect(EXIFOrientation(jpeg: Data(first + second)) == .topLeft)
    }

    @Test("the eight transforms move the corners where the TIFF orientation says")
    func corners() {
        // 3×2 image with pixel values 0…5 in the red channel: row 0 = 0 1 2, row 1 = 3 4 5.
        let image = RGBImage(width: 3, height: 2, pixels: (0..<6).flatMap { [UInt8($0), 0, 0] })
        func rows(_ o: EXIFOrientation) -> [[UInt8]] {
            let out = o.upright(image)
            return (0..<out.height).map { y in (0..<out.width).map { x in out[x, y].red } }
        }
        #expect(rows(.topLeft) == [[0, 1, 2], [3, 4, 5]])
        #expect(rows(.topRight) == [[2, 1, 0], [5, 4, 3]])
        #expect(rows(.bottomRight) == [[5, 4, 3], [2, 1, 0]])
        #expect(rows(.bottomLeft) == [[3, 4, 5], [0, 1, 2]])
        #expect(rows(.leftTop) == [[0, 3], [1, 4], [2, 5]])
        #expect(rows(.rightTop) == [[3, 0], [4, 1], [5, 2]])
        #expect(rows(.rightBottom) == [[5, 2], [4, 1], [3, 0]])
        #expect(rows(.leftBottom) == [[2, 5], [1, 4], [0, 3]])
    }

    private func maxDifference(_ a: RGBImage, _ b: RGBImage) -> Int {
        guard a.pixels.count == b.pixels.count else { return .max }
        return zip(a.pixels, b.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
    }
}
