// Draws a shapes-world scene as an anti-aliased RGB image. Each pixel takes the fraction of its square
// that the shape covers (a box filter — what an ideal sensor pixel integrates), estimated with 16 × 16
// stratified samples, so edges get 257 coverage levels, finer than 8-bit output can show. Only pixels
// the outline crosses are sampled: a pixel whose centre is more than half its diagonal from the outline
// (exact distance) is wholly inside or outside and gets the pure colour. The mix is made in linear light
// (see LinearLight.swift). A scene is its background with its shape drawn over it; a companion shape
// (ShapesDataset) is drawn over that picture the same way.
import ImageIO

/// Renders `ShapeScene`s.
public enum ShapeRasterizer {
    /// Samples per pixel along each axis (16 × 16 = 256 per edge pixel).
    public static let samplesPerAxis = 16

    /// The scene as a `side` × `side` image (side ≥ 1).
    public static func render(_ scene: ShapeScene, side: Int) -> RGBImage {
        precondition(side >= 1, "image side \(side)")
        let background = scene.combination.background.rgb
        var image = RGBImage(width: side, height: side, red: background.red, green: background.green, blue: background.blue)
        draw(scene, over: &image)
        return image
    }

    /// Draws `scene`'s shape, in its shape colour, over `image` (square, the scene's side); the
    /// scene's background colour is not used: what lies under the shape's edge shows through.
    public static func draw(_ scene: ShapeScene, over image: inout RGBImage) {
        precondition(image.width == image.height, "shapes are drawn on square images, not \(image.width)×\(image.height)")
        let side = image.width
        let outline = scene.outline(side: side)
        let shape = scene.combination.color.rgb
        let shapeLinear = SIMD3(LinearLight.linear(shape.red), LinearLight.linear(shape.green), LinearLight.linear(shape.blue))
        let n = samplesPerAxis
        // Slightly more than √2/2: the pixel centre's distance to its farthest corner, plus rounding slack.
        let halfDiagonal = 0.7072

        for y in 0..<side {
            for x in 0..<side {
                let centre = SIMD2(Double(x) + 0.5, Double(y) + 0.5)
                let distance = outline.signedDistance(centre)
                let i = (y * side + x) * 3
                if distance >= halfDiagonal { continue }
                if distance <= -halfDiagonal {
                    image.pixels[i] = shape.red; image.pixels[i + 1] = shape.green; image.pixels[i + 2] = shape.blue
                    continue
                }
                var covered = 0
                for sy in 0..<n {
                    for sx in 0..<n {
                        let p = SIMD2(Double(x) + (Double(sx) + 0.5) / Double(n), Double(y) + (Double(sy) + 0.5) / Double(n))
                        if outline.contains(p) { covered += 1 }
                    }
                }
                let coverage = Double(covered) / Double(n * n)
                let under = SIMD3(LinearLight.linear(image.pixels[i]), LinearLight.linear(image.pixels[i + 1]),
                                  LinearLight.linear(image.pixels[i + 2]))
                let mixed = under + coverage * (shapeLinear - under)
                image.pixels[i] = LinearLight.srgb8(mixed.x)
                image.pixels[i + 1] = LinearLight.srgb8(mixed.y)
                image.pixels[i + 2] = LinearLight.srgb8(mixed.z)
            }
        }
    }
}
