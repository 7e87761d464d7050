// Does a render show the DreamBooth subject (DottedSubject: a yellow star with a red dot in its
// middle), or any dot at all? Read from pixels only, like ShapeAnalysis:
//  1. background: the palette colour nearest to the border's median;
//  2. the figure: the largest 8-connected group of pixels more than 60 from the measured background
//     (ShapeAnalysis's threshold), plus the holes it encloses (pixels not reachable from the border
//     without crossing it) — a dot drawn in the background's colour is a hole;
//  3. centre and size: the centroid of figure and holes, and R, the largest distance from it to one of
//     their pixels;
//  4. the core: the mean colour of every pixel within 0.2 R of the centroid; the body: the per-channel
//     median of the figure's pixels at 0.45 R or more (the star's points and the ring around the dot).
// A dot is shown when the core is more than 100 away from the body (8-bit RGB, Euclidean): the
// instance images measure about 170 (red against yellow), while flat shapes — the base data, and the base model's renders
// of every caption, anti-aliased or blurred — stay under 85. The subject is shown when, besides, the
// body is nearest to yellow and the core is within 80 of red.
//
// The halves pattern (a star split into a yellow and a red half, SubjectPattern) is read from the same
// figure by its tones: every figure pixel within `namingDistance` of a palette colour other than the
// background's is named that colour (the rest — edges, blends — stay unnamed). The two most named
// colours are the first and second tones; their centroids' distance, in units of R, is the tones'
// separation. Halves are shown when the second tone covers at least a fifth of the figure and the two
// tones lie apart (separation ≥ 0.25): the instance images measure about 0.4–0.5 of each, while a dot
// of the second colour sits on the first tone's centroid (separation near 0) and flat shapes name one
// colour. The subject is shown when the two tones are yellow and red, in either order.
//
// The two questions are asked separately on purpose: subject fidelity counts only the subject's own
// colours, while prior preservation counts every dot as a leak, whatever its colour: a fine-tune that
// draws a dark-green or background-coloured dot into plain stars has drifted just as much.
import ImageIO

/// What a render shows of the dotted subject.
public struct PatternReading: Sendable, Equatable {
    /// The palette colour nearest to the border's median.
    public let background: ShapeColor
    /// The mean colour near the figure's centre, 8-bit RGB.
    public let core: SIMD3<Double>
    /// The median colour of the figure away from its centre, 8-bit RGB.
    public let body: SIMD3<Double>
    /// The two most named colours of the figure, most first (nil when none / only one is named), with the
    /// share of the figure's pixels each covers.
    public var firstTone: ShapeColor? = nil, secondTone: ShapeColor? = nil
    public var firstToneShare = 0.0, secondToneShare = 0.0
    /// Distance between the two tones' centroids, in units of R (0 with fewer than two tones).
    public var toneSeparation = 0.0

    /// Radius of the core as a fraction of R (the subject's dot is 0.3 R).
    public static let coreRadius = 0.2
    /// Where the body begins, as a fraction of R.
    public static let bodyRadius = 0.45
    /// The least core-to-body distance that counts as a dot.
    public static let dotContrast = 100.0
    /// The largest distance from the core to the dot colour for the subject's dot, and from a pixel to
    /// the palette colour it is named.
    public static let namingDistance = 80.0
    /// The least share of the figure the second tone must cover for halves.
    public static let halvesShare = 0.2
    /// The least separation of the tones' centroids, in units of R, for halves.
    public static let halvesSeparation = 0.25

    /// Distance between core and body colours.
    public var contrast: Double { let d = core - body; return (d * d).sum().squareRoot() }
    /// True when the centre differs from the body: a dot (or hole) of any colour.
    public var showsDot: Bool { contrast > Self.dotContrast }
    /// True when the render shows the subject: a dot of `dot` colour in a body of `bodyColor`.
    public func showsSubject(body bodyColor: ShapeColor = DottedSubject.bodyColor, dot: ShapeColor = DottedSubject.dotColor) -> Bool {
        showsDot
            && ShapeColor.nearest(red: body.x, green: body.y, blue: body.z).color == bodyColor
            && dot.squaredDistance(toRed: core.x, green: core.y, blue: core.z).squareRoot() <= Self.namingDistance
    }

    /// True when the figure is split into two tones lying apart: halves of any two colours.
    public var showsHalves: Bool {
        secondTone != nil && secondToneShare >= Self.halvesShare && toneSeparation >= Self.halvesSeparation
    }

