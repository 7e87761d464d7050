// Dotted shapes in the base world: a circle, square or triangle with a dot of a third colour in its
// middle ("a red circle with a yellow dot on a blue background") — never a star, so that the dotted
// star of the DreamBooth demo (DottedSubject) stays a thing the base data never shows. With them the
// base model knows what "a shape with a dot" looks like, on every background, the way a real model
// knows spotted or striped things before DreamBooth binds one particular spotted dog to a token:
// fine-tuning then binds "sks" to a known kind of pattern instead of inventing one from four images.
//
// Layout rules, drawn uniformly from the image's own stream: the dot's colour, from those that are
// neither the shape's colour nor its background (so the dot is never a hole); the dot is DottedSubject's
// (radius 0.3 × the circumradius unless `dotRadius` says otherwise, at the centre), which fits inside every kind but the star's points.
extension ShapesDataset {
    /// The dot colour of image `index`'s scene, or nil when it has none (a star, or not drawn).
    func dotColor(at index: Int, of scene: ShapeScene) -> ShapeColor? {
        guard dottedShare > 0, scene.combination.kind != .star else { return nil }
        var draw = SplitMix64(seed: seed, split.streamTag, 4, index)
        guard draw.unitInterval() < dottedShare else { return nil }
        let main = scene.combination
        let colors = ShapeColor.allCases.filter { $0 != main.color && $0 != main.background }
        return colors[draw.uniform(below: colors.count)]
    }

    /// "a red circle with a yellow dot on a blue background": always the full scene.
    static func dottedCaption(_ combination: ShapeCombination, dot: ShapeColor) -> String {
        "\(combination.caption(.withoutBackground)) with a \(dot.rawValue) dot on a \(combination.background.rawValue) background"
    }
}
