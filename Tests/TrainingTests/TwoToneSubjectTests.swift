// The two-tone pattern (SubjectPattern.halves): the subject star split into a yellow and a red half,
// the base world's circles, squares and triangles split the same way, and the reader that tells halves
// from dots and from flat shapes — so that subject fidelity cannot be scored high by a reader that sees
// halves everywhere, nor prior preservation by one that never sees them.
import Foundation
import ImageIO
import Testing
import TestSupport
@testable import Training

@Suite("Shapes: the two-tone star (halves pattern)")
struct TwoToneSubjectTests {
    @Test("instance images read as the two-tone subject, on their background and on every evaluation background; tones cover about half each")
    func instanceImages() {
        for index in 0..<40 {
            let scene = DottedSubject.scene(at: index, seed: 5)
            for background in [DottedSubject.instanceBackground] + SubjectEvaluation.subjectBackgrounds() {
                let image = DottedSubject.render(scene.with(ShapeCombination(.star, DottedSubject.bodyColor, on: background)),
                                                 pattern: .halves, side: 64)
                let r = PatternReading.read(image)
                #expect(r?.showsSubject(.halves) == true && r?.background == background, "image \(index) on \(background): \(String(describing: r))")
                guard let r else { continue }
                // Mirror halves: each tone covers 35–50 % of the figure (edges stay unnamed), their
                // centroids about half the circumradius apart.
                #expect((0.35...0.5).contains(r.secondToneShare) && (0.35...0.5).contains(r.firstToneShare), "image \(index): \(r)")
                #expect(r.toneSeparation > 0.35, "image \(index): \(r)")
                // Not a dot subject: the centre lies on the split line.
                #expect(!r.showsSubject(.dot), "image \(index): \(r)")
            }
        }
    }

    @Test("flat shapes, and dotted ones, show no halves")
    func noHalves() {
        let dataset = ShapesDataset(seed: 11)
        for index in 0..<540 {
            let (image, caption) = dataset.example(at: index, side: 64)
            let r = PatternReading.read(image)
            #expect(r?.showsHalves == false && (r?.secondToneShare ?? 1) < 0.05, "\(caption) (image \(index)): \(String(describing: r))")
        }
        for index in 0..<20 {
            let r = PatternReading.read(DottedSubject.render(DottedSubject.scene(at: index, seed: 2), side: 64))
            #expect(r?.showsDot == true && r?.showsHalves == false, "dotted subject \(index): \(String(describing: r))")
        }
    }

    @Test("halves in other colours are halves but not the subject")
    func wrongHalves() {
        let scene = DottedSubject.scene(at: 1, seed: 2)
        let body = DottedSubject.bodyColor, second = DottedSubject.dotColor, background = DottedSubject.instanceBackground
        let others = ShapeColor.allCases.filter { ![body, second, background].contains($0) }
        for (color, half) in others.map({ (body, $0) }) + others.map({ ($0, second) }) {
            let image = DottedSubject.render(scene.with(ShapeCombination(.star, color, on: background)), pattern: .halves, dot: half, side: 64)
            let r = PatternReading.read(image)
            #expect(r?.showsHalves == true && r?.showsSubject(.halves) == false, "\(color) and \(half) star: \(String(describing: r))")
        }
    }

