// One render request inside the daemon: its validated spec, its lifecycle (queued → running →
// done | failed | cancelled), the events it emits, and the cancellation flag the engine polls.
import Foundation
import RenderAPI
import Sampling

/// A request's state, shared between the HTTP side and the engine thread. Thread-safe.
public final class RenderJob: @unchecked Sendable {
    public enum Status: String, Sendable { case queued, running, done, failed, cancelled }

    public let id: String
    public let spec: RenderSpec
    public let submitted = Date()
    /// When the engine took the job off the queue; nil while queued.
    public var started: Date? { lock.withLock { _started } }
    private var _started: Date?
    private let lock = NSLock()
    private var _status: Status = .queued
    private var _progress = RenderProgress(step: 0, steps: 0)
    private var _images: [RenderedImageBody] = []
    private var _preview: RenderedImageBody?
    private var _error: ErrorBody.Detail?
    private var _cancelRequested = false
    private var _interruptRequested = false
    private var listeners: [(StreamEvent) -> Void] = []
    private var finishedWaiters: [() -> Void] = []

    init(id: String, spec: RenderSpec) {
        self.id = id
        self.spec = spec
    }

    public var status: Status { lock.withLock { _status } }
    public var isFinished: Bool { lock.withLock { [.done, .failed, .cancelled].contains(_status) } }
    var cancelRequested: Bool { lock.withLock { _cancelRequested } }
    /// A1111's interrupt was asked for: stop denoising, decode what there is.
    public var interruptRequested: Bool { lock.withLock { _interruptRequested } }

    /// Asks the engine to stop this job at the next step boundary (or drop it from the queue).
    public func requestCancellation() { lock.withLock { _cancelRequested = true } }

    /// Asks the engine to end this job's denoising at the next step boundary and finish it.
    func requestInterrupt() { lock.withLock { _interruptRequested = true } }

    /// Receives every later event (called on the engine thread: hand work off quickly).
    public func addListener(_ listener: @escaping (StreamEvent) -> Void) { lock.withLock { listeners.append(listener) } }

    /// Calls `body` once the job has finished (immediately if it already has).
    public func whenFinished(_ body: @escaping () -> Void) {
        let now: Bool = lock.withLock {
            if [.done, .failed, .cancelled].contains(_status) { return true }
            finishedWaiters.append(body)
            return false
        }
        if now { body() }
    }

    /// The status answer of `GET /v1/renders/{id}`, or the final answer's pieces.
    public var statusBody: JobStatusBody {
        lock.withLock {
            var body = JobStatusBody(status: _status.rawValue, id: id)
            body.parameters = spec.parameters
            if _status != .queued { body.step = _progress.step; body.steps = _progress.steps }
            if _status == .done { body.images = _images }
            if _status == .running { body.preview = _preview }
            body.error = _error
            return body
        }
    }

    var images: [RenderedImageBody] { lock.withLock { _images } }
    var error: ErrorBody.Detail? { lock.withLock { _error } }

    // MARK: Engine side

    func emit(_ event: StreamEvent) {
        let targets = lock.withLock { listeners }
        for listener in targets { listener(event) }
    }

    func markQueued(position: Int) {
        var e = StreamEvent(event: "queued", id: id)
        e.position = position
        emit(e)
    }

    func markStarted() {
        lock.withLock { _status = .running; _started = Date() }
        emit(StreamEvent(event: "started", id: id))
    }

    /// Steps done; `preview`, when this step made one.
    func markProgress(_ progress: RenderProgress, preview: RenderedImageBody? = nil) {
        lock.withLock {
            _progress = progress
            if let preview { _preview = preview }
        }
        var e = StreamEvent(event: "progress", id: id)
        e.step = progress.step
        e.steps = progress.steps
        e.preview = preview
        emit(e)
    }

    /// The latest preview, if previews were asked for and one was made.
    public var latestPreview: RenderedImageBody? { lock.withLock { _preview } }

    /// Steps done and in all.
    public var progress: RenderProgress { lock.withLock { _progress } }

    func addImage(_ image: RenderedImageBody, index: Int) {
        lock.withLock { _images.append(image) }
        var e = StreamEvent(event: "image", id: id)
        e.index = index
        e.image = image
        emit(e)
    }

    func finish(_ status: Status, error: ErrorBody.Detail? = nil) {
        let waiters: [() -> Void] = lock.withLock {
            _status = status
            _error = error
            defer { finishedWaiters = [] }
            return finishedWaiters
        }
        if status == .done {
            var e = StreamEvent(event: "done", id: id)
            e.parameters = spec.parameters
            emit(e)
        } else {
            var e = StreamEvent(event: "error", id: id)
            e.error = error ?? ErrorBody.Detail(code: status.rawValue, message: "the render was \(status.rawValue)", field: nil)
            emit(e)
        }
        lock.withLock { listeners = [] }
        for w in waiters { w() }
    }
}
