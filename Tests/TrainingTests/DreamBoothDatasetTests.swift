// DreamBoothDataset against the rules of diffusers' DreamBoothDataset and collate_fn
// (examples/dreambooth/train_dreambooth.py): which files, how many examples, which image pairs with
// which, the batch layout with prior preservation — plus our own promises: sorted names, bad files
// refused up front with their names, deterministic epoch order and crops.
import Foundation
import ImageIO
import Models
import Tensor
import Testing
import TestSupport
@testable import Training

@Suite("Training data: DreamBoothDataset")
struct DreamBoothDatasetTests {
    static let tokenizer = try! CLIPTokenizer(directory: Fixtures.directory.deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("models/tiny/tokenizer"))

    /// An 8×8 image of one grey level, so that an example's tensor tells which file it came from.
    static func writeSolid(_ level: UInt8, to url: URL, width: Int = 8, height: Int = 8) {
        try! ImageFile.write(RGBImage(width: width, height: height, red: level, green: level, blue: level), to: url)
    }

    /// The grey level a solid image's tensor holds (inverse of (v/255 − 0.5)/0.5).
    static func level(_ tensor: Tensor) -> Int { Int(((tensor.pointer[0] * 0.5 + 0.5) * 255).rounded()) }

    static func dataset(instance: URL, classDirectory: URL? = nil, numClassImages: Int? = nil,
                        resolution: Int = 8, centerCrop: Bool = true, seed: UInt64 = 1) throws -> DreamBoothDataset {
        try DreamBoothDataset(instanceDirectory: instance, instancePrompt: "a photo of sks dog",
                              classDirectory: classDirectory, classPrompt: classDirectory == nil ? nil : "a photo of dog",
                              numClassImages: numClassImages,
                              transform: TrainingImageTransform(resolution: resolution, centerCrop: centerCrop),
                              tokenizer: tokenizer, seed: seed)
    }

    /// The file named by the `.undecodable` error `body` throws, or nil.
    static func undecodableFile(_ body: () throws -> Void) -> String? {
        do { try body() } catch TrainingDataError.undecodable(let error) { return error.file } catch { return "other error: \(error)" }
        return nil
    }

