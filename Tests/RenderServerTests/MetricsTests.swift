// The Prometheus exposition of `GET /metrics` (swift-metrics on swift-prometheus): counters by label,
// gauges, and the latency histograms (cumulative buckets, +Inf equal to the count, sum in seconds).
import Foundation
import Testing
@testable import RenderServer

@Suite struct MetricsTests {
    @Test func latencyHistogramsAreCumulative() {
        let metrics = Metrics()
        let now = Date()
        // Done after 0.3 s (0.1 s queued) and after 7 s (4 s queued); a cancelled job counts only by status.
        metrics.renderFinished("done", submitted: now.addingTimeInterval(-0.3), started: now.addingTimeInterval(-0.2))
        metrics.renderFinished("done", submitted: now.addingTimeInterval(-7), started: now.addingTimeInterval(-3))
        metrics.renderFinished("cancelled", submitted: now.addingTimeInterval(-1), started: nil)
        let text = metrics.render(queueDepth: 2, activeJobs: 1, cache: (entries: 1, bytes: 10, hits: 3, misses: 1))
        let lines = Set(text.split(separator: "\n").map(String.init))

        #expect(lines.contains("# TYPE dbrender_render_duration_seconds histogram"))
        #expect(lines.contains("dbrender_render_duration_seconds_bucket{le=\"0.25\"} 0"))
        #expect(lines.contains("dbrender_render_duration_seconds_bucket{le=\"0.5\"} 1"))
        #expect(lines.contains("dbrender_render_duration_seconds_bucket{le=\"5.0\"} 1"))
        #expect(lines.contains("dbrender_render_duration_seconds_bucket{le=\"10.0\"} 2"))
        #expect(lines.contains("dbrender_render_duration_seconds_bucket{le=\"+Inf\"} 2"))
        #expect(lines.contains("dbrender_render_duration_seconds_count 2"))
        #expect(lines.contains("dbrender_queue_wait_seconds_bucket{le=\"0.25\"} 1"))
        #expect(lines.contains("dbrender_queue_wait_seconds_bucket{le=\"2.0\"} 1"))
        #expect(lines.contains("dbrender_queue_wait_seconds_bucket{le=\"5.0\"} 2"))
        let sum = lines.first { $0.hasPrefix("dbrender_render_duration_seconds_sum ") }.flatMap { Double($0.split(separator: " ")[1]) }
        #expect(abs((sum ?? 0) - 7.3) < 0.05, "sum of the two latencies, within clock jitter")
        #expect(lines.contains("dbrender_renders_total{status=\"cancelled\"} 1"))
        #expect(lines.contains("dbrender_renders_total{status=\"done\"} 2"))
        #expect(lines.contains("dbrender_queue_depth 2.0") && lines.contains("dbrender_embedding_cache_hits_total 3"))
    }
}
