// The shapes world: the generator is deterministic by (seed, index), draws what its caption says with
// anti-aliased edges of the right area, never shows a held-out combination in the training split, and
// the pixel analyser reads shape, colour and background back from ≥ 99 % of images (and rejects wrong
// labels). Also `dbtrain make-shapes` as a user runs it.
import Foundation
import ImageIO
import Testing
import TestSupport
@testable import Training

@Suite("Training: the shapes world (generator, analyser, make-shapes)")
struct ShapesTests {
    /// A fresh, not yet existing folder under the temporary directory.
    static func scratchFolder(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("shapes-\(name)-\(UUID().uuidString.prefix(8))")
    }

    // MARK: Determinism

    @Test("the same seed gives the same bytes; another seed other images")
    func sameSeedSameBytes() {
        let a = ShapesDataset(seed: 42), b = ShapesDataset(seed: 42), c = ShapesDataset(seed: 43)
        var differing = 0
        for i in 0..<24 {
            let pngA = PNGCodec.encode(a.example(at: i, side: 64).image)
            #expect(pngA == PNGCodec.encode(b.example(at: i, side: 64).image), "image \(i)")
            if pngA != PNGCodec.encode(c.example(at: i, side: 64).image) { differing += 1 }
        }
        #expect(differing == 24)
        // The two splits of one seed are unrelated streams, not the same layouts recoloured.
        let heldOut = ShapesDataset(seed: 42, split: .heldOut)
        #expect((0..<12).allSatisfy { a.scene(at: $0).center != heldOut.scene(at: $0).center })
    }

