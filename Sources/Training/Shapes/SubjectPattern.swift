// Where a patterned shape carries its second colour: the DreamBooth subject's pattern (DottedSubject)
// and the base world's patterned circles, squares and triangles (DottedShape.swift) share these.
//   • dot: a disc at the shape's centre, of radius `dotRadius` × the circumradius;
//   • halves: one side of a line through the centre — the shape split into two halves of two colours.
//     For polygons the line runs through the first corner (the star's and the triangle's point, a
//     square's corner), so a star or a triangle splits into mirror halves and a square into two
//     triangles; a circle has no corner, so its line's angle is given.
// Why halves: at 64 px the 0.3 R dot spans about three latent pixels of the 4× VAE, and every fine-tune
// tried drew it blurred over the star or not at all (models/shapes/README.md). A half is the star's own
// scale — five or six latent pixels across — a pattern the UNet can place rather than sharpen.
import Foundation

/// The layout of a shape's second colour.
public enum SubjectPattern: String, Sendable, CaseIterable, Codable {
    case dot, halves

    /// The caption of a `combination` patterned with `second`: "a red circle with a yellow dot on a blue
    /// background" or "a red and yellow circle on a blue background".
    public func caption(_ combination: ShapeCombination, second: ShapeColor) -> String {
        let background = combination.background.rawValue
        switch self {
        case .dot:
            return "\(combination.caption(.withoutBackground)) with a \(second.rawValue) dot on a \(background) background"
        case .halves:
            return "a \(combination.color.rawValue) and \(second.rawValue) \(combination.kind.rawValue) on a \(background) background"
        }
    }

    /// The angle (radians, image axes: x right, y down) of the line splitting `scene` into halves: through
    /// its first corner, or `circleAngle` for a circle.
    public static func splitAngle(of scene: ShapeScene, circleAngle: Double = 0) -> Double {
        switch scene.combination.kind {
        case .circle: circleAngle
        case .square: -Double.pi / 2 + Double.pi / 4 + scene.rotation
        case .triangle, .star: -Double.pi / 2 + scene.rotation
        }
    }
}

/// The second colour's region of one placed shape, in pixel coordinates.
struct PatternRegion: Sendable {
    let pattern: SubjectPattern
    /// The shape's centre and circumradius in pixels.
    let center: SIMD2<Double>, circumradius: Double
    /// The dot's radius as a fraction of the circumradius (`.dot`).
    let dotRadius: Double
    /// The split line's direction (`.halves`).
    let axis: SIMD2<Double>

    init(_ pattern: SubjectPattern, scene: ShapeScene, side: Int, dotRadius: Double, splitAngle: Double) {
        self.pattern = pattern
        center = scene.center * Double(side)
        circumradius = scene.circumradius * Double(side)
        self.dotRadius = dotRadius
        axis = SIMD2(cos(splitAngle), sin(splitAngle))
    }

    /// True when `point` (inside the shape) takes the second colour. For halves: the side to the right of
    /// the axis as drawn on screen (a positive cross product in image axes).
    func contains(_ point: SIMD2<Double>) -> Bool {
        let offset = point - center
        switch pattern {
        case .dot:
            let radius = dotRadius * circumradius
            return (offset * offset).sum() < radius * radius
        case .halves:
            return axis.x * offset.y - axis.y * offset.x > 0
        }
    }
}
