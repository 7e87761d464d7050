// Counters, gauges and histograms for `GET /metrics`, through the Swift server ecosystem's own parts:
// swift-metrics' API (Counter, FloatingPointCounter, Meter, Recorder) on swift-prometheus's factory,
// whose registry writes the Prometheus text format. Each daemon (and each test) has its own registry:
// nothing is bootstrapped globally. The names are the ones our own exporter wrote before; values the
// daemon knows only when asked (queue depth, running jobs, the embedding cache's figures) are set
// when /metrics is read.
import CoreMetrics
import Foundation
import Prometheus

/// The daemon's metrics. Thread-safe.
public final class Metrics: @unchecked Sendable {
    /// Latency buckets (seconds): a tiny model's fraction of a second up to a large batch's minutes.
    static let latencyBuckets: [Double] = [0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600]

    private let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let lock = NSLock()
    private var imageSteps = 0
    private var stepSeconds = 0.0
    /// The embedding cache's counts last reported (its counters advance by the difference).
    private var reportedCache = (hits: 0, misses: 0)

    private let images, unetCalls, unetRows, imageStepsCounter, authenticationFailures: CoreMetrics.Counter
    private let stepSecondsCounter: CoreMetrics.FloatingPointCounter
    private let renderSeconds, queueWaitSeconds: CoreMetrics.Recorder
    private let queueDepth, activeJobs, stepsPerSecond, cacheBytes: CoreMetrics.Meter
    private let cacheHits, cacheMisses: CoreMetrics.Counter

    public init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        for name in ["dbrender_render_duration_seconds", "dbrender_queue_wait_seconds"] {
            factory.valueHistogramBuckets[name] = Self.latencyBuckets
        }
        self.factory = factory
        images = CoreMetrics.Counter(label: "dbrender_images_total", factory: factory)
        unetCalls = CoreMetrics.Counter(label: "dbrender_unet_calls_total", factory: factory)
        unetRows = CoreMetrics.Counter(label: "dbrender_unet_rows_total", factory: factory)
        imageStepsCounter = CoreMetrics.Counter(label: "dbrender_image_steps_total", factory: factory)
        authenticationFailures = CoreMetrics.Counter(label: "dbrender_auth_failures_total", factory: factory)
        stepSecondsCounter = FloatingPointCounter(label: "dbrender_step_seconds_total", factory: factory)
        renderSeconds = Recorder(label: "dbrender_render_duration_seconds", aggregate: true, factory: factory)
        queueWaitSeconds = Recorder(label: "dbrender_queue_wait_seconds", aggregate: true, factory: factory)
        queueDepth = Meter(label: "dbrender_queue_depth", factory: factory)
        activeJobs = Meter(label: "dbrender_active_jobs", factory: factory)
        stepsPerSecond = Meter(label: "dbrender_steps_per_second", factory: factory)
        cacheBytes = Meter(label: "dbrender_embedding_cache_bytes", factory: factory)
        cacheHits = CoreMetrics.Counter(label: "dbrender_embedding_cache_hits_total", factory: factory)
        cacheMisses = CoreMetrics.Counter(label: "dbrender_embedding_cache_misses_total", factory: factory)
        // Present from the start, at 0.
        for meter in [queueDepth, activeJobs, stepsPerSecond, cacheBytes] { meter.set(0) }
        for counter in [images, unetCalls, unetRows, imageStepsCounter, authenticationFailures, cacheHits, cacheMisses] { counter.increment(by: 0) }
        stepSecondsCounter.increment(by: 0)
    }

    /// A job ended: counts it, and for completed renders records the latency a client saw and the
    /// part of it spent waiting in the queue.
    func renderFinished(_ status: String, submitted: Date, started: Date?) {
        let now = Date()
        CoreMetrics.Counter(label: "dbrender_renders_total", dimensions: [("status", status)], factory: factory).increment()
        guard status == "done" else { return }
        renderSeconds.record(now.timeIntervalSince(submitted))
        queueWaitSeconds.record((started ?? now).timeIntervalSince(submitted))
    }

    func error(_ code: String) { CoreMetrics.Counter(label: "dbrender_errors_total", dimensions: [("code", code)], factory: factory).increment() }
    func imageRendered() { images.increment() }
    func request(_ route: String) { CoreMetrics.Counter(label: "dbrender_http_requests_total", dimensions: [("route", route)], factory: factory).increment() }
    /// A request on a listener that needs credentials came without valid ones.
    func authenticationFailed() { authenticationFailures.increment() }

    /// One batched UNet call of `rows` rows advancing `imageSteps` images by one step.
    func unetCall(rows: Int, imageSteps steps: Int, seconds: Double) {
        unetCalls.increment()
        unetRows.increment(by: rows)
        imageStepsCounter.increment(by: steps)
        stepSecondsCounter.increment(by: seconds)
        lock.withLock { imageSteps += steps; stepSeconds += seconds }
    }

    /// The exposition text, with the live gauges passed in.
    func render(queueDepth depth: Int, activeJobs running: Int, cache: (entries: Int, bytes: Int, hits: Int, misses: Int)) -> String {
        lock.withLock {
            queueDepth.set(depth)
            activeJobs.set(running)
            cacheBytes.set(cache.bytes)
            stepsPerSecond.set(stepSeconds > 0 ? Double(imageSteps) / stepSeconds : 0)
            cacheHits.increment(by: max(cache.hits - reportedCache.hits, 0))
            cacheMisses.increment(by: max(cache.misses - reportedCache.misses, 0))
            reportedCache = (cache.hits, cache.misses)
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return String(decoding: buffer, as: UTF8.self)
        }
    }
}