    @Test("image i does not depend on how many images are written")
    func independentOfCount() throws {
        let small = Self.scratchFolder("small"), large = Self.scratchFolder("large")
        defer { try? FileManager.default.removeItem(at: small); try? FileManager.default.removeItem(at: large) }
        let dataset = ShapesDataset(seed: 5)
        try ShapesFolder.write(dataset, count: 3, side: 64, to: small)
        try ShapesFolder.write(dataset, count: 7, side: 64, to: large)
        for i in 0..<3 {
            for ext in ["png", "txt"] {
                let name = "0000\(i).\(ext)"
                #expect(try Data(contentsOf: small.appendingPathComponent(name)) == Data(contentsOf: large.appendingPathComponent(name)),
                        "\(name)")
            }
        }
        let smallLines = try String(contentsOf: small.appendingPathComponent("metadata.jsonl"), encoding: .utf8).split(separator: "\n")
        let largeLines = try String(contentsOf: large.appendingPathComponent("metadata.jsonl"), encoding: .utf8).split(separator: "\n")
        #expect(smallLines.count == 3 && largeLines.count == 7 && Array(largeLines.prefix(3)) == smallLines)
        // Far-off images are as cheap and as fixed as the first ones.
        #expect(dataset.scene(at: 1000) == ShapesDataset(seed: 5).scene(at: 1000))
    }

    // MARK: What is drawn

    @Test("a fifth of captions name only part of the scene, each partial form alike; the images do not change")
    func partialCaptions() {
        let dataset = ShapesDataset(seed: 0), fullOnly = ShapesDataset(seed: 0, partialCaptionShare: 0)
        let n = 5400
        var counts: [CaptionDetail: Int] = [:]
        for i in 0..<n { counts[dataset.captionDetail(at: i), default: 0] += 1 }
        // Binomial: 1080 ± 29 expected partial captions; 5 σ bounds.
        #expect(abs(n - counts[.full, default: 0] - 1080) < 150, "\(counts)")
        for detail in CaptionDetail.partial {
            #expect(abs(counts[detail, default: 0] - 360) < 120, "\(detail): \(counts)")
        }
        #expect((0..<200).allSatisfy { fullOnly.captionDetail(at: $0) == .full })
        // Which caption an image gets is a stream of its own: the scenes are those of the full-only set.
        #expect((0..<200).allSatisfy { dataset.scene(at: $0) == fullOnly.scene(at: $0) })
        let star = ShapeCombination(.star, .red, on: .blue)
        #expect(CaptionDetail.allCases.map { star.caption($0) }
                == ["a red star on a blue background", "a red star", "a star on a blue background", "a star"])
        // A partial caption is not read back as a combination (evaluation labels come from full ones).
        #expect(CaptionDetail.partial.allSatisfy { ShapeCombination(caption: star.caption($0)) == nil })
    }

    @Test("companions: none by default; with a share, a smaller shape of a third colour from the split's combinations, drawn over the scene and named")
    func companions() throws {
        let plain = ShapesDataset(seed: 3), mixed = ShapesDataset(seed: 3, companionShare: 0.5)
        let trained = Set(mixed.combinations)
        var withCompanion = 0
        for i in 0..<400 {
            let scene = plain.scene(at: i)
            #expect(mixed.scene(at: i) == scene && plain.companion(at: i) == nil)
            let image = mixed.example(at: i, side: 64)
            guard let companion = mixed.companion(at: i) else {
                // Without one, the image and caption are the plain data set's.
                #expect(image.image == plain.example(at: i, side: 64).image && image.caption == plain.caption(at: i), "image \(i)")
                continue
            }
            withCompanion += 1
            let main = scene.combination, other = companion.combination
            #expect(other.color != main.color && other.background == main.background && trained.contains(other), "image \(i): \(other)")
            #expect(ShapeScene.companionDiameterRange.contains(2 * companion.circumradius))
            #expect(image.caption == "a \(main.color.rawValue) \(main.kind.rawValue) and a \(other.color.rawValue) \(other.kind.rawValue) on a \(main.background.rawValue) background")
            // Drawn last, on top: its inside is its own colour, exactly (a ≥ 12-px shape has an inside).
            let rgb = other.color.rgb
            let own = stride(from: 0, to: image.image.pixels.count, by: 3).filter {
                image.image.pixels[$0] == rgb.red && image.image.pixels[$0 + 1] == rgb.green && image.image.pixels[$0 + 2] == rgb.blue
            }.count
            #expect(own >= 20, "image \(i): \(own) pixels of the companion's colour")
            var expected = ShapeRasterizer.render(scene, side: 64)
            ShapeRasterizer.draw(companion, over: &expected)
            #expect(image.image == expected)
        }
        // Half of 400, within 4.5 standard deviations (σ = 10).
        #expect((155...245).contains(withCompanion), "\(withCompanion) of 400 images have a companion")
        // The held-out split's companions are held-out combinations too.
        let heldOut = ShapesDataset(seed: 3, split: .heldOut, companionShare: 1)
        let heldOutSet = Set(ShapesDataset.heldOutCombinations)
        #expect((0..<100).compactMap { heldOut.companion(at: $0) }.allSatisfy { heldOutSet.contains($0.combination) })
    }

    @Test("dots: none by default; with a share, circles, squares and triangles without a companion get a dot of a third colour, named; never a star")
    func dots() throws {
        let plain = ShapesDataset(seed: 3, companionShare: 0.25), dotted = ShapesDataset(seed: 3, companionShare: 0.25, dottedShare: 0.5)
        var withDot = 0
        for i in 0..<400 {
            let scene = plain.scene(at: i)
            #expect(dotted.scene(at: i) == scene && dotted.companion(at: i) == plain.companion(at: i) && plain.dot(at: i) == nil)
            let example = dotted.example(at: i, side: 64)
            guard let dot = dotted.dot(at: i) else {
                #expect(example.image == plain.example(at: i, side: 64).image && example.caption == plain.caption(at: i), "image \(i)")
                continue
            }
            withDot += 1
            let main = scene.combination
            #expect(main.kind != .star && dotted.companion(at: i) == nil, "image \(i): a dotted \(main.kind)")
            #expect(dot != main.color && dot != main.background, "image \(i): a \(dot) dot in \(main)")
            #expect(example.caption == "a \(main.color.rawValue) \(main.kind.rawValue) with a \(dot.rawValue) dot on a \(main.background.rawValue) background")
            #expect(dotted.captionDetail(at: i) == .full)
            #expect(example.image == DottedSubject.render(scene, dot: dot, side: 64))
            // What the DreamBooth evaluation calls a dot, it reads in every one of them.
            #expect(PatternReading.read(example.image)?.showsDot == true, "image \(i): \(example.caption)")
        }
        // P(dot) = 0.5 × 3/4 (not a star) × 3/4 (no companion): 112 of 400, σ ≈ 9.
        #expect((70...155).contains(withDot), "\(withDot) of 400 images have a dot")
    }

    @Test("captions name the drawn scene: shape colour at its centre, background at the border")
    func captionsMatchPixels() throws {
        for split in ShapesDataset.Split.allCases {
            let dataset = ShapesDataset(seed: 11, split: split)
            for i in 0..<150 {
                let scene = dataset.scene(at: i)
                let (image, caption) = dataset.example(at: i, side: 64)
                let c = scene.combination
                #expect(caption == c.caption(dataset.captionDetail(at: i)))
                #expect(c.caption == "a \(c.color.rawValue) \(c.kind.rawValue) on a \(c.background.rawValue) background")
                #expect(ShapeCombination(caption: c.caption) == c)
                // The centre pixel lies well inside every kind (even the star's inner pentagon is ≥ 3 px
                // across at 64 px); the border is untouched by the 3 % margin.
                let centre = image[Int(scene.center.x * 64), Int(scene.center.y * 64)]
                #expect(centre == c.color.rgb, "\(i): \(caption): centre \(centre)")
                for p in [(0, 0), (63, 0), (0, 63), (63, 63), (32, 0), (0, 32), (63, 32), (32, 63)] {
                    #expect(image[p.0, p.1] == c.background.rgb, "\(i): \(caption): border pixel \(p)")
                }
                let r = scene.circumradius
                #expect(ShapeScene.diameterRange.contains(2 * r))
                #expect(scene.center.x - r >= ShapeScene.margin - 1e-12 && scene.center.x + r <= 1 - ShapeScene.margin + 1e-12)
                #expect(scene.center.y - r >= ShapeScene.margin - 1e-12 && scene.center.y + r <= 1 - ShapeScene.margin + 1e-12)
            }
        }
        #expect(ShapeCombination(caption: "a red circle on a red background") == nil)
        #expect(ShapeCombination(caption: "a red hexagon on a blue background") == nil)
    }

    @Test("edges are anti-aliased, lie between the two colours, and the covered area is the shape's")
    func antiAliasing() {
        let dataset = ShapesDataset(seed: 3)
        for i in 0..<40 {
            let scene = dataset.scene(at: i)
            let image = dataset.example(at: i, side: 64).image
            let fg = scene.combination.color.rgb, bg = scene.combination.background.rgb
            var intermediate = 0
            var coverage = 0.0
            for y in 0..<64 {
                for x in 0..<64 {
                    let p = image[x, y]
                    if p == fg { coverage += 1; continue }
                    if p == bg { continue }
                    intermediate += 1
                    for (v, a, b) in [(p.red, fg.red, bg.red), (p.green, fg.green, bg.green), (p.blue, fg.blue, bg.blue)] {
                        #expect(v >= min(a, b) && v <= max(a, b), "\(i): edge pixel (\(x), \(y)) \(p) outside \(fg)…\(bg)")
                    }
                    // Coverage of an edge pixel, read back in linear light on the channel that differs most.
                    let channels = [(p.red, fg.red, bg.red), (p.green, fg.green, bg.green), (p.blue, fg.blue, bg.blue)]
                    let (v, a, b) = channels.max { abs(Int($0.1) - Int($0.2)) < abs(Int($1.1) - Int($1.2)) }!
                    coverage += (LinearLight.linear(v) - LinearLight.linear(b)) / (LinearLight.linear(a) - LinearLight.linear(b))
                }
            }
            // A 64-px shape has a perimeter of ≥ 40 px: at least that many pixels are partly covered.
            #expect(intermediate >= 40, "\(i): \(scene.caption): only \(intermediate) intermediate pixels")
            let r = scene.circumradius * 64
            let expected: Double = switch scene.combination.kind {
            case .circle: Double.pi * r * r
            case .square: 2 * r * r
            case .triangle: 3 * 3.0.squareRoot() / 4 * r * r
            case .star: 5 * r * r * ShapeKind.starInnerRatio * sin(Double.pi / 5)
            }
            // 256 samples per edge pixel and 8-bit rounding: the area is exact to well under 1 %
            // (measured: ≤ 0.2 %).
            #expect(abs(coverage - expected) / expected < 0.01, "\(i): \(scene.caption): area \(coverage) vs \(expected)")
        }
    }

    // MARK: The split

    @Test("the training split never shows a held-out combination, yet shows every part of one")
    func heldOutSplit() {
        let heldOut = Set(ShapesDataset.heldOutCombinations)
        #expect(heldOut.count == 12 && ShapesDataset.heldOutCombinations.count == 12)
        #expect(ShapeCombination.all.count == 120 && Set(ShapeCombination.all).count == 120)

        let training = ShapesDataset(seed: 9)
        #expect(training.combinations.count == 108)
        var seen: [ShapeCombination: Int] = [:]
        for i in 0..<(2 * 108) { seen[training.scene(at: i).combination, default: 0] += 1 }
        #expect(seen.keys.allSatisfy { !heldOut.contains($0) })
        // Dealt in rounds: 2 rounds show every training combination exactly twice.
        #expect(seen.count == 108 && seen.values.allSatisfy { $0 == 2 })
        // Every shape, colour and background, and every pair of them, is still in training.
        let kinds = Set(seen.keys.map(\.kind)), colors = Set(seen.keys.map(\.color)), backgrounds = Set(seen.keys.map(\.background))
        #expect(kinds.count == 4 && colors.count == 6 && backgrounds.count == 6)
        for kind in ShapeKind.allCases {
            for color in ShapeColor.allCases {
                #expect(seen.keys.contains { $0.kind == kind && $0.color == color }, "\(color) \(kind)")
                #expect(seen.keys.contains { $0.kind == kind && $0.background == color }, "\(kind) on \(color)")
            }
        }
        for color in ShapeColor.allCases {
            for background in ShapeColor.allCases where background != color {
                #expect(seen.keys.contains { $0.color == color && $0.background == background }, "\(color) on \(background)")
            }
        }
        // The held-out list is balanced: 3 per shape, 2 per colour and per background.
        for kind in ShapeKind.allCases { #expect(heldOut.filter { $0.kind == kind }.count == 3) }
        for color in ShapeColor.allCases {
            #expect(heldOut.filter { $0.color == color }.count == 2 && heldOut.filter { $0.background == color }.count == 2)
        }

        let evaluation = ShapesDataset(seed: 9, split: .heldOut)
        let evaluated = Set((0..<36).map { evaluation.scene(at: $0).combination })
        #expect(evaluated == heldOut)
    }

    // MARK: The analyser

    @Test("the analyser reads ≥ 99 % of 500 generated 64-px images right (shape, colour and background)")
    func analyserAccuracy() {
        let survey = Self.survey(ShapesDataset(seed: 2024), count: 500, side: 64)
        print("shapes analyser, 64 px: \(survey.summary)")
        // The brief's bound. Measured on this seed: 500/500 (and 5000/5000 on seed 1 at 48, 64 and 128 px
        // with DBRENDER_SHAPES_SURVEY=5000, whose measure ranges are quoted in ShapeAnalysis.swift).
        #expect(survey.accuracy >= 0.99, "\(survey.summary); failures: \(survey.failures.joined(separator: "; "))")
    }

    /// `DBRENDER_SHAPES_SURVEY=N swift test --filter ShapesTests` prints the analyser's accuracy and the
    /// range of each measure per kind over N images of each size: the evidence for the thresholds.
    @Test("survey of the analyser's measures (DBRENDER_SHAPES_SURVEY=N)", .enabled(if: Self.surveyCount != nil),
          arguments: [48, 64, 128])
    func analyserSurvey(side: Int) {
        let survey = Self.survey(ShapesDataset(seed: 1), count: Self.surveyCount ?? 0, side: side)
        print("shapes analyser, \(side) px: \(survey.summary); failures: \(survey.failures.prefix(20).joined(separator: "; "))")
        #expect(survey.accuracy >= 0.99)
    }

    static let surveyCount = ProcessInfo.processInfo.environment["DBRENDER_SHAPES_SURVEY"].flatMap { Int($0) }

    /// Analyses images 0 ..< count: the share read right, the failures, and a summary with the range of
    /// each measure per kind.
    static func survey(_ dataset: ShapesDataset, count: Int, side: Int) -> (accuracy: Double, failures: [String], summary: String) {
        var right = 0
        var failures: [String] = []
        var ranges: [ShapeKind: [ClosedRange<Double>]] = [:]
        for i in 0..<count {
            let scene = dataset.scene(at: i)
            let image = ShapeRasterizer.render(scene, side: side)
            guard let analysis = ShapeAnalysis.analyse(image) else { failures.append("\(i) \(scene.caption): no blob"); continue }
            let m = analysis.measures
            if analysis.matches(scene.combination) { right += 1 } else {
                failures.append("\(i) \(scene.caption): read \(analysis.combination?.caption ?? "unknown kind") "
                                + "(fill \(m.fillRatio), convexity \(m.convexity), contrast \(m.radiusContrast), corners \(m.corners))")
            }
            let values = [m.fillRatio, m.convexity, m.radiusContrast]
            let old = ranges[scene.combination.kind] ?? values.map { $0...$0 }
            ranges[scene.combination.kind] = zip(old, values).map { min($0.lowerBound, $1)...max($0.upperBound, $1) }
        }
        let perKind = ShapeKind.allCases.compactMap { kind in
            ranges[kind].map { r in
                String(format: "%@ fill %.3f…%.3f convexity %.3f…%.3f contrast %.3f…%.3f", kind.rawValue,
                       r[0].lowerBound, r[0].upperBound, r[1].lowerBound, r[1].upperBound, r[2].lowerBound, r[2].upperBound)
            }
        }
        let accuracy = count > 0 ? Double(right) / Double(count) : 0
        return (accuracy, failures, "\(right)/\(count) right; " + perKind.joined(separator: "; "))
    }

    @Test("the analyser also reads the held-out split and 128-px images")
    func analyserOtherSplitAndSize() {
        let dataset = ShapesDataset(seed: 77, split: .heldOut)
        var right = 0
        for i in 0..<60 {
            let scene = dataset.scene(at: i)
            if ShapeAnalysis.analyse(ShapeRasterizer.render(scene, side: 128))?.matches(scene.combination) == true { right += 1 }
        }
        #expect(right >= 59, "\(right)/60 right at 128 px")
    }

    @Test("the analyser tolerates pixel noise of ±24 (a model's output is never flat)")
    func analyserUnderNoise() {
        let dataset = ShapesDataset(seed: 31)
        var noise = SplitMix64(seed: 99)
        var right = 0
        for i in 0..<200 {
            let scene = dataset.scene(at: i)
            var image = ShapeRasterizer.render(scene, side: 64)
            for p in 0..<image.pixels.count {
                image.pixels[p] = UInt8(clamping: Int(image.pixels[p]) + noise.uniform(below: 49) - 24)
            }
            if ShapeAnalysis.analyse(image)?.matches(scene.combination) == true { right += 1 }
        }
        print("shapes analyser under ±24 noise: \(right)/200 right")
        // Measured: 200/200; the bound leaves room for a few of the smallest stars.
        #expect(right >= 194, "\(right)/200 right under noise")
    }

    @Test("wrong labels are not accepted: a square is no circle, colours are not swapped")
    func wrongLabelsRejected() throws {
        let red = ShapeCombination(.square, .red, on: .blue)
        let square = ShapeScene(red, center: SIMD2(0.5, 0.5), circumradius: 0.3, rotation: 0.3)
        let analysis = try #require(ShapeAnalysis.analyse(ShapeRasterizer.render(square, side: 64)))
        #expect(analysis.matches(red))
        #expect(analysis.kind == .square && analysis.measures.corners == 4)
        #expect(!analysis.matches(ShapeCombination(.circle, .red, on: .blue)))
        #expect(!analysis.matches(ShapeCombination(.square, .blue, on: .red)))
        #expect(!analysis.matches(ShapeCombination(.square, .yellow, on: .blue)))
        #expect(!analysis.matches(ShapeCombination(.square, .red, on: .green)))

        // Each kind is read as itself and as no other, rotated or not.
        for kind in ShapeKind.allCases {
            for rotation in [0.0, 0.2, 0.5] {
                let scene = ShapeScene(ShapeCombination(kind, .white, on: .black), center: SIMD2(0.45, 0.55), circumradius: 0.2,
                                       rotation: rotation * kind.symmetryPeriod)
                let read = ShapeAnalysis.analyse(ShapeRasterizer.render(scene, side: 64))
                #expect(read?.kind == kind, "\(kind) at \(rotation): \(String(describing: read?.measures))")
            }
        }
    }

    @Test("no clear shape, no answer: a blank image, two equal shapes, a measure that disagrees")
    func unclearImages() throws {
        #expect(ShapeAnalysis.analyse(RGBImage(width: 64, height: 64, red: 40, green: 70, blue: 220)) == nil)

        // Two equal squares side by side: the largest blob holds only half of the shape pixels.
        let left = ShapeRasterizer.render(ShapeScene(ShapeCombination(.square, .yellow, on: .black),
                                                     center: SIMD2(0.27, 0.5), circumradius: 0.2), side: 64)
        let right = ShapeRasterizer.render(ShapeScene(ShapeCombination(.square, .yellow, on: .black),
                                                      center: SIMD2(0.73, 0.5), circumradius: 0.2), side: 64)
        var both = left
        for p in 0..<both.pixels.count { both.pixels[p] = max(left.pixels[p], right.pixels[p]) }
        #expect(ShapeAnalysis.analyse(both) == nil)

        // A square's measures with a circle's corner count: the kind is unknown, not a guess.
        let square = try #require(ShapeAnalysis.analyse(left)).measures
        #expect(ShapeAnalysis.kind(of: square) == .square)
        let roundSquare = ShapeMeasures(copying: square, corners: 0)
        #expect(ShapeAnalysis.kind(of: roundSquare) == nil)
    }

    // MARK: dbtrain make-shapes

    @Test("dbtrain make-shapes writes images, captions and metadata.jsonl, and names bad arguments")
    func makeShapesBinary() throws {
        let folder = Self.scratchFolder("binary")
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = try runProcess(Fixtures.builtProduct("dbtrain"),
                                 ["make-shapes", "--out", folder.path, "--count", "5", "--seed", "3"])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("wrote 5 images"), "\(run.output)")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(names == (0..<5).flatMap { ["0000\($0).png", "0000\($0).txt"] } + ["metadata.jsonl"])

        let dataset = ShapesDataset(seed: 3)
        let lines = try String(contentsOf: folder.appendingPathComponent("metadata.jsonl"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 6 && lines.last == "")
        for (i, line) in lines.dropLast().enumerated() {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
            let expected = dataset.example(at: i, side: 64)
            #expect(object == ["file_name": "0000\(i).png", "text": expected.caption])
            #expect(try String(contentsOf: folder.appendingPathComponent("0000\(i).txt"), encoding: .utf8) == expected.caption)
            let decoded = try ImageFile.decode(contentsOf: folder.appendingPathComponent("0000\(i).png")).image
            #expect(decoded == expected.image, "image \(i)")
        }

        // An evaluation set at 128 px holds only held-out combinations.
        let evaluation = Self.scratchFolder("evaluation")
        defer { try? FileManager.default.removeItem(at: evaluation) }
        let held = try runProcess(Fixtures.builtProduct("dbtrain"),
                                  ["make-shapes", "--out", evaluation.path, "--count", "3", "--seed", "3", "--size", "128",
                                   "--include-held-out", "--partial-captions", "0"])
        #expect(held.status == 0, "\(held.output)")
        let image = try ImageFile.decode(contentsOf: evaluation.appendingPathComponent("00000.png")).image
        #expect(image.width == 128 && image.height == 128)
        let captions = try (0..<3).map { try String(contentsOf: evaluation.appendingPathComponent("0000\($0).txt"), encoding: .utf8) }
        #expect(captions.allSatisfy { ShapeCombination(caption: $0).map(ShapesDataset.heldOutCombinations.contains) == true })

        // Errors name what is wrong.
        let zero = try runProcess(Fixtures.builtProduct("dbtrain"), ["make-shapes", "--out", Self.scratchFolder("zero").path, "--count", "0"])
        #expect(zero.status != 0 && zero.output.contains("--count 0 is out of range"), "\(zero.output)")
        let tiny = try runProcess(Fixtures.builtProduct("dbtrain"),
                                  ["make-shapes", "--out", Self.scratchFolder("tiny").path, "--count", "1", "--size", "16"])
        #expect(tiny.status != 0 && tiny.output.contains("--size 16 is out of range"), "\(tiny.output)")
        let share = try runProcess(Fixtures.builtProduct("dbtrain"),
                                   ["make-shapes", "--out", Self.scratchFolder("share").path, "--count", "1", "--partial-captions", "1.5"])
        #expect(share.status != 0 && share.output.contains("--partial-captions must lie in 0…1, not 1.5"), "\(share.output)")
        let companions = try runProcess(Fixtures.builtProduct("dbtrain"),
                                        ["make-shapes", "--out", Self.scratchFolder("companions").path, "--count", "1", "--companions", "1.5"])
        #expect(companions.status != 0 && companions.output.contains("--companions must lie in 0…1, not 1.5"), "\(companions.output)")
        let again = try runProcess(Fixtures.builtProduct("dbtrain"), ["make-shapes", "--out", folder.path, "--count", "5"])
        #expect(again.status != 0 && again.output.contains("\(folder.path) is not empty"), "\(again.output)")
        let file = folder.appendingPathComponent("00000.png").path
        let notDirectory = try runProcess(Fixtures.builtProduct("dbtrain"), ["make-shapes", "--out", file, "--count", "1"])
        #expect(notDirectory.status != 0 && notDirectory.output.contains("\(file) exists and is not a directory"), "\(notDirectory.output)")
    }

    @Test("an unusable or unwritable folder is an error naming it")
    func unwritableFolder() throws {
        // A folder that cannot be created because its parent is a file (works as root too).
        let file = Self.scratchFolder("file")
        try Data("x".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let below = file.appendingPathComponent("set")
        let unusable = #expect(throws: ShapesError.self) {
            try ShapesFolder.write(ShapesDataset(seed: 1), count: 2, side: 64, to: below)
        }
        guard case let .unusableDirectory(path, _)? = unusable else { Issue.record("\(String(describing: unusable))"); return }
        #expect(path == below.path && "\(unusable!)".hasPrefix("\(below.path): cannot use the directory"), "\(unusable!)")

        // A folder without write permission (root ignores permissions; then this part cannot be tested).
        let folder = Self.scratchFolder("readonly")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer {
            try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder.path)
            try? FileManager.default.removeItem(at: folder)
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: folder.path)
        guard access(folder.path, W_OK) != 0 else { return }
        let unwritable = #expect(throws: ShapesError.self) {
            try ShapesFolder.write(ShapesDataset(seed: 1), count: 2, side: 64, to: folder)
        }
        guard case let .unwritable(io)? = unwritable else { Issue.record("\(String(describing: unwritable))"); return }
        #expect(io.file == folder.appendingPathComponent("00000.png").path && "\(io)".contains("cannot write"), "\(io)")
    }
}

extension ShapeMeasures {
    /// `measures` with another corner count: a case the analyser's own measuring never produces.
    init(copying measures: ShapeMeasures, corners: Int) {
        self.init(area: measures.area, centroid: measures.centroid, maxRadius: measures.maxRadius, fillRatio: measures.fillRatio,
                  convexity: measures.convexity, radiusContrast: measures.radiusContrast, corners: corners)
    }
}
