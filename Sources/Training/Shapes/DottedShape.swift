// Patterned shapes in the base world: a circle, square or triangle with a second colour — a dot in its
// middle ("a red circle with a yellow dot on a blue background") or one of its halves ("a red and
// yellow circle on a blue background"), SubjectPattern.swift — never a star, so that the patterned star
// of the DreamBooth demo (DottedSubject) stays a thing the base data never shows. With them the base
// model knows what "a shape with a pattern" looks like, on every background, the way a real model
// knows spotted or striped things before DreamBooth binds one particular spotted dog to a token:
// fine-tuning then binds "sks" to a known kind of pattern instead of inventing one from four images.
//
// Layout rules, drawn uniformly from the image's own stream: the second colour, from those that are
// neither the shape's colour nor its background (so the pattern is never a hole); then, for a circle
// split into halves only, the split line's angle (polygons split through their first corner). A dot is
// DottedSubject's (radius 0.3 × the circumradius unless `dotRadius` says otherwise, at the centre),
// which fits inside every kind but the star's points.
import Foundation

extension ShapesDataset {
    /// The second colour of image `index`'s scene and, for halves, the split line's angle; nil when it
    /// has no pattern (a star, or not drawn).
    func patternDraw(at index: Int, of scene: ShapeScene) -> (color: ShapeColor, splitAngle: Double)? {
        guard dottedShare > 0, scene.combination.kind != .star else { return nil }
        var draw = SplitMix64(seed: seed, split.streamTag, 4, index)
        guard draw.unitInterval() < dottedShare else { return nil }
        let main = scene.combination
        let colors = ShapeColor.allCases.filter { $0 != main.color && $0 != main.background }
        let color = colors[draw.uniform(below: colors.count)]
        // Drawn only where it is used, so that dotted data sets stay those made before halves existed.
        let circleAngle = pattern == .halves && main.kind == .circle ? 2 * Double.pi * draw.unitInterval() : 0
        return (color, SubjectPattern.splitAngle(of: scene, circleAngle: circleAngle))
    }
}
