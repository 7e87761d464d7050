// The numbers behind the progress display: steps done, the rate since the first progress event, and the
// time left at that rate. The text is built here (and tested); the terminal drawing lives in dbrender.

/// Progress of one job, fed with `progress` events.
public struct ProgressMeter: Sendable {
    /// Steps done, and in all, as the last event said.
    public private(set) var step = 0
    public private(set) var steps = 0
    /// The first progress event seen: the rate is measured from there, so time spent queued, encoding
    /// the prompt or starting up does not count as sampling time.
    private var originStep: Int?
    private var originTime = 0.0
    private var latestTime = 0.0

    public init() {}

    /// Records that `step` of `steps` is done at `time` (seconds on any monotonic clock).
    public mutating func record(step: Int, steps: Int, at time: Double) {
        // A step count going backwards is a new pass (the daemon's next image): measure afresh.
        if step < (originStep ?? .max) { (originStep, originTime) = (step, time) }
        self.step = step
        self.steps = steps
        latestTime = time
    }

    /// Seconds until the last step at the rate so far; nil until two different steps were seen.
    public var remainingSeconds: Double? {
        guard let originStep, step > originStep, steps >= step else { return nil }
        return (latestTime - originTime) / Double(step - originStep) * Double(steps - step)
    }

    /// `[##########..............]  12/30  40%  ETA 0:23`
    public func bar(width: Int = 24) -> String {
        let fraction = steps > 0 ? min(1, Double(step) / Double(steps)) : 0
        let filled = Int((fraction * Double(width)).rounded(.down))
        let eta = remainingSeconds.map(Self.duration) ?? "--:--"
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
            + "  \(step)/\(steps)  \(Int((fraction * 100).rounded(.down)))%  ETA \(eta)"
    }

    /// m:ss, or h:mm:ss from an hour on.
    public static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded(.up))
        let (hours, minutes, secs) = (total / 3600, total / 60 % 60, total % 60)
        func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return hours > 0 ? "\(hours):\(twoDigits(minutes)):\(twoDigits(secs))" : "\(minutes):\(twoDigits(secs))"
    }
}
