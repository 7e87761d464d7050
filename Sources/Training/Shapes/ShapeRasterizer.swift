// Draws a shapes-world scene as an anti-aliased RGB image. Each pixel takes the fraction of its square
// that the shape covers (a box filter — what an ideal sensor pixel integrates), estimated with 16 × 16
// stratified samples, so edges get 257 coverage levels, finer than 8-bit output can show. Only pixels
// the outline crosses are sampled: a pixel whose centre is more than half its diagonal from the outline
// (exact distance) is wholly inside or outside and gets the pure palette colour. The mix is made in
// linear light (see LinearLight.swift).
import ImageIO

/// Renders `ShapeScene`s.
public enum ShapeRasterizer {
    /// Samples per pixel along each axis (16 × 16 = 256 per edge pixel).
    public static let samplesPerAxis = 16

    /// The scene as a `side` × `side` image (side ≥ 1).
    public static func render(_ scene: ShapeScene, side: Int) -> RGBImage {
        precondition(side >= 1, "image side \(side)")
        let outline = scene.outline(side: side)
        let shape = scene.combination.color.rgb, background = scene.combination.background.rgb
        let shapeLinear = SIMD3(LinearLight.linear(shape.red), LinearLight.linear(shape.green), LinearLight.linear(shape.blue))
        let backgroundLinear = SIMD3(LinearLight.linear(background.red), LinearLight.linear(background.green),
                                     LinearLight.linear(background.blue))
        let n = samplesPerAxis
        // Slightly more than √2/2: the pixel centre's distance to its farthest corner, plus rounding slack.
        let halfDiagonal = 0.7072

        var pixels = [UInt8](repeating: 0, count: side * side * 3)
        for y in 0..<side {
            for x in 0..<side {
                let centre = SIMD2(Double(x) + 0.5, Double(y) + 0.5)
                let distance = outline.signedDistance(centre)
                let rgb: (UInt8, UInt8, UInt8)
                if distance <= -halfDiagonal {
                    rgb = shape
                } else if distance >= halfDiagonal {
                    rgb = background
                } else {
                    var covered = 0
                    for sy in 0..<n {
                        for sx in 0..<n {
                            let p = SIMD2(Double(x) + (Double(sx) + 0.5) / Double(n), Double(y) + (Double(sy) + 0.5) / Double(n))
                            if outline.contains(p) { covered += 1 }
                        }
                    }
                    let coverage = Double(covered) / Double(n * n)
                    let mixed = backgroundLinear + coverage * (shapeLinear - backgroundLinear)
                    rgb = (LinearLight.srgb8(mixed.x), LinearLight.srgb8(mixed.y), LinearLight.srgb8(mixed.z))
                }
                let i = (y * side + x) * 3
                pixels[i] = rgb.0; pixels[i + 1] = rgb.1; pixels[i + 2] = rgb.2
            }
        }
        return RGBImage(width: side, height: side, pixels: pixels)
    }
}
