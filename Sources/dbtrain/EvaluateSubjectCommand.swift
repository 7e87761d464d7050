// `dbtrain evaluate-subject`: the patterned-star DreamBooth demo scored from pixels.
import ArgumentParser
import Foundation
import ImageIO
import Sampling
import Tensor
import Training

/// `dbtrain evaluate-subject --model DIR [--seeds 8] [--token sks] [--pattern dot|halves] [--instance-background blue]`
struct EvaluateSubject: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate-subject",
        abstract: "Score a DreamBooth fine-tune on the patterned star: subject fidelity, prompt fidelity, prior preservation.",
        discussion: """
            Renders "a <token> star on a <colour> background" for the three of green, blue, white and black that \
            the instance images were not on, and plain star prompts, at fixed seeds, \
            and reads each image with PatternReading: a subject render counts when its centre is red inside a \
            yellow body (--pattern halves: when it is split into a yellow and a red half); a plain-star render \
            counts for prior preservation when it shows the pattern in no colours.
            """)

    @OptionGroup var options: EvaluationOptions
    @Option(help: "Seeds per prompt (0, 1, …).")
    var seeds = 8
    @Option(help: "The subject's rare token.")
    var token = "sks"
    @Option(help: "The subject's pattern: dot or halves.")
    var pattern: SubjectPattern = .dot
    @Option(help: "The background the instance images were on (make-shapes --subject --instance-background).")
    var instanceBackground: ShapeColor = DottedSubject.instanceBackground
    @Flag(help: "Also print each render: prompt, seed, whether it counts, and what was read.")
    var verbose = false

    func run() throws {
        let command = "dbtrain evaluate-subject"
        let pipeline = try options.pipeline(for: command)
        let e = try SubjectEvaluation.run(pipeline, token: token, pattern: pattern, instanceBackground: instanceBackground,
                                      seeds: (0..<seeds).map(UInt64.init), settings: options.settings(for: pipeline, command: command))
        try options.save((e.subjectRenders + e.priorRenders).map { ($0.prompt, $0.seed, $0.image) }, for: command)
        if verbose {
            for render in e.subjectRenders { print(line(render, counts: e.showsSubject(render), as: "subject")) }
            for render in e.priorRenders { print(line(render, counts: e.keepsPrior(render), as: "plain")) }
        }
        print(String(format: "subject fidelity %.1f %%, prompt fidelity %.1f %% (%d renders); prior preservation %.1f %% (%d renders, %.1f %% read as stars)",
                     100 * e.subjectFidelity, 100 * e.promptFidelity, e.subjectRenders.count,
                     100 * e.priorPreservation, e.priorRenders.count, 100 * e.priorStarShare))
    }

    /// One render's line of --verbose: its tones (shares of the figure) and their separation.
    private func line(_ render: SubjectEvaluation.Render, counts: Bool, as measure: String) -> String {
        let read = render.reading.map { r in
            String(format: "on %@, tones %@ %.2f / %@ %.2f, apart %.2f R, kind %@", r.background.rawValue,
                   r.firstTone?.rawValue ?? "-", r.firstToneShare, r.secondTone?.rawValue ?? "-", r.secondToneShare,
                   r.toneSeparation, render.kind?.rawValue ?? "-")
        } ?? "unreadable"
        return "\(measure) \(counts ? "counts" : "misses")  \(render.prompt)  seed \(render.seed): \(read)"
    }
}
