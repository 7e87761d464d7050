// The six colours of the shapes world, used both for the shape and for the background. The values are
// "pure-ish" (not the sRGB extremes, so that a VAE round trip or a model's slight drift cannot clip them)
// and well separated: the closest pair, green and black, is 166 apart in 8-bit RGB (Euclidean), and
// every other pair more than 170, so the analyser can tell them apart by the nearest colour even after
// lossy compression or a model that renders a colour 60 off.

/// A palette colour of the shapes world.
public enum ShapeColor: String, CaseIterable, Sendable, Codable, Hashable {
    case red, green, blue, yellow, white, black

    /// The 8-bit sRGB value drawn for this colour.
    ///
    /// | colour | R | G | B |
    /// |---|---|---|---|
    /// | red | 220 | 40 | 40 |
    /// | green | 40 | 180 | 60 |
    /// | blue | 40 | 70 | 220 |
    /// | yellow | 240 | 210 | 40 |
    /// | white | 245 | 245 | 245 |
    /// | black | 20 | 20 | 20 |
    public var rgb: (red: UInt8, green: UInt8, blue: UInt8) {
        switch self {
        case .red: (220, 40, 40)
        case .green: (40, 180, 60)
        case .blue: (40, 70, 220)
        case .yellow: (240, 210, 40)
        case .white: (245, 245, 245)
        case .black: (20, 20, 20)
        }
    }

    /// Squared Euclidean distance in 8-bit sRGB from this colour to `(red, green, blue)`.
    public func squaredDistance(toRed red: Double, green: Double, blue: Double) -> Double {
        let (r, g, b) = rgb
        let dr = Double(r) - red, dg = Double(g) - green, db = Double(b) - blue
        return dr * dr + dg * dg + db * db
    }

    /// The palette colour nearest to an 8-bit sRGB value, and its Euclidean distance.
    public static func nearest(red: Double, green: Double, blue: Double) -> (color: ShapeColor, distance: Double) {
        var best = ShapeColor.red
        var bestDistance = Double.infinity
        for color in allCases {
            let d = color.squaredDistance(toRed: red, green: green, blue: blue)
            if d < bestDistance { best = color; bestDistance = d }
        }
        return (best, bestDistance.squareRoot())
    }
}
