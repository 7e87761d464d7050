// `dbtrain evaluate-shapes`: a shapes-world model scored from the pixels of its renders.
import ArgumentParser
import Foundation
import ImageIO
import Sampling
import Tensor
import Training

/// `dbtrain evaluate-shapes --model DIR [--seeds 4] [--size 64] [--steps 20]`
struct EvaluateShapes: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate-shapes",
        abstract: "Render every shapes-world caption at fixed seeds and score the images from their pixels.",
        discussion: "A render matches when its background colour, shape colour and shape kind, as ShapeAnalysis reads them, are the prompt's.")

    @OptionGroup var options: EvaluationOptions
    @Option(help: "Seeds per combination (0, 1, …).")
    var seeds = 4

    func run() throws {
        let command = "dbtrain evaluate-shapes"
        let pipeline = try options.pipeline(for: command)
        let heldOut = Set(ShapesDataset.heldOutCombinations)
        let evaluation = try ShapesEvaluation.run(pipeline, combinations: ShapeCombination.all, seeds: (0..<seeds).map(UInt64.init),
                                                  settings: options.settings(for: pipeline, command: command))
        try options.save(evaluation.renders.map { ($0.combination.caption, $0.seed, $0.image) }, for: command)
        let trained = Set(ShapeCombination.all).subtracting(heldOut)
        for (name, set) in [("trained combinations", trained), ("held-out combinations", heldOut)] {
            let a = evaluation.attributeAccuracy(of: set)
            print(String(format: "%@: %.1f %% match (background %.1f %%, colour %.1f %%, shape %.1f %%), %d renders", name,
                         100 * evaluation.accuracy(of: set), 100 * a.background, 100 * a.color, 100 * a.kind, set.count * seeds))
        }
        printConfusion(evaluation)
    }

    /// The kinds read against the kinds prompted (where the shape mistakes lie), over all renders.
    func printConfusion(_ evaluation: ShapesEvaluation) {
        let columns = ShapeKind.allCases.map(\.rawValue) + ["unknown", "no shape"]
        print("kind prompted → kind read: " + columns.joined(separator: " / "))
        for kind in ShapeKind.allCases {
            let renders = evaluation.renders.filter { $0.combination.kind == kind }
            let counts = ShapeKind.allCases.map { read in renders.filter { $0.analysis?.kind == read }.count }
                + [renders.filter { $0.analysis != nil && $0.analysis?.kind == nil }.count, renders.filter { $0.analysis == nil }.count]
            print("  \(kind.rawValue): " + counts.map(String.init).joined(separator: " / "))
        }
    }
}
