// The shapes-world data set: which combinations a split contains, and the scene of image i.
//
// Determinism: image i depends only on (seed, split, i) — never on how many images are made — so a set
// of 1000 images starts with the set of 100, and any image can be regenerated alone. Two streams of
// SplitMix64 are derived from the seed:
//   • the combination: images are dealt in rounds of K (K = the split's number of combinations); round
//     r = i / K shows every combination once, in the order of a permutation seeded by (seed, split, 0, r).
//     A set of n·K images therefore holds each combination exactly n times, and any set of ≥ K images
//     holds each at least once — no combination is starved by chance;
//   • the layout: size, position and rotation come from a generator seeded by (seed, split, 1, i);
//   • the caption's detail: a generator seeded by (seed, split, 2, i) makes the caption partial with
//     probability `partialCaptionShare` (then one of the three partial forms, uniformly). A stream of
//     its own, so the images — and a VAE trained on them — do not depend on how captions are drawn;
//   • the companion (CompanionShape.swift): a generator seeded by (seed, split, 3, i) gives image i a
//     second, smaller shape of a third colour with probability `companionShare` (0 by default, when
//     the stream is not drawn at all, so a data set without companions is the one made before they
//     existed); its combination is one of the split's. Its caption is always full: "a red circle and a green star on a blue background".
//   • the pattern (DottedShape.swift): a generator seeded by (seed, split, 4, i) gives a circle, square or
//     triangle without a companion a `pattern` of a third colour — a dot, or one of its halves — with
//     probability `dottedShare` (0 by default, when the stream is not drawn). Its caption is always
//     full: "a red circle with a yellow dot on a …", "a red and yellow circle on a …".
//
// Held-out combinations (compositional generalisation: the model sees every part, never the whole):
// twelve triples that the training split never contains. They are spread so that each shape is held
// out 3 times, each colour twice as a shape colour and twice as a background, and no (shape, colour),
// (shape, background) or (colour, background) pair is held out twice — so training still shows every
// shape in every colour and on every background, and every colour on every other background; only
// the exact triple is new.
import ImageIO

/// The combinations of one split and the deterministic scenes of its images.
public struct ShapesDataset: Sendable {
    /// Which part of the shapes world a data set draws from.
    public enum Split: String, Sendable, CaseIterable {
        /// Every combination except the held-out ones (108 of 120).
        case training
        /// Only the held-out combinations (12): an evaluation set of scenes the model never saw whole.
        case heldOut = "held-out"

        /// Mixed into the seed so that the two splits of one seed are unrelated.
        var streamTag: Int { self == .training ? 0 : 1 }
    }

    /// The combinations the training split never contains. Fixed forever: changing it would silently
    /// change what earlier model cards call "held out".
    public static let heldOutCombinations: [ShapeCombination] = [
        ShapeCombination(.circle, .red, on: .blue),
        ShapeCombination(.square, .green, on: .yellow),
        ShapeCombination(.triangle, .blue, on: .white),
        ShapeCombination(.star, .yellow, on: .black),
        ShapeCombination(.circle, .white, on: .red),
        ShapeCombination(.square, .black, on: .green),
        ShapeCombination(.triangle, .red, on: .yellow),
        ShapeCombination(.star, .green, on: .white),
        ShapeCombination(.circle, .blue, on: .black),
        ShapeCombination(.square, .yellow, on: .red),
        ShapeCombination(.triangle, .white, on: .green),
        ShapeCombination(.star, .black, on: .blue),
    ]

    /// The seed every stream is derived from.
    public let seed: UInt64
    /// The split drawn from.
    public let split: Split
    /// The split's combinations, in `ShapeCombination.all` order (training) or the held-out list's order.
    public let combinations: [ShapeCombination]
    /// `combinations` for lookup.
    private let combinationSet: Set<ShapeCombination>
    /// The share of images whose caption names less than the whole scene (see `CaptionDetail`).
    public let partialCaptionShare: Double

    /// The share of images that hold a companion shape (see CompanionShape.swift).
    public let companionShare: Double

    /// The share of non-star images without a companion that have a pattern (see DottedShape.swift).
    public let dottedShare: Double

    /// What those images' second colour covers: a dot (the default) or a half.
    public let pattern: SubjectPattern

    /// The radius of those dots as a fraction of the circumradius (DottedSubject's by default).
    public let dotRadius: Double

    /// The share of partial captions by default: one in five, enough for "a star" to mean any star,
    /// few enough that full captions — what evaluation prompts — keep most of the training signal.
    public static let defaultPartialCaptionShare = 0.2

