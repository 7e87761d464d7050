// One shapes-world picture, independent of its pixel size: what is drawn (the combination, hence the
// caption) and where (centre, size, rotation as fractions of the image side). Rendering the same scene
// at 64 and at 128 pixels gives the same picture at two resolutions.
//
// Layout rules, drawn uniformly from the ranges:
//   • size: the circumscribed circle's diameter is 50–80 % of the image side. Large on purpose: the
//     4× VAE leaves a 64-px image 16 × 16 latents, and a shape must span enough of them for its corners
//     to be drawn, not guessed (at 35–70 % the smallest star spanned 5.6 latents, and a model trained for
//     10 000 steps drew rounded squares and three-armed triangles; see models/shapes/README.md);
//   • position: the circumscribed circle lies inside the image with a margin of 3 % of the side, so the
//     one-pixel border is pure background at every size ≥ 48 px (the analyser reads it);
//   • rotation: uniform over the kind's symmetry period (all rotations look alike modulo it); none for
//     circles.
import Foundation

/// A shape placed on a background, in coordinates relative to the image side.
public struct ShapeScene: Sendable, Equatable {
    /// What is drawn.
    public let combination: ShapeCombination
    /// Centre of the shape (of its circumscribed circle), as fractions of the side from the top-left corner.
    public let center: SIMD2<Double>
    /// Radius of the circumscribed circle, as a fraction of the side.
    public let circumradius: Double
    /// Clockwise rotation on screen in radians, in `0 ..< kind.symmetryPeriod` (0 for circles).
    public let rotation: Double

    /// Range of the circumscribed circle's diameter, as a fraction of the image side.
    public static let diameterRange = 0.50...0.80
    /// Empty border between the circumscribed circle and the image edge, as a fraction of the side.
    public static let margin = 0.03

    /// The caption of the scene: "a <colour> <shape> on a <colour> background".
    public var caption: String { combination.caption }

    /// A scene; the circumscribed circle must fit inside the image (a programmer error otherwise).
    public init(_ combination: ShapeCombination, center: SIMD2<Double>, circumradius: Double, rotation: Double = 0) {
        precondition(circumradius > 0 && center.x - circumradius >= 0 && center.x + circumradius <= 1
                     && center.y - circumradius >= 0 && center.y + circumradius <= 1,
                     "shape of radius \(circumradius) at \(center) leaves the image")
        self.combination = combination
        self.center = center
        self.circumradius = circumradius
        self.rotation = combination.kind == .circle ? 0 : rotation
    }

    /// A random layout of `combination`; the draws come from `generator` in a fixed order (size,
    /// x, y, rotation), so a seeded generator gives the same scene on every machine.
    public static func random(_ combination: ShapeCombination, using generator: inout SplitMix64) -> ShapeScene {
        let diameter = diameterRange.lowerBound
            + (diameterRange.upperBound - diameterRange.lowerBound) * generator.unitInterval()
        let radius = diameter / 2
        let low = radius + margin, span = 1 - 2 * low
        let x = low + span * generator.unitInterval()
        let y = low + span * generator.unitInterval()
        let rotation = combination.kind.symmetryPeriod * generator.unitInterval()
        return ShapeScene(combination, center: SIMD2(x, y), circumradius: radius, rotation: rotation)
    }

    /// The same layout (centre, size, rotation) drawing `combination` instead: the same star in other
    /// colours, say.
    public func with(_ combination: ShapeCombination) -> ShapeScene {
        ShapeScene(combination, center: center, circumradius: circumradius, rotation: rotation)
    }

    /// The outline in pixel coordinates of a `side` × `side` image.
    func outline(side: Int) -> ShapeOutline {
        let scale = Double(side)
        let center = self.center * scale
        let radius = circumradius * scale
        guard let unit = combination.kind.unitVertices() else {
            return ShapeOutline(form: .disc(center: center, radius: radius))
        }
        let c = cos(rotation), s = sin(rotation)
        return ShapeOutline(form: .polygon(unit.map { v in
            center + radius * SIMD2(c * v.x - s * v.y, s * v.x + c * v.y)
        }))
    }
}
