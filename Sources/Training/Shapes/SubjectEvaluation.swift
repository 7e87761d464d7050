// The DreamBooth demo measured as the paper measures it (issue 10), from pixels (PatternReading):
//   • subject fidelity: share of "a sks star on a <colour> background" renders that show the subject
//     (a yellow star with a red dot, or split into a yellow and a red half: `pattern`);
//   • prompt fidelity: share of those whose background is the prompt's — backgrounds the instance
//     images (all blue) never had: green, white, black (not yellow or red, the subject's own colours, so
//     that a hole showing the background can never pass for the dot);
//   • prior preservation: share of plain star prompts ("a star", "a yellow star on a blue background"
//     — the instance images' look without the token —, …) whose renders show the pattern in no colours.
// Fine-tuning without prior preservation lets "star" itself drift towards the subject (language
// drift); the third figure shows it. A fourth keeps the third honest: the share of plain-star renders
// that still read as stars (ShapeAnalysis), since a fine-tune can also lose the dot by losing the star.
import Foundation
import ImageIO
import Sampling

public struct SubjectEvaluation: Sendable {
    /// One render and what was read from it.
    public struct Render: Sendable {
        public let prompt: String
        /// The background the prompt names; nil when it names none.
        public let background: ShapeColor?
        public let seed: UInt64
        public let reading: PatternReading?
        /// The shape kind ShapeAnalysis reads; nil when it reads none.
        public var kind: ShapeKind? = nil
        /// The image; nil when not kept.
        public var image: RGBImage? = nil
    }

    /// Backgrounds of the subject prompts: every colour but the instance images' background and the
    /// subject's own two, in palette order.
    public static let subjectBackgrounds: [ShapeColor] = ShapeColor.allCases.filter {
        ![DottedSubject.instanceBackground, DottedSubject.bodyColor, DottedSubject.dotColor].contains($0)
    }
    /// The plain-star prompts of the prior-preservation measure, with the background each names.
    public static let priorPrompts: [(prompt: String, background: ShapeColor?)] = [
        ("a star", nil),
        ("a \(DottedSubject.bodyColor.rawValue) star on a \(DottedSubject.instanceBackground.rawValue) background", DottedSubject.instanceBackground),
        ("a yellow star on a green background", .green),
        ("a red star on a white background", .white),
        ("a white star on a black background", .black),
        ("a green star on a blue background", .blue),
    ]

    /// The subject prompt with `background`.
    public static func subjectPrompt(token: String, background: ShapeColor) -> String {
        "a \(token) star on a \(background.rawValue) background"
    }

    public let subjectRenders: [Render]
    public let priorRenders: [Render]
    /// The subject's pattern, which the renders are read for.
    public var pattern: SubjectPattern = .dot

    /// Share of subject renders showing the subject.
    public var subjectFidelity: Double { share(subjectRenders) { $0.reading?.showsSubject(pattern) ?? false } }
    /// Share of subject renders whose background is the prompt's.
    public var promptFidelity: Double { share(subjectRenders) { render in render.reading.map { $0.background == render.background } ?? false } }
    /// Share of plain-star renders showing no pattern.
    public var priorPreservation: Double { share(priorRenders) { !($0.reading?.shows(pattern) ?? false) } }
    /// Share of plain-star renders read as stars.
    public var priorStarShare: Double { share(priorRenders) { $0.kind == .star } }

    private func share(_ renders: [Render], _ counts: (Render) -> Bool) -> Double {
        renders.isEmpty ? 0 : Double(renders.filter(counts).count) / Double(renders.count)
    }

    /// Renders every prompt at every seed (one single-image request each) and reads the images.
    public static func run(_ pipeline: StableDiffusionPipeline, token: String = "sks", pattern: SubjectPattern = .dot, seeds: [UInt64],
                           settings: EvaluationRender = EvaluationRender()) throws -> SubjectEvaluation {
        func renders(_ prompts: [(prompt: String, background: ShapeColor?)]) throws -> [Render] {
            try prompts.flatMap { prompt, background in
                try seeds.map { seed in
                    let image = try settings.image(pipeline, prompt: prompt, seed: seed)
                    return Render(prompt: prompt, background: background, seed: seed, reading: PatternReading.read(image),
                                  kind: ShapeAnalysis.analyse(image)?.kind, image: image)
                }
            }
        }
        let subject = try renders(subjectBackgrounds.map { (subjectPrompt(token: token, background: $0), $0) })
        return SubjectEvaluation(subjectRenders: subject, priorRenders: try renders(priorPrompts), pattern: pattern)
    }
}