    @Test("a data set with halves: the same scenes and second colours as with dots, split halves, captioned \"a red and yellow circle\"")
    func dataSet() {
        let dotted = ShapesDataset(seed: 3, companionShare: 0.25, dottedShare: 0.5)
        let halves = ShapesDataset(seed: 3, companionShare: 0.25, dottedShare: 0.5, pattern: .halves)
        var split = 0
        for i in 0..<300 {
            #expect(halves.scene(at: i) == dotted.scene(at: i) && halves.dot(at: i) == dotted.dot(at: i), "image \(i)")
            let example = halves.example(at: i, side: 64)
            guard let second = halves.dot(at: i) else {
                #expect(example.image == dotted.example(at: i, side: 64).image && example.caption == dotted.caption(at: i), "image \(i)")
                continue
            }
            split += 1
            let main = halves.scene(at: i).combination
            #expect(example.caption == "a \(main.color.rawValue) and \(second.rawValue) \(main.kind.rawValue) on a \(main.background.rawValue) background")
            #expect(halves.caption(at: i) == example.caption && halves.captionDetail(at: i) == .full)
            let r = PatternReading.read(example.image)
            #expect(r?.showsHalves == true && Set([r?.firstTone, r?.secondTone]) == Set([main.color, second]),
                    "image \(i), \(example.caption): \(String(describing: r))")
        }
        #expect((50...125).contains(split), "\(split) of 300 images are split")
        // Circles split at their own drawn angles, not all alike.
        let circleAngles = Set((0..<300).compactMap { i -> Double? in
            guard halves.dot(at: i) != nil, halves.scene(at: i).combination.kind == .circle else { return nil }
            return halves.patternDraw(at: i, of: halves.scene(at: i))?.splitAngle
        })
        #expect(circleAngles.count > 5)
    }

    @Test("the evaluation counts halves for subject fidelity and prior preservation when asked for that pattern")
    func counting() {
        func reading(_ pattern: SubjectPattern, _ color: ShapeColor = DottedSubject.bodyColor, _ second: ShapeColor = DottedSubject.dotColor) -> PatternReading? {
            PatternReading.read(DottedSubject.render(DottedSubject.scene(at: 0, seed: 0).with(ShapeCombination(.star, color, on: .green)),
                                                     pattern: pattern, dot: second, side: 64))
        }
        func render(_ reading: PatternReading?) -> SubjectEvaluation.Render {
            .init(prompt: "p", background: .green, seed: 0, reading: reading, kind: .star)
        }
        let flat = PatternReading.read(ShapeRasterizer.render(ShapesDataset(seed: 0).scene(at: 0), side: 64))
        let renders = [render(reading(.halves)), render(reading(.halves, .white, .black)), render(reading(.dot)), render(flat)]
        let e = SubjectEvaluation(subjectRenders: renders, priorRenders: renders, pattern: .halves)
        #expect(abs(e.subjectFidelity - 1.0 / 4) < 1e-12)
        // Both split renders leak, whatever their colours; the dot is not this pattern.
        #expect(abs(e.priorPreservation - 2.0 / 4) < 1e-12)
    }

    @Test("instance images on another background: the same layouts there, and the evaluation asks for the other three backgrounds")
    func instanceBackground() throws {
        #expect(DottedSubject.instanceBackgrounds == [.green, .blue, .white, .black])
        for background in DottedSubject.instanceBackgrounds {
            let scene = DottedSubject.scene(at: 2, seed: 7, background: background)
            #expect(scene == DottedSubject.scene(at: 2, seed: 7).with(ShapeCombination(.star, DottedSubject.bodyColor, on: background)))
            let r = PatternReading.read(DottedSubject.render(scene, pattern: .halves, side: 64))
            #expect(r?.showsSubject(.halves) == true && r?.background == background, "on \(background): \(String(describing: r))")
            let asked = SubjectEvaluation.subjectBackgrounds(instanceBackground: background)
            #expect(asked.count == 3 && !asked.contains(background) && Set(asked + [background]) == Set(DottedSubject.instanceBackgrounds))
            // The prior prompts hold the instance images' look without the token, once.
            let prior = SubjectEvaluation.priorPrompts(instanceBackground: background)
            #expect(prior.filter { $0.prompt == "a yellow star on a \(background.rawValue) background" }.count == 1)
            #expect(Set(prior.map(\.prompt)).count == prior.count && prior.count == (background == .green ? 5 : 6))
        }
        #expect(SubjectEvaluation.subjectBackgrounds() == [.green, .white, .black])
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("subject-bg-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(throws: ShapesError.invalidInstanceBackground(.red, allowed: DottedSubject.instanceBackgrounds)) {
            try DottedSubject.writeInstanceImages(count: 1, seed: 0, side: 64, background: .red, to: folder)
        }
        let dbtrain = Fixtures.builtProduct("dbtrain")
        let run = try runProcess(dbtrain, ["make-shapes", "--subject", "--pattern", "halves", "--instance-background", "white",
                                           "--out", folder.path, "--count", "1", "--seed", "3"])
        #expect(run.status == 0 && run.output.contains("on white"), "\(run.output)")
        let first = try ImageFile.decode(contentsOf: folder.appendingPathComponent("00000.png")).image
        #expect(first == DottedSubject.render(DottedSubject.scene(at: 0, seed: 3, background: .white), pattern: .halves, side: 64))
        let refused = try runProcess(dbtrain, ["make-shapes", "--subject", "--instance-background", "yellow",
                                               "--out", folder.appendingPathComponent("more").path, "--count", "1"])
        #expect(refused.status != 0 && refused.output.contains("--instance-background yellow is one of the subject's colours"), "\(refused.output)")
    }

    @Test("upright instance images: the same sizes and places, first point up, yellow on the left and red on the right")
    func uprightInstanceImages() throws {
        for index in 0..<12 {
            let turned = DottedSubject.scene(at: index, seed: 4), upright = DottedSubject.scene(at: index, seed: 4, upright: true)
            #expect(upright.rotation == 0 && upright.center == turned.center && upright.circumradius == turned.circumradius)
            let image = DottedSubject.render(upright, pattern: .halves, side: 64)
            #expect(PatternReading.read(image)?.showsSubject(.halves) == true, "image \(index)")
            // A third of the circumradius either side of the centre, level with it: inside the inner
            // pentagon, well clear of the split line.
            let center = upright.center * 64, step = upright.circumradius * 64 / 3
            func color(at dx: Double) -> ShapeColor? {
                let i = (Int(center.y) * 64 + Int(center.x + dx)) * 3
                let nearest = ShapeColor.nearest(red: Double(image.pixels[i]), green: Double(image.pixels[i + 1]),
                                                 blue: Double(image.pixels[i + 2]))
                return nearest.distance < 40 ? nearest.color : nil
            }
            #expect(color(at: -step) == DottedSubject.bodyColor && color(at: step) == DottedSubject.dotColor, "image \(index)")
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("upright-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = try runProcess(Fixtures.builtProduct("dbtrain"), ["make-shapes", "--subject", "--pattern", "halves", "--upright",
                                                                    "--out", folder.path, "--count", "2", "--seed", "4"])
        #expect(run.status == 0 && run.output.contains("upright star"), "\(run.output)")
        let second = try ImageFile.decode(contentsOf: folder.appendingPathComponent("00001.png")).image
        #expect(second == DottedSubject.render(DottedSubject.scene(at: 1, seed: 4, upright: true), pattern: .halves, side: 64))
    }

    @Test("dbtrain make-shapes --subject --pattern halves writes the two-tone instance images")
    func makeShapesSubject() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("halves-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = try runProcess(Fixtures.builtProduct("dbtrain"),
                                 ["make-shapes", "--subject", "--pattern", "halves", "--out", folder.path, "--count", "2", "--seed", "3"])
        #expect(run.status == 0, "\(run.output)")
        let first = try ImageFile.decode(contentsOf: folder.appendingPathComponent("00000.png")).image
        #expect(first == DottedSubject.render(DottedSubject.scene(at: 0, seed: 3), pattern: .halves, side: 64))
        let bad = try runProcess(Fixtures.builtProduct("dbtrain"), ["make-shapes", "--subject", "--pattern", "stripes", "--out", folder.path, "--count", "2"])
        #expect(bad.status != 0 && bad.output.contains("stripes"), "\(bad.output)")
    }
}