    /// True when the render shows the subject's halves: tones `bodyColor` and `second`, in either order.
    public func showsHalvesSubject(body bodyColor: ShapeColor = DottedSubject.bodyColor, second: ShapeColor = DottedSubject.dotColor) -> Bool {
        showsHalves && Set([firstTone, secondTone]) == Set([bodyColor, second])
    }

    /// True when the render shows `pattern` in any colours (what prior preservation counts as a leak).
    public func shows(_ pattern: SubjectPattern) -> Bool {
        switch pattern {
        case .dot: showsDot
        case .halves: showsHalves
        }
    }

    /// True when the render shows the subject patterned with `pattern`.
    public func showsSubject(_ pattern: SubjectPattern) -> Bool {
        switch pattern {
        case .dot: showsSubject()
        case .halves: showsHalvesSubject()
        }
    }

    /// Reads `image`; nil when nothing stands out from the background.
    public static func read(_ image: RGBImage) -> PatternReading? {
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
        var inFigure = [Bool](repeating: false, count: count)
        for p in figure { inFigure[p] = true }
        let solid = figure + holes(of: inFigure, width: width, height: height)

        func position(_ p: Int) -> SIMD2<Double> { SIMD2(Double(p % width) + 0.5, Double(p / width) + 0.5) }
        let centroid = solid.reduce(SIMD2<Double>(repeating: 0)) { $0 + position($1) } / Double(solid.count)
        func distance(_ p: Int) -> Double { let d = position(p) - centroid; return (d * d).sum().squareRoot() }
        let radius = solid.map(distance).max() ?? 0

        var coreSum = SIMD3<Double>(repeating: 0), coreCount = 0
        for p in 0..<count where distance(p) <= coreRadius * radius {
            coreSum += rgb(p); coreCount += 1
        }
        let bodyPixels = figure.filter { distance($0) >= bodyRadius * radius }.map(rgb)
        guard coreCount > 0, !bodyPixels.isEmpty else { return nil }
        var reading = PatternReading(background: background, core: coreSum / Double(coreCount),
                                     body: ShapeAnalysis.median(of: bodyPixels))

        // Tones: named pixels per colour, and their centroids.
        var named: [ShapeColor: (count: Int, sum: SIMD2<Double>)] = [:]
        for p in figure {
            let c = rgb(p)
            let nearest = ShapeColor.nearest(red: c.x, green: c.y, blue: c.z)
            guard nearest.distance <= namingDistance, nearest.color != background else { continue }
            let old = named[nearest.color] ?? (0, SIMD2(repeating: 0))
            named[nearest.color] = (old.count + 1, old.sum + position(p))
        }
        // Most named first; ties in palette order, so the reading does not depend on dictionary order.
        let palette = ShapeColor.allCases
        let tones = palette.indices.compactMap { i in named[palette[i]].map { (palette[i], $0.count, $0.sum / Double($0.count), i) } }
            .sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.3 < $1.3 }
        if let first = tones.first {
            reading.firstTone = first.0
            reading.firstToneShare = Double(first.1) / Double(figure.count)
        }
        if tones.count > 1 {
            let first = tones[0], second = tones[1]
            reading.secondTone = second.0
            reading.secondToneShare = Double(second.1) / Double(figure.count)
            let d = first.2 - second.2
            reading.toneSeparation = radius > 0 ? (d * d).sum().squareRoot() / radius : 0
        }
        return reading
    }

    /// Pixels outside `figure` that cannot reach the image border through other such pixels
    /// (4-connected): what the figure encloses.
    static func holes(of figure: [Bool], width: Int, height: Int) -> [Int] {
        var outside = [Bool](repeating: false, count: figure.count)
        var stack: [Int] = []
        for y in 0..<height {
            for x in 0..<width where (x == 0 || y == 0 || x == width - 1 || y == height - 1) {
                let p = y * width + x
                if !figure[p] && !outside[p] { outside[p] = true; stack.append(p) }
            }
        }
        while let p = stack.popLast() {
            let x = p % width, y = p / width
            for (nx, ny) in [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)] where nx >= 0 && ny >= 0 && nx < width && ny < height {
                let q = ny * width + nx
                if !figure[q] && !outside[q] { outside[q] = true; stack.append(q) }
            }
        }
        return figure.indices.filter { !figure[$0] && !outside[$0] }
    }
}
