// Measuring a shapes-world model from pixels (issue 10's quality checks): render each
// combination's caption at fixed seeds, read every image back with ShapeAnalysis, and count the
// renders whose background, shape colour and shape kind all match the prompt — separately for
// combinations the training split showed and for the held-out ones (composition of words never
// seen together). `dbtrain evaluate-shapes` prints it; tests assert bounds on the shipped model.
import Foundation
import ImageIO
import Sampling

/// How a model does on the shapes world.
public struct ShapesEvaluation: Sendable {
    /// One render and what was read from it.
    public struct Render: Sendable {
        public let combination: ShapeCombination
        public let seed: UInt64
        /// nil when no single clear shape was found.
        public let analysis: ShapeAnalysis?
        /// The image (kept for galleries and for looking at the failures); nil when not kept.
        public var image: RGBImage? = nil
        public var matches: Bool { analysis?.matches(combination) ?? false }
    }

    public let renders: [Render]

    /// Share of renders of `combinations` (all when nil) that match their prompt.
    public func accuracy(of combinations: Set<ShapeCombination>? = nil) -> Double {
        let chosen = renders.filter { combinations?.contains($0.combination) ?? true }
        return chosen.isEmpty ? 0 : Double(chosen.filter(\.matches).count) / Double(chosen.count)
    }

    /// Share of renders whose background / shape colour / kind alone match (where a mistake lies).
    public func attributeAccuracy(of combinations: Set<ShapeCombination>? = nil) -> (background: Double, color: Double, kind: Double) {
        let chosen = renders.filter { combinations?.contains($0.combination) ?? true }
        func share(_ ok: (Render) -> Bool) -> Double { chosen.isEmpty ? 0 : Double(chosen.filter(ok).count) / Double(chosen.count) }
        return (share { $0.analysis?.background == $0.combination.background },
                share { $0.analysis?.color == $0.combination.color },
                share { $0.analysis?.kind == $0.combination.kind })
    }

    /// Renders every combination's caption at every seed (one single-image request each) and
    /// analyses the images.
    public static func run(_ pipeline: StableDiffusionPipeline, combinations: [ShapeCombination], seeds: [UInt64],
                           settings: EvaluationRender = EvaluationRender()) throws -> ShapesEvaluation {
        var renders: [Render] = []
        for combination in combinations {
            for seed in seeds {
                let image = try settings.image(pipeline, prompt: combination.caption, seed: seed)
                renders.append(Render(combination: combination, seed: seed, analysis: ShapeAnalysis.analyse(image), image: image))
            }
        }
        return ShapesEvaluation(renders: renders)
    }
}
