// Runs jobs one after another: skips a batch job whose outputs exist (so an interrupted batch resumes),
// sends the request, writes each image atomically as soon as its event arrives, and waits out a full
// queue (503 + Retry-After) a few times before giving up.
import Foundation
import RenderAPI

/// A render and where its images go.
public struct RenderJob: Sendable, Equatable {
    public var spec: RenderSpec
    public var output: OutputNaming
    /// The prompt-file line the job came from, to name it in errors.
    public var origin: Origin?

    /// A line of a prompt file.
    public struct Origin: Sendable, Equatable {
        public var file: String
        public var line: Int
        public init(file: String, line: Int) { self.file = file; self.line = line }
    }

    public init(spec: RenderSpec, output: OutputNaming, origin: Origin? = nil) {
        self.spec = spec
        self.output = output
        self.origin = origin
    }
}

/// What the runner reports while it works, for the display.
public enum RunEvent: Sendable, Equatable {
    /// Job `number` (1-based) of `total` is about to be sent.
    case jobStarting(number: Int, total: Int, job: RenderJob)
    /// An event of the daemon's stream for the current job.
    case stream(StreamEvent)
    /// An image was written to this path.
    case wrote(String)
    /// The job was not sent: these outputs of an earlier run exist.
    case skipped([String])
    /// The queue is full; the runner sleeps this long and tries again.
    case waiting(seconds: Int)
    /// The current job is over (done, or it failed).
    case jobFinished
}

/// Renders jobs and writes their images.
public struct RenderRunner {
    /// The daemon the jobs go to.
    public var client: DaemonClient
    /// Skip jobs whose outputs exist (batch runs).
    public var skipExisting: Bool
    /// How often a job rejected with 503 is tried again, honouring Retry-After.
    public var maximumRetries = 5
    /// Longest Retry-After that is waited out rather than reported.
    public var maximumWait = 120
    /// Sleeps for whole seconds (replaced in tests).
    public var sleep: (Int) -> Void = { seconds in Thread.sleep(forTimeInterval: Double(seconds)) }

    public init(client: DaemonClient, skipExisting: Bool) {
        self.client = client
        self.skipExisting = skipExisting
    }

    /// Runs `jobs` in order; stops at the first error, which names the job's file and line if it has one.
    public func run(_ jobs: [RenderJob], report: (RunEvent) -> Void) throws {
        for (offset, job) in jobs.enumerated() {
            do {
                try run(job, number: offset + 1, total: jobs.count, report: report)
            } catch let error as ClientError {
                report(.jobFinished)
                guard let origin = job.origin else { throw error }
                throw ClientError.atLine(file: origin.file, line: origin.line, error)
            }
        }
    }

    private func run(_ job: RenderJob, number: Int, total: Int, report: (RunEvent) -> Void) throws {
        let count = max(1, job.spec.request.count ?? 1)
        if skipExisting {
            let existing = job.output.existingOutputs(
                count: count, seed: job.spec.request.seed, format: job.spec.format,
                listDirectory: { (try? FileManager.default.contentsOfDirectory(atPath: $0.isEmpty ? "." : $0)) ?? [] },
                exists: { FileManager.default.fileExists(atPath: $0) })
            if existing.count >= count {
                report(.skipped(existing))
                return
            }
        }
        report(.jobStarting(number: number, total: total, job: job))
        let request = try job.spec.resolvedRequest()
        var attempt = 0
        while true {
            var written = 0
            do {
                let parameters = try client.render(request) { event in
                    report(.stream(event))
                    guard event.event == "image" else { return }
                    try write(event, index: event.index ?? written, count: count, job: job, report: report)
                    written += 1
                }
                guard written == parameters.count else {
                    throw ClientError.malformedResponse("the job ended with \(written) of \(parameters.count) images")
                }
                report(.jobFinished)
                return
            } catch let ClientError.daemon(status, detail, retryAfter) where status == 503 && attempt < maximumRetries {
                let wait = retryAfter ?? 5
                guard wait <= maximumWait else { throw ClientError.daemon(status: status, detail, retryAfter: retryAfter) }
                attempt += 1
                report(.waiting(seconds: wait))
                sleep(wait)
            }
        }
    }

    private func write(_ event: StreamEvent, index: Int, count: Int, job: RenderJob, report: (RunEvent) -> Void) throws {
        guard let image = event.image, let data = Data(base64Encoded: image.data) else {
            throw ClientError.malformedResponse("image event \(index) without valid base64 data")
        }
        let path = job.output.path(index: index, count: count, seed: image.seed, format: image.format)
        try AtomicFile.write(data, to: path)
        report(.wrote(path))
    }
}
