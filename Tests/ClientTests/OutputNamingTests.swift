// Output names: --out FILE (with -1, -2… for several images), --out-dir for one prompt (prompt slug + seed),
// batch names (line number + seed), and what a rerun takes as already written.
import Testing
@testable import RenderClient

@Suite struct OutputNamingTests {
    @Test func outFile() {
        let naming = OutputNaming.file("renders/dog.png")
        #expect(naming.path(index: 0, count: 1, seed: 42, format: "png") == "renders/dog.png")
        #expect((0..<3).map { naming.path(index: $0, count: 3, seed: 42, format: "png") }
                == ["renders/dog-1.png", "renders/dog-2.png", "renders/dog-3.png"])
        // No extension: the format's. A dot in a folder name is not an extension; a leading dot is a hidden file.
        #expect(OutputNaming.file("v1.2/dog").path(index: 1, count: 2, seed: 0, format: "webp") == "v1.2/dog-2.webp")
        #expect(OutputNaming.file(".dog").path(index: 0, count: 1, seed: 0, format: "png") == ".dog.png")
        #expect(OutputNaming.file("dog.tar.png").path(index: 0, count: 2, seed: 0, format: "png") == "dog.tar-1.png")
    }

    @Test func batchNames() {
        let naming = OutputNaming.batch(directory: "out", line: 7)
        #expect(naming == .seeded(directory: "out", stem: "0007"))
        #expect(naming.path(index: 0, count: 1, seed: 42, format: "png") == "out/0007-42.png")
        #expect(naming.paths(count: 2, seed: 42, format: "webp") == ["out/0007-42.webp", "out/0007-43.webp"])
        #expect(naming.paths(count: 2, seed: nil, format: "png") == nil)  // not knowable before the render
        #expect(OutputNaming.batch(directory: "out/", line: 12345).path(index: 0, count: 1, seed: 0, format: "png") == "out/12345-0.png")
        #expect(OutputNaming.batch(directory: ".", line: 1).path(index: 0, count: 1, seed: 3, format: "jpeg") == "0001-3.jpg")
    }

    @Test func promptNames() {
        #expect(OutputNaming.slug("a photo of sks dog") == "a-photo-of-sks-dog")
        #expect(OutputNaming.slug("  (masterpiece:1.2), Sks DOG — on the beach!! ") == "masterpiece-1-2-sks-dog-on-the-beach")
        #expect(OutputNaming.slug("ねこ") == "image")
        #expect(OutputNaming.slug(String(repeating: "word ", count: 40)).count <= 60)
        #expect(!OutputNaming.slug(String(repeating: "abcd ", count: 40)).hasSuffix("-"))
        let naming = OutputNaming.prompt(directory: "out", prompt: "a photo of sks dog")
        #expect(naming.path(index: 1, count: 2, seed: 43, format: "png") == "out/a-photo-of-sks-dog-43.png")
    }

    @Test func formatFromTheFileName() {
        #expect(OutputNaming.format(ofPath: "dog.WEBP") == "webp")
        #expect(OutputNaming.format(ofPath: "dog.png") == "png")
        #expect(OutputNaming.format(ofPath: "dog.jpg") == "jpeg")
        #expect(OutputNaming.format(ofPath: "dog") == nil)
        #expect(OutputNaming.format(ofPath: "dog.txt") == nil)
    }

    @Test func existingOutputsWithAKnownSeed() {
        let naming = OutputNaming.batch(directory: "out", line: 3)
        let present: Set = ["out/0003-10.png"]
        #expect(naming.existingOutputs(count: 2, seed: 10, format: "png", listDirectory: { _ in [] }, exists: present.contains)
                == ["out/0003-10.png"])
    }

    @Test func existingOutputsWithARandomSeed() {
        let naming = OutputNaming.batch(directory: "out", line: 3)
        let listing = ["0003-991.png", "0003-17.png", "0003-17.webp", "0003-x.png", "00030-1.png", "0004-5.png",
                       ".0003-12.png.123.456.tmp", "0003-.png"]
        #expect(naming.existingOutputs(count: 2, seed: nil, format: "png", listDirectory: { _ in listing }, exists: { _ in false })
                == ["out/0003-17.png", "out/0003-991.png"])
    }
}