    /// The data set of `split` for `seed`.
    public init(seed: UInt64, split: Split = .training, partialCaptionShare: Double = defaultPartialCaptionShare,
                companionShare: Double = 0, dottedShare: Double = 0, pattern: SubjectPattern = .dot,
                dotRadius: Double = DottedSubject.dotRadius) {
        precondition((0...1).contains(partialCaptionShare), "partial caption share \(partialCaptionShare)")
        precondition((0...1).contains(companionShare), "companion share \(companionShare)")
        precondition((0...1).contains(dottedShare), "dotted share \(dottedShare)")
        precondition(dotRadius > 0 && dotRadius < 1, "dot radius \(dotRadius)")
        self.dottedShare = dottedShare
        self.pattern = pattern
        self.dotRadius = dotRadius
        self.seed = seed
        self.split = split
        self.partialCaptionShare = partialCaptionShare
        self.companionShare = companionShare
        switch split {
        case .training:
            let heldOut = Set(Self.heldOutCombinations)
            combinations = ShapeCombination.all.filter { !heldOut.contains($0) }
        case .heldOut:
            combinations = Self.heldOutCombinations
        }
        combinationSet = Set(combinations)
    }

    /// The scene of image `index` (≥ 0).
    public func scene(at index: Int) -> ShapeScene {
        precondition(index >= 0, "image index \(index)")
        let k = combinations.count
        var dealer = SplitMix64(seed: seed, split.streamTag, 0, index / k)
        let combination = combinations[dealer.permutation(k)[index % k]]
        var layout = SplitMix64(seed: seed, split.streamTag, 1, index)
        return ShapeScene.random(combination, using: &layout)
    }

    /// The companion shape drawn over image `index`'s scene, if it has one.
    public func companion(at index: Int) -> ShapeScene? {
        companion(at: index, of: scene(at: index))
    }

    /// The companion of image `index`, whose scene (`scene(at: index)`) the caller already has.
    private func companion(at index: Int, of scene: ShapeScene) -> ShapeScene? {
        precondition(index >= 0, "image index \(index)")
        guard companionShare > 0 else { return nil }
        var draw = SplitMix64(seed: seed, split.streamTag, 3, index)
        guard draw.unitInterval() < companionShare else { return nil }
        return ShapeScene.randomCompanion(of: scene, allowed: combinationSet.contains, using: &draw)
    }

    /// How much of image `index`'s scene its caption names (always all of it with a companion or a dot).
    public func captionDetail(at index: Int) -> CaptionDetail {
        let scene = scene(at: index)
        let companion = companion(at: index, of: scene)
        return companion != nil || patternDraw(at: index, of: scene, companion: companion) != nil ? .full : drawnDetail(at: index)
    }

    /// The second colour of image `index`'s shape (its dot or half, `pattern`), if it has one
    /// (DottedShape.swift).
    public func dot(at index: Int) -> ShapeColor? {
        let scene = scene(at: index)
        return patternDraw(at: index, of: scene, companion: companion(at: index, of: scene))?.color
    }

    /// The pattern of image `index`, given its scene and companion: only an image without a companion has one.
    private func patternDraw(at index: Int, of scene: ShapeScene, companion: ShapeScene?) -> (color: ShapeColor, splitAngle: Double)? {
        companion == nil ? patternDraw(at: index, of: scene) : nil
    }

    /// The caption detail drawn for image `index` from its stream, as if it had no companion.
    private func drawnDetail(at index: Int) -> CaptionDetail {
        precondition(index >= 0, "image index \(index)")
        var draw = SplitMix64(seed: seed, split.streamTag, 2, index)
        guard draw.unitInterval() < partialCaptionShare else { return .full }
        return CaptionDetail.partial[Int(draw.next() % UInt64(CaptionDetail.partial.count))]
    }

    /// The caption of image `index`.
    public func caption(at index: Int) -> String {
        let scene = scene(at: index)
        return caption(at: index, of: scene, companion: companion(at: index, of: scene))
    }

    /// The caption of image `index`, given its scene and companion.
    private func caption(at index: Int, of scene: ShapeScene, companion: ShapeScene?) -> String {
        let main = scene.combination
        if let drawn = patternDraw(at: index, of: scene, companion: companion) { return pattern.caption(main, second: drawn.color) }
        guard let companion = companion?.combination else { return main.caption(drawnDetail(at: index)) }
        return "\(main.caption(.withoutBackground)) and a \(companion.color.rawValue) \(companion.kind.rawValue) on a \(main.background.rawValue) background"
    }

    /// Image `index` rendered at `side` × `side` pixels, companion included, with its caption.
    public func example(at index: Int, side: Int) -> (image: RGBImage, caption: String) {
        let scene = scene(at: index), companion = companion(at: index, of: scene)
        if let drawn = patternDraw(at: index, of: scene, companion: companion) {
            return (DottedSubject.render(scene, pattern: pattern, dot: drawn.color, dotRadius: dotRadius, splitAngle: drawn.splitAngle, side: side),
                    pattern.caption(scene.combination, second: drawn.color))
        }
        var image = ShapeRasterizer.render(scene, side: side)
        if let companion { ShapeRasterizer.draw(companion, over: &image) }
        return (image, caption(at: index, of: scene, companion: companion))
    }
}