    @Test("lists image files sorted by name, skipping hidden files, other files and folders")
    func listing() throws {
        let dir = TrainingDataFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        Self.writeSolid(10, to: dir.appendingPathComponent("b.png"))
        Self.writeSolid(20, to: dir.appendingPathComponent("C.webp"))
        try FileManager.default.copyItem(at: TrainingDataFixtures.url("orientation_1.jpg"), to: dir.appendingPathComponent("a.JPG"))
        Self.writeSolid(30, to: dir.appendingPathComponent(".hidden.png"))
        try Data("caption".utf8).write(to: dir.appendingPathComponent("notes.txt"))
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("folder.png"), withIntermediateDirectories: true)
        let files = try ImageFolder.imageFiles(in: dir, role: "instance")
        // Byte order of the names: upper case before lower case, whatever the locale.
        #expect(files.map(\.lastPathComponent) == ["C.webp", "a.JPG", "b.png"])
        let data = try Self.dataset(instance: dir)
        #expect(data.count == 3 && !data.hasPriorPreservation)
    }

    @Test("a file that fails to decode stops the build with its name; so do unsupported formats and empty folders")
    func badData() throws {
        let dir = TrainingDataFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        Self.writeSolid(10, to: dir.appendingPathComponent("good.png"))
        let png = try Data(contentsOf: TrainingDataFixtures.url("resize_up_portrait_in.png"))
        let broken = dir.appendingPathComponent("broken.png")
        try png.prefix(png.count / 2).write(to: broken)
        #expect(Self.undecodableFile { _ = try Self.dataset(instance: dir) } == broken.path)
        try FileManager.default.removeItem(at: broken)
        let gif = dir.appendingPathComponent("pet.gif")
        try Data("GIF89a".utf8).write(to: gif)
        #expect(throws: TrainingDataError.unsupportedFormat(path: gif.path, fileExtension: "gif")) {
            try Self.dataset(instance: dir)
        }
        let empty = TrainingDataFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: empty) }
        #expect(throws: TrainingDataError.noImages(role: "instance", path: empty.path)) { try Self.dataset(instance: empty) }
        let missing = empty.appendingPathComponent("nope")
        #expect(throws: TrainingDataError.missingDirectory(role: "instance", path: missing.path)) {
            try Self.dataset(instance: missing)
        }
        // A bad class image is refused too, though the trainer would read it only later in the epoch.
        let goodInstance = TrainingDataFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: goodInstance) }
        Self.writeSolid(10, to: goodInstance.appendingPathComponent("good.png"))
        let classes = TrainingDataFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: classes) }
        Self.writeSolid(50, to: classes.appendingPathComponent("0.png"))
        let badClass = classes.appendingPathComponent("1.png")
        try Data([0x89, 0x50, 0x4E, 0x47]).write(to: badClass)
        #expect(Self.undecodableFile { _ = try Self.dataset(instance: goodInstance, classDirectory: classes) } == badClass.path)
    }

    @Test("length max(n_instance, n_class), n_class = min(files, num_class_images); example i pairs i mod n")
    func examplesAndLength() throws {
        let instance = TrainingDataFixtures.temporaryDirectory(), classes = TrainingDataFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: instance) }
        defer { try? FileManager.default.removeItem(at: classes) }
        for k in 0..<3 { Self.writeSolid(UInt8(10 + k), to: instance.appendingPathComponent("i\(k).png")) }
        for k in 0..<6 { Self.writeSolid(UInt8(100 + k), to: classes.appendingPathComponent("c\(k).png")) }
        let data = try Self.dataset(instance: instance, classDirectory: classes, numClassImages: 4)
        #expect(data.classFiles.map(\.lastPathComponent) == ["c0.png", "c1.png", "c2.png", "c3.png"])
        #expect(data.count == 4)
        for i in 0..<4 {
            let example = try data.example(at: i, epoch: 0)
            #expect(Self.level(example.instancePixels) == 10 + i % 3)
            #expect(Self.level(try #require(example.classPixels)) == 100 + i % 4)
            #expect(example.instancePixels.shape == [3, 8, 8])
        }
        // num_class_images above the files present uses them all; fewer instance images than class
        // images: the class images set the length.
        #expect(try Self.dataset(instance: instance, classDirectory: classes, numClassImages: 100).count == 6)
        #expect(try Self.dataset(instance: instance).count == 3)
    }

    @Test("a batch holds its instance images first, then its class images, with matching token rows")
    func collate() throws {
        let instance = TrainingDataFixtures.temporaryDirectory(), classes = TrainingDataFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: instance) }
        defer { try? FileManager.default.removeItem(at: classes) }
        for k in 0..<3 { Self.writeSolid(UInt8(10 + k), to: instance.appendingPathComponent("i\(k).png")) }
        for k in 0..<3 { Self.writeSolid(UInt8(100 + k), to: classes.appendingPathComponent("c\(k).png")) }
        let data = try Self.dataset(instance: instance, classDirectory: classes)
        let batch = try data.batch([2, 0], epoch: 0)
        #expect(batch.pixelValues.shape == [4, 3, 8, 8] && batch.instanceCount == 2)
        #expect((0..<4).map { Self.level(batch.pixelValues[$0]) } == [12, 10, 102, 100])
        // "a photo of sks dog" / "a photo of dog" with CLIP's vocabulary, padded with <|endoftext|> to 77.
        let instanceIDs = [49406, 320, 1125, 539, 48136, 1929, 49407] + Array(repeating: 49407, count: 70)
        let classIDs = [49406, 320, 1125, 539, 1929, 49407] + Array(repeating: 49407, count: 71)
        #expect(batch.tokenIDs == [instanceIDs, instanceIDs, classIDs, classIDs])
        let plain = try Self.dataset(instance: instance).batch([1], epoch: 0)
        #expect(plain.pixelValues.shape == [1, 3, 8, 8] && plain.tokenIDs == [instanceIDs])
    }

    @Test("epoch order: a seeded permutation, the same for the same seed and epoch; batches keep the short tail")
    func epochOrder() throws {
        let instance = TrainingDataFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: instance) }
        for k in 0..<7 { Self.writeSolid(UInt8(k), to: instance.appendingPathComponent("\(k).png")) }
        let a = try Self.dataset(instance: instance, seed: 5), b = try Self.dataset(instance: instance, seed: 5)
        #expect(a.epochOrder(0).sorted() == Array(0..<7))
        #expect(a.epochOrder(0) == b.epochOrder(0) && a.epochOrder(3) == b.epochOrder(3))
        let orders = Set((0..<6).map { a.epochOrder($0) })
        #expect(orders.count > 1, "every epoch in the same order")
        #expect(try Self.dataset(instance: instance, seed: 6).epochOrder(0) != a.epochOrder(0)
                || Self.dataset(instance: instance, seed: 6).epochOrder(1) != a.epochOrder(1))
        let batches = a.batches(epoch: 2, batchSize: 3)
        #expect(batches.map(\.count) == [3, 3, 1] && batches.flatMap { $0 } == a.epochOrder(2))
    }

    @Test("random crops are a function of (seed, epoch, index): repeatable, and they move between epochs")
    func randomCrops() throws {
        let instance = TrainingDataFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: instance) }
        // A horizontal ramp 24×8: after Resize(8) nothing changes, and the crop's left edge shows in pixel 0.
        var pixels: [UInt8] = []
        for _ in 0..<8 { for x in 0..<24 { pixels += [UInt8(x * 10), 0, 0] } }
        try ImageFile.write(RGBImage(width: 24, height: 8, pixels: pixels), to: instance.appendingPathComponent("ramp.png"))
        let data = try Self.dataset(instance: instance, centerCrop: false, seed: 11)
        let again = try Self.dataset(instance: instance, centerCrop: false, seed: 11)
        var lefts = Set<Int>()
        for epoch in 0..<12 {
            let left = Self.level(try data.example(at: 0, epoch: epoch).instancePixels) / 10
            #expect(left == Self.level(try again.example(at: 0, epoch: epoch).instancePixels) / 10)
            #expect((0...16).contains(left))
            lefts.insert(left)
        }
        #expect(lefts.count > 3, "crops at \(lefts)")
        let centered = try Self.dataset(instance: instance, centerCrop: true)
        #expect(Self.level(try centered.example(at: 0, epoch: 0).instancePixels) == 80)  // round(16 / 2) = 8
    }

    @Test("instance photos are turned upright by their EXIF orientation before resizing")
    func exifOrientation() throws {
        let instance = TrainingDataFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: instance) }
        try FileManager.default.copyItem(at: TrainingDataFixtures.url("orientation_6.jpg"), to: instance.appendingPathComponent("phone.jpg"))
        let data = try Self.dataset(instance: instance, resolution: 7)
        let tensor = try data.example(at: 0, epoch: 0).instancePixels
        // PIL's upright image is 7×12; Resize(7) keeps it, CenterCrop(7) starts at row round(5 / 2) = 2.
        let upright = TrainingDataFixtures.image("orientation_6.png")
        let expected = ImageTensor.normalized(upright.cropped(to: CropRectangle(left: 0, top: 2, width: 7, height: 7)))
        #expect(difference(tensor, expected).maxAbsolute == 0)
    }

    @Test("the configuration's keys build the dataset; prior preservation needs class_data_dir, and class_prompt or caption files")
    func fromConfiguration() throws {
        let instance = TrainingDataFixtures.temporaryDirectory(), classes = TrainingDataFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: instance) }
        defer { try? FileManager.default.removeItem(at: classes) }
        Self.writeSolid(1, to: instance.appendingPathComponent("i.png"))
        for k in 0..<3 { Self.writeSolid(UInt8(k), to: classes.appendingPathComponent("\(k).png")) }
        var c = TrainingConfiguration(pretrainedModelNameOrPath: "models/tiny", instanceDataDir: instance.path,
                                      instancePrompt: "a photo of sks dog")
        c.resolution = 8
        c.withPriorPreservation = true
        #expect(throws: TrainingDataError.missingSetting(key: "class_data_dir")) {
            try DreamBoothDataset(configuration: c, tokenizer: Self.tokenizer, seed: 0)
        }
        c.classDataDir = classes.path
        // No class_prompt: the first class image without a caption file names itself.
        #expect(throws: TrainingDataError.uncaptionedClassImage(path: classes.appendingPathComponent("0.png").path)) {
            try DreamBoothDataset(configuration: c, tokenizer: Self.tokenizer, seed: 0)
        }
        c.classPrompt = "a photo of dog"
        c.numClassImages = 2
        let data = try DreamBoothDataset(configuration: c, tokenizer: Self.tokenizer, seed: 0)
        #expect(data.count == 2 && data.classFiles.count == 2 && data.transform.resolution == 8)
        c.withPriorPreservation = false
        #expect(try DreamBoothDataset(configuration: c, tokenizer: Self.tokenizer, seed: 0).classFiles.isEmpty)
    }
}
