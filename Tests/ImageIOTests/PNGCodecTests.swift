// PNG: pixel-exact round trips through libpng, and the `parameters` text chunk as libpng and PIL read it.
import Foundation
import Testing
@testable import ImageIO

@Suite struct PNGCodecTests {
    let latin1Prompt = "a photo of sks dog, café au lait, 5°C\nNegative prompt: blurry\n" +
        "Steps: 30, Sampler: Euler a, CFG scale: 7.5, Seed: 42, Size: 512x512"
    let unicodePrompt = "柴犬の写真, 🐕 on the beach\nSteps: 20, Sampler: DDIM, CFG scale: 7.0, Seed: 1, Size: 64x64"

    @Test func roundTripsPixelsAndLatin1ParametersInATEXtChunk() throws {
        let image = TestImages.pattern()
        let png = PNGCodec.encode(image, parameters: latin1Prompt)
        let decoded = try PNGCodec.decode(png)
        #expect(decoded.image == image)
        #expect(decoded.parameters == latin1Prompt)
        let chunks = try #require(LibpngTextReader.textChunks(in: png))
        #expect(chunks.count == 1)
        #expect(chunks.first?.kind == "tEXt" && chunks.first?.keyword == "parameters")
        #expect(chunks.first?.text == latin1Prompt)
    }

    @Test func writesNonLatin1ParametersAsAnITXtChunk() throws {
        let image = TestImages.pattern(width: 8, height: 8)
        let png = PNGCodec.encode(image, parameters: unicodePrompt)
        #expect(try PNGCodec.decode(png).parameters == unicodePrompt)
        let chunks = try #require(LibpngTextReader.textChunks(in: png))
        #expect(chunks.map(\.kind) == ["iTXt"])
        #expect(chunks.first?.keyword == "parameters" && chunks.first?.text == unicodePrompt)
    }

    @Test func placesTheChunkBeforeIDATForPIL() throws {
        // PIL's Image.open(f).info only holds chunks read before the first IDAT.
        let png = [UInt8](PNGCodec.encode(TestImages.pattern(), parameters: "x\nSteps: 1, Seed: 2, Size: 3x4"))
        let text = try #require(png.firstRange(of: Array("tEXt".utf8)))
        let idat = try #require(png.firstRange(of: Array("IDAT".utf8)))
        #expect(text.lowerBound < idat.lowerBound)
        #expect(Array(png[12..<16]) == Array("IHDR".utf8))
    }

    @Test func encodesWithoutParameters() throws {
        let png = PNGCodec.encode(TestImages.pattern(width: 1, height: 1))
        #expect(PNGCodec.textChunks(in: png).isEmpty)
        #expect(try PNGCodec.decode(png).parameters == nil)
    }

    @Test func readsTheLastParametersChunkAndSkipsBadCRCs() throws {
        let base = PNGCodec.encode(TestImages.pattern(width: 4, height: 4))
        var withTwo = PNGChunks.inserting([PNGTextChunk(keyword: "parameters", text: "first"),
                                           PNGTextChunk(keyword: "Software", text: "dbrender"),
                                           PNGTextChunk(keyword: "parameters", text: "second")], into: base)
        #expect(PNGCodec.textChunks(in: withTwo).map(\.text) == ["first", "dbrender", "second"])
        #expect(try PNGCodec.decode(withTwo).parameters == "second")
        // Damage the text of the last chunk: its CRC no longer matches, so it is skipped as libpng would.
        let secondRange = try #require([UInt8](withTwo).firstRange(of: Array("second".utf8)))
        withTwo[secondRange.lowerBound] ^= 0x20
        #expect(try PNGCodec.decode(withTwo).parameters == "first")
    }
}
