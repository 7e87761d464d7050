// A companion: a second, smaller shape in a third colour, drawn over a shapes-world scene. The base
// world is otherwise two-coloured — a shape and its background — and a VAE trained on it codes only
// those pairs: it blurs a red dot on a yellow star into dark brown (the model card's DreamBooth
// section). Companions put every colour against every other, at small sizes, so that the
// autoencoder learns to code a small patch of any colour on any other colour.
//
// Layout rules, drawn uniformly: the kind; the colour, from those that are neither the scene's shape
// colour nor its background and that make, with the kind and the background, a combination of the
// data set's split (so a training image never shows a held-out triple, not even as a companion: none
// when no colour is left); the circumscribed diameter, 20–40 % of the side; the centre, anywhere the
// circle fits inside the margin, so a companion may lie on the background, across the main shape's
// edge or wholly inside it (then it is a patch of a third colour inside a shape); the rotation.
import Foundation

extension ShapeScene {
    /// Range of a companion's circumscribed diameter, as a fraction of the image side.
    public static let companionDiameterRange = 0.20...0.40

    /// A random companion for `scene`: a scene on the same background whose shape is drawn over
    /// `scene`'s picture, its combination one that `allowed` accepts (nil when the drawn kind has no
    /// such colour). Draws from `generator` in a fixed order (kind, colour, size, x, y, rotation).
    public static func randomCompanion(of scene: ShapeScene, allowed: (ShapeCombination) -> Bool,
                                       using generator: inout SplitMix64) -> ShapeScene? {
        let kind = ShapeKind.allCases[generator.uniform(below: ShapeKind.allCases.count)]
        let main = scene.combination
        let colors = ShapeColor.allCases.filter {
            $0 != main.color && $0 != main.background && allowed(ShapeCombination(kind, $0, on: main.background))
        }
        guard !colors.isEmpty else { return nil }
        let color = colors[generator.uniform(below: colors.count)]
        let range = companionDiameterRange
        let radius = (range.lowerBound + (range.upperBound - range.lowerBound) * generator.unitInterval()) / 2
        let low = radius + margin, span = 1 - 2 * low
        let x = low + span * generator.unitInterval()
        let y = low + span * generator.unitInterval()
        let rotation = kind.symmetryPeriod * generator.unitInterval()
        return ShapeScene(ShapeCombination(kind, color, on: main.background), center: SIMD2(x, y),
                          circumradius: radius, rotation: rotation)
    }
}
