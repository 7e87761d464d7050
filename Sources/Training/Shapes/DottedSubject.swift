// The DreamBooth subject of the shapes-world demo (models/shapes-sks): a yellow star with a red dot
// in its middle (or, `pattern: .halves`, a star split into a yellow and a red half), on one plain
// background (blue unless the caller picks another, `background:`), turned at random or upright — a thing
// the base data never shows (no star there carries a second colour), so that a model that renders the
// pattern on "a sks star" has learnt it from the four instance images alone.
//
// Layout: the star is large (circumscribed diameter 60–70 % of the side) so that the dot, of radius
// 0.3 × the circumradius (6–7 px at 64 px), spans about three latent pixels of the 4× VAE. The dot
// fits inside the star's inner pentagon (inscribed radius 0.31 × the circumradius), so the star's
// whole outline stays in its body colour and the base model's star is still there to build on; the
// dot is about a quarter of the star. Earlier subjects, in the model card's trials: black stripes
// across the star filled its points, and fine-tunes drew striped patches without the star's outline;
// a black dot on blue was drawn as a hole in the background's colour, as a red one still mostly is.
// The red dot is kept for the colour it adds: it is neither the body's nor, on the evaluation's
// backgrounds (SubjectEvaluation), the background's, so a hole can never pass for it. Pixels
// are integrated like the base renderer's (stratified samples, mixed in linear light), every pixel
// sampled, since the dot's edge crosses the interior too.
import Foundation
import ImageIO

/// The dotted star and how its instance images are drawn.
public enum DottedSubject {
    /// The star's colour.
    public static let bodyColor = ShapeColor.yellow
    /// The dot's colour.
    public static let dotColor = ShapeColor.red
    /// The one background of the instance images unless a caller picks another (`make-shapes --subject
    /// --instance-background`).
    public static let instanceBackground = ShapeColor.blue
    /// The backgrounds instance images may have: every colour but the subject's own two, so that the
    /// figure always stands out from its ground.
    public static let instanceBackgrounds = ShapeColor.allCases.filter { ![bodyColor, dotColor].contains($0) }
    /// The dot's radius as a fraction of the circumradius, unless a caller asks for another
    /// (`make-shapes --dot-radius`, for trials of larger dots).
    public static let dotRadius = 0.3
    /// Range of the circumscribed circle's diameter, as a fraction of the image side.
    public static let diameterRange = 0.60...0.70

    /// The scene of instance image `index` for `seed`, on `background`: size, position and rotation drawn
    /// from SplitMix64(seed, 0x5B, index), in that order (the same layouts on every background). `upright`
    /// keeps every star's first point straight up — the halves then always split left from right, as a
    /// real subject photographed the right way up shows the same side — with the same sizes and places.
    public static func scene(at index: Int, seed: UInt64, background: ShapeColor = instanceBackground,
                             upright: Bool = false) -> ShapeScene {
        precondition(instanceBackgrounds.contains(background), "instance background \(background) is one of the subject's colours")
        var generator = SplitMix64(seed: seed, 0x5B, index)
        let diameter = diameterRange.lowerBound + (diameterRange.upperBound - diameterRange.lowerBound) * generator.unitInterval()
        let radius = diameter / 2
        let low = radius + ShapeScene.margin, span = 1 - 2 * low
        let center = SIMD2(low + span * generator.unitInterval(), low + span * generator.unitInterval())
        // Drawn either way, so that an upright layout keeps the turned one's size and place.
        let randomRotation = ShapeKind.star.symmetryPeriod * generator.unitInterval()
        let rotation = upright ? 0 : randomRotation
        return ShapeScene(ShapeCombination(.star, bodyColor, on: background), center: center,
                          circumradius: radius, rotation: rotation)
    }

    /// `scene` drawn with its pattern at `side` × `side` pixels: the body in the scene's shape colour, the
    /// pattern (a dot of radius `dotRadius` × the circumradius, or the half right of the split line at
    /// `splitAngle`, SubjectPattern.swift) in `dot` (the subject's by default; others make the wrong
    /// patterns the evaluation must tell apart).
    public static func render(_ scene: ShapeScene, pattern: SubjectPattern = .dot, dot dotColor: ShapeColor = dotColor,
                              dotRadius: Double = dotRadius, splitAngle: Double? = nil,
                              side: Int, samplesPerAxis n: Int = 8) -> RGBImage {
        precondition(side >= 1, "image side \(side)")
        let outline = scene.outline(side: side)
        func linear(_ color: ShapeColor) -> SIMD3<Double> {
            let c = color.rgb
            return SIMD3(LinearLight.linear(c.red), LinearLight.linear(c.green), LinearLight.linear(c.blue))
        }
        let body = linear(scene.combination.color), dot = linear(dotColor), background = linear(scene.combination.background)
        let region = PatternRegion(pattern, scene: scene, side: side, dotRadius: dotRadius,
                                   splitAngle: splitAngle ?? SubjectPattern.splitAngle(of: scene))
        var pixels = [UInt8](repeating: 0, count: side * side * 3)
        for y in 0..<side {
            for x in 0..<side {
                var sum = SIMD3<Double>(repeating: 0)
                for sy in 0..<n {
                    for sx in 0..<n {
                        let p = SIMD2(Double(x) + (Double(sx) + 0.5) / Double(n), Double(y) + (Double(sy) + 0.5) / Double(n))
                        guard outline.contains(p) else { sum += background; continue }
                        sum += region.contains(p) ? dot : body
                    }
                }
                let mixed = sum / Double(n * n)
                let i = (y * side + x) * 3
                pixels[i] = LinearLight.srgb8(mixed.x); pixels[i + 1] = LinearLight.srgb8(mixed.y); pixels[i + 2] = LinearLight.srgb8(mixed.z)
            }
        }
        return RGBImage(width: side, height: side, pixels: pixels)
    }

    /// Writes instance images 0 ..< `count` on `background`, `upright` or turned at random (PNG only:
    /// DreamBooth's instance folder has no captions) into `directory`, which must be empty or missing.
    public static func writeInstanceImages(count: Int, seed: UInt64, side: Int, pattern: SubjectPattern = .dot,
                                           dotRadius: Double = dotRadius, background: ShapeColor = instanceBackground,
                                           upright: Bool = false, to directory: URL) throws(ShapesError) {
        guard ShapesFolder.countRange.contains(count) else { throw .invalidCount(count, allowed: ShapesFolder.countRange) }
        guard instanceBackgrounds.contains(background) else { throw .invalidInstanceBackground(background, allowed: instanceBackgrounds) }
        guard ShapesFolder.sizeRange.contains(side) else { throw .invalidSize(side, allowed: ShapesFolder.sizeRange) }
        try ShapesFolder.prepare(directory)
        for index in 0..<count {
            let image = render(scene(at: index, seed: seed, background: background, upright: upright), pattern: pattern,
                               dotRadius: dotRadius, side: side)
            do {
                try ImageFile.write(image, to: directory.appendingPathComponent(ShapesFolder.baseName(index: index, count: count) + ".png"),
                                    format: .png)
            } catch {
                throw .unwritable(error)
            }
        }
    }
}
