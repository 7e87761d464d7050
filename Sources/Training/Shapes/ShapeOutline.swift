// A shape placed in an image: its outline in pixel coordinates and the exact signed distance to it.
// The rasteriser needs the distance, not just inside/outside, to know which pixels the edge crosses
// (only those are supersampled): a pixel whose centre is farther than half its diagonal from the
// outline lies wholly on one side of it.

/// A placed outline: a disc or a simple polygon, in pixel coordinates (x right, y down, the image's
/// top-left corner at (0, 0), pixel (i, j) covering [i, i+1] × [j, j+1]).
struct ShapeOutline: Sendable {
    enum Form: Sendable {
        case disc(center: SIMD2<Double>, radius: Double)
        /// Vertices in order around the outline (either orientation); the polygon must not cross itself.
        case polygon([SIMD2<Double>])
    }

    let form: Form

    /// True when `point` lies inside the shape (even–odd rule for polygons, which for a simple polygon is
    /// the ordinary interior).
    func contains(_ point: SIMD2<Double>) -> Bool {
        switch form {
        case let .disc(center, radius):
            let d = point - center
            return (d * d).sum() <= radius * radius
        case let .polygon(vertices):
            var inside = false
            var j = vertices.count - 1
            for i in vertices.indices {
                let a = vertices[i], b = vertices[j]
                if (a.y > point.y) != (b.y > point.y) {
                    let crossingX = a.x + (point.y - a.y) / (b.y - a.y) * (b.x - a.x)
                    if point.x < crossingX { inside.toggle() }
                }
                j = i
            }
            return inside
        }
    }

    /// Euclidean distance from `point` to the outline, negative inside.
    func signedDistance(_ point: SIMD2<Double>) -> Double {
        switch form {
        case let .disc(center, radius):
            let d = point - center
            return (d * d).sum().squareRoot() - radius
        case let .polygon(vertices):
            var nearest = Double.infinity
            var j = vertices.count - 1
            for i in vertices.indices {
                nearest = min(nearest, Self.squaredDistance(point, segmentFrom: vertices[j], to: vertices[i]))
                j = i
            }
            let distance = nearest.squareRoot()
            return contains(point) ? -distance : distance
        }
    }

    private static func squaredDistance(_ p: SIMD2<Double>, segmentFrom a: SIMD2<Double>, to b: SIMD2<Double>) -> Double {
        let ab = b - a, ap = p - a
        let length2 = (ab * ab).sum()
        let t = length2 > 0 ? min(max((ap * ab).sum() / length2, 0), 1) : 0
        let d = ap - t * ab
        return (d * d).sum()
    }
}
