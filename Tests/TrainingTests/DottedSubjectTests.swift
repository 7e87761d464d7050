// The DreamBooth demo's subject and its judge: the dotted star's instance images are deterministic
// and read as the subject, every flat shape of the base data reads as dotless (so prior preservation
// cannot be scored high by a reader that never sees a dot, nor low by one that sees dots everywhere),
// a dot of another colour or a hole counts as a dot but not as the subject, and SubjectEvaluation's
// three shares count what they say.
import Foundation
import ImageIO
import Testing
import TestSupport
@testable import Training

@Suite("Shapes: the dotted-star DreamBooth subject")
struct DottedSubjectTests {
    @Test("instance images are the same for the same seed, and every one reads as the dotted subject on its background")
    func instanceImages() {
        for index in 0..<40 {
            let image = DottedSubject.render(DottedSubject.scene(at: index, seed: 5), side: 64)
            #expect(image == DottedSubject.render(DottedSubject.scene(at: index, seed: 5), side: 64))
            let reading = PatternReading.read(image)
            #expect(reading?.showsSubject() == true, "image \(index): \(String(describing: reading))")
            #expect(reading?.background == DottedSubject.instanceBackground)
            // The core lies inside the dot, the body on the body colour: the contrast is the distance
            // between the two colours, give or take anti-aliasing at the star's points.
            let (red, green, blue) = DottedSubject.bodyColor.rgb
            let expected = DottedSubject.dotColor.squaredDistance(toRed: Double(red), green: Double(green), blue: Double(blue)).squareRoot()
            if let r = reading {
                #expect(abs(r.contrast - expected) < 10, "image \(index): \(r), expected contrast \(expected)")
            }
        }
        #expect(DottedSubject.render(DottedSubject.scene(at: 0, seed: 5), side: 64)
                != DottedSubject.render(DottedSubject.scene(at: 0, seed: 6), side: 64))
    }

    @Test("no flat shape of the base data shows a dot, yellow and black ones included")
    func flatShapes() {
        let dataset = ShapesDataset(seed: 11)
        var read = 0
        for index in 0..<540 {
            let (image, caption) = dataset.example(at: index, side: 64)
            guard let reading = PatternReading.read(image) else { continue }
            read += 1
            #expect(!reading.showsDot && reading.contrast < 60, "\(caption) (image \(index)): \(reading)")
            #expect(reading.background == dataset.scene(at: index).combination.background, "\(caption)")
        }
        #expect(read == 540)
    }

    @Test("the subject on another background reads that background")
    func otherBackground() {
        for background in SubjectEvaluation.subjectBackgrounds() {
            let s = DottedSubject.scene(at: 2, seed: 1)
            let reading = PatternReading.read(DottedSubject.render(s.with(ShapeCombination(.star, .yellow, on: background)), side: 64))
            #expect(reading?.background == background && reading?.showsSubject() == true, "\(background): \(String(describing: reading))")
        }
    }

    @Test("a dot of another colour, a hole, or the dot in another body is a dot but not the subject")
    func wrongDots() {
        let s = DottedSubject.scene(at: 1, seed: 2)
        func reading(_ color: ShapeColor, dot: ShapeColor, on background: ShapeColor) -> PatternReading? {
            PatternReading.read(DottedSubject.render(s.with(ShapeCombination(.star, color, on: background)), dot: dot, side: 64))
        }
        let body = DottedSubject.bodyColor, background = DottedSubject.instanceBackground
        let otherDots = ShapeColor.allCases.filter { ![body, DottedSubject.dotColor, background].contains($0) }
            .map { (body, $0, background) }
        let holes = SubjectEvaluation.subjectBackgrounds().map { (body, $0, $0) }
        let otherBodies = ShapeColor.allCases.filter { ![body, DottedSubject.dotColor, background].contains($0) }
            .map { ($0, DottedSubject.dotColor, background) }
        for (color, dot, background) in otherDots + holes + otherBodies {
            let r = reading(color, dot: dot, on: background)
            #expect(r?.showsDot == true && r?.showsSubject() == false, "\(color) star, \(dot) dot, on \(background): \(String(describing: r))")
        }
    }

    @Test("subject fidelity, prompt fidelity and prior preservation count the right renders")
    func counting() {
        let dotted = PatternReading.read(DottedSubject.render(DottedSubject.scene(at: 0, seed: 0), side: 64))!
        let flatRed = PatternReading.read(ShapeRasterizer.render(ShapesDataset(seed: 0).scene(at: 0), side: 64))!
        let greenDot = PatternReading(background: .blue, core: SIMD3(40, 180, 60), body: SIMD3(240, 210, 40))
        func render(_ background: ShapeColor?, _ reading: PatternReading?, _ kind: ShapeKind? = .star) -> SubjectEvaluation.Render {
            .init(prompt: "p", background: background, seed: 0, reading: reading, kind: kind)
        }
        // Subject renders: the subject on blue asked red (subject yes, background no), flat asked for
        // its own background (subject no, background yes), a green dot asked blue (subject no,
        // background yes), nothing read.
        let e = SubjectEvaluation(subjectRenders: [render(.red, dotted), render(flatRed.background, flatRed), render(.blue, greenDot), render(.green, nil)],
                                  priorRenders: [render(nil, dotted), render(nil, greenDot), render(nil, flatRed), render(nil, flatRed, .circle), render(nil, nil, nil)])
        #expect(abs(e.subjectFidelity - 1.0 / 4) < 1e-12)
        #expect(abs(e.promptFidelity - 2.0 / 4) < 1e-12)
        // Both dots leak, whatever their colour; a dotless render need not be a star.
        #expect(abs(e.priorPreservation - 3.0 / 5) < 1e-12)
        #expect(abs(e.priorStarShare - 3.0 / 5) < 1e-12)
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
        #expect(first == DottedSubject.render(DottedSubject.scene(at: 0, seed: 3), side: 64))
        let again = try runProcess(binary, ["make-shapes", "--subject", "--out", folder.path, "--count", "4"])
        #expect(again.status != 0 && again.output.contains("\(folder.path) is not empty"), "\(again.output)")
    }
}
