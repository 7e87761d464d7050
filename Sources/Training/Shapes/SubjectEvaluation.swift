// The DreamBooth demo measured as the paper measures it (issue 10), from pixels (PatternReading):
//   • subject fidelity: share of "a sks star on a <colour> background" renders that show the subject
//     (a yellow star with a red dot, or split into a yellow and a red half: `pattern`);
//   • prompt fidelity: share of those whose background is the prompt's — backgrounds the instance
//     images never had: of green, blue, white and black, the three that are not the instance images'
//     (never yellow or red, the subject's own colours, so that a hole showing the background can never
//     pass for the pattern);
//   • prior preservation: share of plain star prompts ("a star", "a yellow star on a <instance
//     background> background" — the instance images' look without the token —, …) whose renders show
//     the pattern in no colours.
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
    public static func subjectBackgrounds(instanceBackground: ShapeColor = DottedSubject.instanceBackground) -> [ShapeColor] {
        DottedSubject.instanceBackgrounds.filter { $0 != instanceBackground }
    }
    /// The plain-star prompts of the prior-preservation measure, with the background each names: the
    /// bare class, the instance images' look without the token, and four fixed colour pairs (less the
    /// one that repeats the second, when the instance background is green).
    public static func priorPrompts(instanceBackground: ShapeColor = DottedSubject.instanceBackground)
        -> [(prompt: String, background: ShapeColor?)] {
        let look = "a \(DottedSubject.bodyColor.rawValue) star on a \(instanceBackground.rawValue) background"
        let fixed: [(prompt: String, background: ShapeColor?)] = [
            ("a yellow star on a green background", .green),
            ("a red star on a white background", .white),
            ("a white star on a black background", .black),
            ("a green star on a blue background", .blue),
        ]
        return [("a star", nil), (look, instanceBackground)] + fixed.filter { $0.prompt != look }
    }

    /// The subject prompt with `background`.
    public static func subjectPrompt(token: String, background: ShapeColor) -> String {
        "a \(token) star on a \(background.rawValue) background"
    }

    public let subjectRenders: [Render]
    public let priorRenders: [Render]
    /// The subject's pattern, which the renders are read for.
    public var pattern: SubjectPattern = .dot

    /// Whether a subject render counts for subject fidelity: it shows the subject.
    public func showsSubject(_ render: Render) -> Bool { render.reading?.showsSubject(pattern) ?? false }
    /// Whether a plain-star render counts for prior preservation: it shows no pattern.
    public func keepsPrior(_ render: Render) -> Bool { !(render.reading?.shows(pattern) ?? false) }

    /// Share of subject renders showing the subject.
    public var subjectFidelity: Double { share(subjectRenders, showsSubject) }
    /// Share of subject renders whose background is the prompt's.
    public var promptFidelity: Double { share(subjectRenders) { render in render.reading.map { $0.background == render.background } ?? false } }
    /// Share of plain-star renders showing no pattern.
    public var priorPreservation: Double { share(priorRenders, keepsPrior) }
    /// Share of plain-star renders read as stars.
    public var priorStarShare: Double { share(priorRenders) { $0.kind == .star } }

    private func share(_ renders: [Render], _ counts: (Render) -> Bool) -> Double {
        renders.isEmpty ? 0 : Double(renders.filter(counts).count) / Double(renders.count)
    }

    /// Renders every prompt at every seed (one single-image request each) and reads the images; the
    /// prompts are those of a subject whose instance images were on `instanceBackground`.
    public static func run(_ pipeline: StableDiffusionPipeline, token: String = "sks", pattern: SubjectPattern = .dot,
                           instanceBackground: ShapeColor = DottedSubject.instanceBackground, seeds: [UInt64],
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
        let subject = try renders(subjectBackgrounds(instanceBackground: instanceBackground).map {
            (subjectPrompt(token: token, background: $0), $0)
        })
        return SubjectEvaluation(subjectRenders: subject, priorRenders: try renders(priorPrompts(instanceBackground: instanceBackground)),
                                 pattern: pattern)
    }
}
