// What a shapes-world image shows, as its caption says it: a shape kind, the shape's colour and the
// background's colour. This is the unit the data split is made of (held-out combinations) and the label
// the analyser's verdict is compared with.

/// A (shape, shape colour, background colour) triple; the two colours always differ.
public struct ShapeCombination: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The shape drawn.
    public let kind: ShapeKind
    /// The colour the shape is filled with.
    public let color: ShapeColor
    /// The colour of everything else.
    public let background: ShapeColor

    /// A combination; `color` and `background` must differ (a programmer error otherwise: the shape
    /// would be invisible).
    public init(_ kind: ShapeKind, _ color: ShapeColor, on background: ShapeColor) {
        precondition(color != background, "a \(color) \(kind) on a \(background) background is invisible")
        self.kind = kind
        self.color = color
        self.background = background
    }

    /// "a <colour> <shape> on a <colour> background", e.g. "a red circle on a blue background".
    public var caption: String { "a \(color.rawValue) \(kind.rawValue) on a \(background.rawValue) background" }

    public var description: String { caption }

    /// Reads a caption written by `caption` back; nil for any other text (so evaluation of a model can
    /// take its labels from the prompts it was given).
    public init?(caption: String) {
        let words = caption.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard words.count == 7, words[0] == "a", words[3] == "on", words[4] == "a", words[6] == "background",
              let color = ShapeColor(rawValue: words[1]), let kind = ShapeKind(rawValue: words[2]),
              let background = ShapeColor(rawValue: words[5]), color != background else { return nil }
        self.init(kind, color, on: background)
    }

    /// Every combination: 4 kinds × 6 colours × 5 backgrounds = 120, ordered by kind, colour, background.
    public static let all: [ShapeCombination] = ShapeKind.allCases.flatMap { kind in
        ShapeColor.allCases.flatMap { color in
            ShapeColor.allCases.filter { $0 != color }.map { ShapeCombination(kind, color, on: $0) }
        }
    }
}
