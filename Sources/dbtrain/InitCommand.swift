// `dbtrain init`: a randomly initialised model folder of a named architecture.
import ArgumentParser
import Foundation
import Models
import Weights

/// `dbtrain init --preset sd15|tiny|shapes --out DIR --seed N`
struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a randomly initialised model folder in diffusers layout.")

    @Option(help: "Architecture: \(RandomModelFolder.Preset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var preset: RandomModelFolder.Preset

    @Option(help: "Folder to create (must not exist, or be empty).")
    var out: String

    @Option(help: "Random seed: the same seed writes the same weights.")
    var seed: UInt64 = 0

    func run() throws {
        let start = Date()
        let url = URL(fileURLWithPath: out)
        do {
            let summary = try RandomModelFolder.write(preset.configurations, seed: seed, to: url)
            let counts = ModelComponent.allCases.map { "\($0.rawValue) \(formatCount(summary.parameterCounts[$0] ?? 0))" }
            print("wrote \(url.path): \(preset.rawValue), seed \(seed) (\(counts.joined(separator: ", ")) parameters) in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
        } catch {
            throw ValidationError("cannot write \(url.path): \(error)")
        }
    }

    private func formatCount(_ n: Int) -> String {
        n >= 1_000_000 ? String(format: "%.1f M", Double(n) / 1e6) : String(format: "%.1f k", Double(n) / 1e3)
    }
}

extension RandomModelFolder.Preset: ExpressibleByArgument {}
