// Counters and gauges for `GET /metrics`, in the Prometheus text exposition format.
import Foundation

/// The daemon's metrics. Thread-safe.
public final class Metrics: @unchecked Sendable {
    private let lock = NSLock()
    private var rendersByStatus: [String: Int] = [:]
    private var errorsByCode: [String: Int] = [:]
    private var images = 0
    private var unetCalls = 0
    private var unetRows = 0
    private var imageSteps = 0
    private var stepSeconds = 0.0
    private var requests: [String: Int] = [:]
    private var authenticationFailures = 0

    public init() {}

    private var renderSeconds = Histogram()
    private var queueWaitSeconds = Histogram()

    /// A job ended: counts it, and for completed renders records the latency a client saw and the
    /// part of it spent waiting in the queue.
    func renderFinished(_ status: String, submitted: Date, started: Date?) {
        let now = Date()
        lock.withLock {
            rendersByStatus[status, default: 0] += 1
            guard status == "done" else { return }
            renderSeconds.observe(now.timeIntervalSince(submitted))
            queueWaitSeconds.observe((started ?? now).timeIntervalSince(submitted))
        }
    }
    func error(_ code: String) { lock.withLock { errorsByCode[code, default: 0] += 1 } }
    func imageRendered() { lock.withLock { images += 1 } }
    func request(_ route: String) { lock.withLock { requests[route, default: 0] += 1 } }
    /// A request on a listener that needs credentials came without valid ones.
    func authenticationFailed() { lock.withLock { authenticationFailures += 1 } }
    /// One batched UNet call of `rows` rows advancing `imageSteps` images by one step.
    func unetCall(rows: Int, imageSteps steps: Int, seconds: Double) {
        lock.withLock { unetCalls += 1; unetRows += rows; imageSteps += steps; stepSeconds += seconds }
    }

    /// The exposition text, with the live gauges passed in.
    func render(queueDepth: Int, activeJobs: Int, cache: (entries: Int, bytes: Int, hits: Int, misses: Int)) -> String {
        lock.withLock {
            var out = ""
            func metric(_ name: String, _ type: String, _ help: String, _ samples: [(labels: String, value: String)]) {
                out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
                for s in samples { out += "\(name)\(s.labels) \(s.value)\n" }
            }
            func labelled(_ key: String, _ values: [String: Int]) -> [(labels: String, value: String)] {
                values.keys.sorted().map { ("{\(key)=\"\($0)\"}", "\(values[$0]!)") }
            }
            metric("dbrender_queue_depth", "gauge", "Render requests waiting to start.", [("", "\(queueDepth)")])
            metric("dbrender_active_jobs", "gauge", "Render requests being denoised.", [("", "\(activeJobs)")])
            metric("dbrender_renders_total", "counter", "Finished render requests by outcome.", labelled("status", rendersByStatus))
            renderSeconds.write("dbrender_render_duration_seconds", "Completed renders, from request to last image.", to: &out)
            queueWaitSeconds.write("dbrender_queue_wait_seconds", "Completed renders, time spent queued before starting.", to: &out)
            metric("dbrender_images_total", "counter", "Images rendered.", [("", "\(images)")])
            metric("dbrender_unet_calls_total", "counter", "Batched UNet evaluations.", [("", "\(unetCalls)")])
            metric("dbrender_unet_rows_total", "counter", "Rows (latents) over all UNet evaluations.", [("", "\(unetRows)")])
            metric("dbrender_image_steps_total", "counter", "Denoising steps taken, summed over images.", [("", "\(imageSteps)")])
            metric("dbrender_step_seconds_total", "counter", "Seconds spent in denoising steps.", [("", String(format: "%.6f", stepSeconds))])
            metric("dbrender_steps_per_second", "gauge", "Image steps per second of denoising time so far.",
                   [("", String(format: "%.4f", stepSeconds > 0 ? Double(imageSteps) / stepSeconds : 0))])
            metric("dbrender_embedding_cache_hits_total", "counter", "Text-embedding cache hits.", [("", "\(cache.hits)")])
            metric("dbrender_embedding_cache_misses_total", "counter", "Text-embedding cache misses.", [("", "\(cache.misses)")])
            metric("dbrender_embedding_cache_bytes", "gauge", "Bytes held by the text-embedding cache.", [("", "\(cache.bytes)")])
            metric("dbrender_errors_total", "counter", "Error answers by code.", labelled("code", errorsByCode))
            metric("dbrender_http_requests_total", "counter", "HTTP requests by route.", labelled("route", requests))
            metric("dbrender_auth_failures_total", "counter", "Requests refused for missing or wrong credentials (401).",
                   [("", "\(authenticationFailures)")])
            return out
        }
    }
}

/// A Prometheus histogram with buckets sized for renders (a tiny model's fraction of a second up to a
/// large batch's minutes).
struct Histogram {
    static let bounds: [Double] = [0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600]
    private var counts = [Int](repeating: 0, count: Histogram.bounds.count)
    private var count = 0
    private var sum = 0.0

    mutating func observe(_ value: Double) {
        for (i, bound) in Self.bounds.enumerated() where value <= bound { counts[i] += 1 }
        count += 1
        sum += value
    }

    /// Cumulative `_bucket` lines, then `_sum` and `_count`, as the exposition format defines.
    func write(_ name: String, _ help: String, to out: inout String) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        for (i, bound) in Self.bounds.enumerated() {
            let label = bound == bound.rounded() ? "\(Int(bound))" : "\(bound)"
            out += "\(name)_bucket{le=\"\(label)\"} \(counts[i])\n"
        }
        out += "\(name)_bucket{le=\"+Inf\"} \(count)\n"
        out += "\(name)_sum \(String(format: "%.6f", sum))\n\(name)_count \(count)\n"
    }
}
