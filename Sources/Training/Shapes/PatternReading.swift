// Does a render show the DreamBooth subject's pattern (StripedSubject: a yellow star with black
// stripes)? Read from pixels only, like ShapeAnalysis:
//  1. background: the palette colour nearest to the border's median;
//  2. the figure: the largest 8-connected group of pixels more than 60 from the measured background
//     (ShapeAnalysis's threshold) — black stripes and yellow body alike;
//  3. each figure pixel within 80 of a palette colour (clearly one colour, not an anti-aliased mix)
//     is named by it; the body and stripe shares are the shares of those named pixels.
// The pattern is shown when both the body colour and the stripe colour hold at least 15 % of the
// figure: a flat star of either colour has one of them near 0 % (the instance images have 55–65 %
// yellow, 35–45 % black), while a model's stray dark smudge stays well under 15 %.
import ImageIO

/// What a render shows of the striped subject.
public struct PatternReading: Sendable, Equatable {
    /// The palette colour nearest to the border's median.
    public let background: ShapeColor
    /// Share of the figure's named pixels in the subject's body colour.
    public let bodyShare: Double
    /// Share of the figure's named pixels in the stripe colour.
    public let stripeShare: Double

    /// The least share each of the two colours must hold for the pattern to count as shown.
    public static let minimumShare = 0.15
    /// The largest distance to a palette colour at which a pixel is named by it.
    public static let namingDistance = 80.0

    /// True when the figure is both body-coloured and striped.
    public var showsPattern: Bool { bodyShare >= Self.minimumShare && stripeShare >= Self.minimumShare }

    /// Reads `image`; nil when nothing stands out from the background.
    public static func read(_ image: RGBImage, body: ShapeColor = StripedSubject.bodyColor,
                            stripe: ShapeColor = StripedSubject.stripeColor) -> PatternReading? {
        let width = image.width, height = image.height, count = width * height
        let pixels = image.pixels
        func rgb(_ p: Int) -> SIMD3<Double> { SIMD3(Double(pixels[3 * p]), Double(pixels[3 * p + 1]), Double(pixels[3 * p + 2])) }
        let backgroundRGB = ShapeAnalysis.borderMedian(of: image)
        let background = ShapeColor.nearest(red: backgroundRGB.x, green: backgroundRGB.y, blue: backgroundRGB.z).color
        let threshold2 = ShapeAnalysis.shapeThreshold * ShapeAnalysis.shapeThreshold
        let far = (0..<count).map { p -> Bool in
            let d = rgb(p) - backgroundRGB
            return (d * d).sum() > threshold2
        }
        guard let figure = ShapeAnalysis.largestComponent(far, width: width, height: height) else { return nil }
        var named = 0, bodyCount = 0, stripeCount = 0
        for p in figure {
            let v = rgb(p)
            let (color, distance) = ShapeColor.nearest(red: v.x, green: v.y, blue: v.z)
            guard distance <= namingDistance else { continue }
            named += 1
            if color == body { bodyCount += 1 }
            if color == stripe { stripeCount += 1 }
        }
        guard named > 0 else { return nil }
        return PatternReading(background: background, bodyShare: Double(bodyCount) / Double(named),
                              stripeShare: Double(stripeCount) / Double(named))
    }
}
