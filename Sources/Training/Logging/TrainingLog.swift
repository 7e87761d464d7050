// `<output_dir>/train_log.jsonl`: one JSON object per optimizer step — step, loss, prior_loss, lr,
// grad_norm, seconds — for scripts and plots that should not need TensorBoard. Appended and flushed a
// line at a time; a resumed run first drops the lines past the step it resumes from, so that the file
// always tells one consistent history.
import Foundation

/// One optimizer step's figures.
public struct TrainingLogEntry: Codable, Equatable, Sendable {
    public var step: Int
    /// The loss that was optimised (instance loss plus weighted prior loss).
    public var loss: Double
    /// The class-prior part of the loss (nil without prior preservation).
    public var priorLoss: Double?
    public var lr: Double
    /// Global gradient norm before clipping.
    public var gradNorm: Double
    /// Wall-clock seconds the step took.
    public var seconds: Double

    public init(step: Int, loss: Double, priorLoss: Double?, lr: Double, gradNorm: Double, seconds: Double) {
        self.step = step; self.loss = loss; self.priorLoss = priorLoss; self.lr = lr
        self.gradNorm = gradNorm; self.seconds = seconds
    }

    enum CodingKeys: String, CodingKey {
        case step, loss, priorLoss = "prior_loss", lr, gradNorm = "grad_norm", seconds
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(step, forKey: .step)
        try c.encode(loss, forKey: .loss)
        try c.encode(priorLoss, forKey: .priorLoss) // null without prior preservation: every line has every key
        try c.encode(lr, forKey: .lr)
        try c.encode(gradNorm, forKey: .gradNorm)
        try c.encode(seconds, forKey: .seconds)
    }
}

/// The append-only JSON-lines log.
public final class TrainingLog {
    public let url: URL
    private let handle: FileHandle
    private let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    /// Opens (or creates) the log. With `resumingAfter`, entries of later steps — written after the
    /// checkpoint being resumed — are removed first.
    public init(url: URL, resumingAfter step: Int? = nil) throws {
        self.url = url
        let fm = FileManager.default
        if let step, fm.fileExists(atPath: url.path) {
            let kept = try Self.read(url).filter { $0.step <= step }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            var text = Data()
            for entry in kept { text += try encoder.encode(entry) + Data("\n".utf8) }
            try text.write(to: url, options: .atomic)
        } else if !fm.fileExists(atPath: url.path) {
            guard fm.createFile(atPath: url.path, contents: nil) else {
                throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: url.path])
            }
        }
        handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
    }

    deinit { try? handle.close() }

    public func append(_ entry: TrainingLogEntry) throws {
        try handle.write(contentsOf: try encoder.encode(entry) + Data("\n".utf8))
    }

    /// Every entry of a log file; a line that does not parse (a crash mid-write) ends the history.
    public static func read(_ url: URL) throws -> [TrainingLogEntry] {
        let text = String(decoding: try Data(contentsOf: url), as: UTF8.self)
        var entries: [TrainingLogEntry] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let entry = try? JSONDecoder().decode(TrainingLogEntry.self, from: Data(line.utf8)) else { break }
            entries.append(entry)
        }
        return entries
    }
}
