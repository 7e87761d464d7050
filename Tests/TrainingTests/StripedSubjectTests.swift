// The DreamBooth demo's subject and its judge: the striped star's instance images are deterministic
// and read as striped, every flat shape of the base data reads as not striped (so prior preservation
// cannot be scored high by a reader that never sees stripes, nor low by one that sees them
// everywhere), and SubjectEvaluation's three shares count what they say.
import Foundation
import ImageIO
import Testing
import TestSupport
@testable import Training

@Suite("Shapes: the striped-star DreamBooth subject")
struct StripedSubjectTests {
    @Test("instance images are the same for the same seed, and every one reads as the striped subject on blue")
    func instanceImages() {
        for index in 0..<40 {
            let image = StripedSubject.render(StripedSubject.scene(at: index, seed: 5), side: 64)
            #expect(image == StripedSubject.render(StripedSubject.scene(at: index, seed: 5), side: 64))
            let reading = PatternReading.read(image)
            #expect(reading?.showsPattern == true, "image \(index): \(String(describing: reading))")
            #expect(reading?.background == .blue)
            // The stripes are about 40 % of the star; the reader names only clean pixels.
            if let r = reading {
                #expect((0.40...0.75).contains(r.bodyShare) && (0.20...0.55).contains(r.stripeShare), "image \(index): \(r)")
            }
        }
        #expect(StripedSubject.render(StripedSubject.scene(at: 0, seed: 5), side: 64)
                != StripedSubject.render(StripedSubject.scene(at: 0, seed: 6), side: 64))
    }

    @Test("no flat shape of the base data reads as striped, yellow and black ones included")
    func flatShapes() {
        let dataset = ShapesDataset(seed: 11)
        var read = 0
        for index in 0..<540 {
            let (image, caption) = dataset.example(at: index, side: 64)
            guard let reading = PatternReading.read(image) else { continue }
            read += 1
            #expect(!reading.showsPattern, "\(caption) (image \(index)): \(reading)")
            #expect(reading.background == dataset.scene(at: index).combination.background, "\(caption)")
        }
        #expect(read == 540)
    }

    @Test("the subject on another background reads that background")
    func otherBackground() {
        for background in SubjectEvaluation.subjectBackgrounds {
            let s = StripedSubject.scene(at: 2, seed: 1)
            let scene = ShapeScene(ShapeCombination(.star, .yellow, on: background), center: s.center,
                                   circumradius: s.circumradius, rotation: s.rotation)
            let reading = PatternReading.read(StripedSubject.render(scene, side: 64))
            #expect(reading?.background == background && reading?.showsPattern == true, "\(background): \(String(describing: reading))")
        }
    }

    @Test("subject fidelity, prompt fidelity and prior preservation count the right renders")
    func counting() {
        let striped = PatternReading.read(StripedSubject.render(StripedSubject.scene(at: 0, seed: 0), side: 64))!
        let flatRed = PatternReading.read(ShapeRasterizer.render(ShapesDataset(seed: 0).scene(at: 0), side: 64))!
        func render(_ background: ShapeColor?, _ reading: PatternReading?) -> SubjectEvaluation.Render {
            .init(prompt: "p", background: background, seed: 0, reading: reading)
        }
        // Subject renders: striped on blue asked red (pattern yes, background no), flat asked for its
        // own background (pattern no, background yes), nothing read.
        let e = SubjectEvaluation(subjectRenders: [render(.red, striped), render(flatRed.background, flatRed), render(.green, nil)],
                                  priorRenders: [render(nil, striped), render(nil, flatRed), render(nil, flatRed), render(nil, nil)])
        #expect(abs(e.subjectFidelity - 1.0 / 3) < 1e-12)
        #expect(abs(e.promptFidelity - 1.0 / 3) < 1e-12)
        #expect(abs(e.priorPreservation - 3.0 / 4) < 1e-12)
    }

    @Test("dbtrain make-shapes --subject writes the instance PNGs (no captions) and refuses a full folder")
    func makeShapesSubject() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("subject-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let binary = Fixtures.builtProduct("dbtrain")
        let run = try runProcess(binary, ["make-shapes", "--subject", "--out", folder.path, "--count", "4", "--seed", "3"])
        #expect(run.status == 0, "\(run.output)")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(names == ["00000.png", "00001.png", "00002.png", "00003.png"])
        let first = try ImageFile.decode(contentsOf: folder.appendingPathComponent("00000.png")).image
        #expect(first == StripedSubject.render(StripedSubject.scene(at: 0, seed: 3), side: 64))
        let again = try runProcess(binary, ["make-shapes", "--subject", "--out", folder.path, "--count", "4"])
        #expect(again.status != 0 && again.output.contains("\(folder.path) is not empty"), "\(again.output)")
    }
}
