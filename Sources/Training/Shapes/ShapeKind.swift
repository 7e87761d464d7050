// The kinds of shape in the shapes world and their outlines in a unit frame (circumradius 1, centred on
// the origin, image axes: x right, y down). Polygons are regular so that their rotation-invariant
// measures (the analyser's fill ratio, convexity, corner count) take one known value per kind:
//
//   kind      area / circumscribed disc   area / convex hull   corners
//   circle    1                           1                    0
//   square    2/π ≈ 0.637                 1                    4
//   triangle  3√3/(4π) ≈ 0.413            1                    3
//   star      ≈ 0.357                     ≈ 0.472              5
import Foundation

/// A shape of the shapes world.
public enum ShapeKind: String, CaseIterable, Sendable, Codable, Hashable {
    case circle, square, triangle, star

    /// The inner radius of the star relative to its outer radius: (3 − √5)/2, the regular pentagram
    /// {5/2}, whose edges are collinear in pairs — the star everyone draws.
    public static let starInnerRatio = (3 - 5.0.squareRoot()) / 2

    /// Corners (outer vertices) of the outline; 0 for the circle.
    public var corners: Int {
        switch self {
        case .circle: 0
        case .square: 4
        case .triangle: 3
        case .star: 5
        }
    }

    /// The angle after which the shape looks the same again (2π/corners); a circle has no preferred
    /// angle and is never rotated.
    public var symmetryPeriod: Double { corners == 0 ? 0 : 2 * Double.pi / Double(corners) }

    /// The polygon's vertices for circumradius 1 and rotation 0, in order around the outline (nil for the
    /// circle). At rotation 0 the triangle and the star point up and the square is axis-aligned.
    func unitVertices() -> [SIMD2<Double>]? {
        let up = -Double.pi / 2  // y grows downwards in an image
        switch self {
        case .circle:
            return nil
        case .square, .triangle:
            // The square's first corner sits 45° right of "up", giving horizontal and vertical sides.
            let start = self == .square ? up + .pi / 4 : up
            return (0..<corners).map { k in
                let angle = start + Double(k) * symmetryPeriod
                return SIMD2(cos(angle), sin(angle))
            }
        case .star:
            return (0..<10).map { k in
                let angle = up + Double(k) * Double.pi / 5
                let radius = k % 2 == 0 ? 1 : Self.starInnerRatio
                return SIMD2(radius * cos(angle), radius * sin(angle))
            }
        }
    }
}
