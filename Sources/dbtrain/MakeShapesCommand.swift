// `dbtrain make-shapes`: a shapes-world data set, or the patterned star's DreamBooth instance images.
import ArgumentParser
import Foundation
import Training

/// `dbtrain make-shapes --out DIR --count N --seed S [--size 64] [--partial-captions 0.2] [--include-held-out]`
struct MakeShapes: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make-shapes",
        abstract: "Write a shapes-world data set: anti-aliased shapes with captions, in imagefolder layout.",
        discussion: """
            Writes DIR/00000.png …, a caption beside each (00000.txt: "a red circle on a blue background") \
            and DIR/metadata.jsonl ({"file_name", "text"} per image, as diffusers' train_text_to_image.py \
            reads it). A share of captions (--partial-captions) names less: "a red circle", "a circle on a \
            blue background", "a circle". Image i depends only on the seed and i. The training set never shows the \
            \(ShapesDataset.heldOutCombinations.count) held-out combinations; --include-held-out writes an \
            evaluation set of only those.
            """)

    @Option(help: "Folder to write (created if missing; must be empty).")
    var out: String

    @Option(help: "Number of images.")
    var count: Int

    @Option(help: "Random seed: the same seed writes the same images.")
    var seed: UInt64 = 0

    @Option(help: "Image side in pixels (\(ShapesFolder.sizeRange.lowerBound)–\(ShapesFolder.sizeRange.upperBound)).")
    var size: Int = 64

    @Option(help: "Share of captions that name only some of the scene (0–1).")
    var partialCaptions: Double = ShapesDataset.defaultPartialCaptionShare

    @Option(help: "Share of images (0–1) that hold a companion: a second, smaller shape of a third colour, drawn over the scene.")
    var companions: Double = 0

    @Option(help: "Share of circles, squares and triangles without a companion (0–1) that get the pattern (--pattern) in a third colour (never stars: the DreamBooth subject is a patterned star).")
    var dotted: Double = 0

    @Option(help: "The pattern of --dotted shapes and of the --subject star: dot (a dot in the middle) or halves (one half in the second colour).")
    var pattern: SubjectPattern = .dot

    @Option(help: "Radius of the dots (--dotted, --subject) as a fraction of the shape's circumradius (0.1–0.6).")
    var dotRadius: Double = DottedSubject.dotRadius

    @Flag(help: "Write only the held-out combinations (an evaluation set) instead of the training ones.")
    var includeHeldOut = false

    @Flag(help: "Write DreamBooth instance images of the patterned star (DottedSubject, --pattern) instead: PNGs only, no captions.")
    var subject = false

    @Option(help: "The one background of the --subject images: green, blue, white or black (not the subject's yellow or red).")
    var instanceBackground: ShapeColor = DottedSubject.instanceBackground

    @Flag(help: "Draw every --subject star the right way up (first point straight up, so the halves split left from right) instead of turned at random.")
    var upright = false

    func run() throws {
        let start = Date()
        let url = URL(fileURLWithPath: out)
        guard (0.1...0.6).contains(dotRadius) else {
            throw ValidationError("--dot-radius must lie in 0.1…0.6, not \(dotRadius)")
        }
        if subject {
            try CommandFailure.reporting("dbtrain make-shapes") {
                try DottedSubject.writeInstanceImages(count: count, seed: seed, side: size, pattern: pattern, dotRadius: dotRadius,
                                                   background: instanceBackground, upright: upright, to: url)
            }
            print("wrote \(count) instance images of the \(upright ? "upright " : "")star (pattern: \(pattern.rawValue), on \(instanceBackground.rawValue)), " +
                  "\(size)x\(size), to \(url.path) (seed \(seed))")
            return
        }
        guard (0...1).contains(partialCaptions) else {
            throw ValidationError("--partial-captions must lie in 0…1, not \(partialCaptions)")
        }
        guard (0...1).contains(companions) else {
            throw ValidationError("--companions must lie in 0…1, not \(companions)")
        }
        guard (0...1).contains(dotted) else {
            throw ValidationError("--dotted must lie in 0…1, not \(dotted)")
        }
        let dataset = ShapesDataset(seed: seed, split: includeHeldOut ? .heldOut : .training, partialCaptionShare: partialCaptions,
                                    companionShare: companions, dottedShare: dotted, pattern: pattern, dotRadius: dotRadius)
        try CommandFailure.reporting("dbtrain make-shapes") {
            try ShapesFolder.write(dataset, count: count, side: size, to: url)
        }
        print("wrote \(count) images of \(size)x\(size) to \(url.path): \(dataset.split.rawValue) split, " +
              "\(dataset.combinations.count) combinations, seed \(seed), in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
    }
}

extension SubjectPattern: ExpressibleByArgument {}
extension ShapeColor: ExpressibleByArgument {}
