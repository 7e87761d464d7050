// How much of a scene a shapes-world caption names. Most captions name all three parts ("a red star on
// a blue background"); a share names less — "a red star", "a star on a blue background", "a star" —
// so that a prompt naming only the shape means something to the trained model: the class prompt
// DreamBooth's prior preservation renders ("a star") must give stars of every colour on every
// background, not whatever an unseen word pattern happens to give.

/// Which parts of a (shape, colour, background) triple a caption names; the shape is always named.
public enum CaptionDetail: String, Sendable, CaseIterable, Codable {
    /// "a red star on a blue background"
    case full
    /// "a red star"
    case withoutBackground = "without-background"
    /// "a star on a blue background"
    case withoutColor = "without-color"
    /// "a star"
    case shapeOnly = "shape-only"

    /// The partial forms, in the order `ShapesDataset` deals them.
    public static let partial: [CaptionDetail] = [.withoutBackground, .withoutColor, .shapeOnly]
}

extension ShapeCombination {
    /// The caption naming the parts `detail` keeps; `.full` is `caption`.
    public func caption(_ detail: CaptionDetail) -> String {
        switch detail {
        case .full: caption
        case .withoutBackground: "a \(color.rawValue) \(kind.rawValue)"
        case .withoutColor: "a \(kind.rawValue) on a \(background.rawValue) background"
        case .shapeOnly: "a \(kind.rawValue)"
        }
    }
}
