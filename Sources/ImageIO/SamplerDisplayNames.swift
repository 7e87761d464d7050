// The sampler names of our API (`euler_a`, `dpmpp_2m_karras`, …) and the display names A1111 writes in its
// infotext ("Euler a", "DPM++ 2M Karras", …), both ways. One table, so that adding a sampler is one line.

/// Maps dbrender's sampler names to the names A1111 shows and writes, and back.
public enum SamplerDisplayNames {
    /// (our name, A1111 display name). A1111 calls the PNDM scheduler's linear multistep mode "PLMS".
    public static let table: [(name: String, displayName: String)] = [
        ("ddim", "DDIM"),
        ("pndm", "PLMS"),
        ("euler", "Euler"),
        ("euler_a", "Euler a"),
        ("dpmpp_2m", "DPM++ 2M"),
        ("dpmpp_2m_karras", "DPM++ 2M Karras"),
        ("heun", "Heun"),
        ("lms", "LMS"),
        ("lcm", "LCM"),
    ]

    /// The A1111 display name of our sampler `name`; a name we do not know is returned unchanged, so that
    /// parameters parsed from another tool's infotext render back as they came.
    public static func displayName(of name: String) -> String {
        table.first { $0.name == name }?.displayName ?? name
    }

    /// Our sampler name for an A1111 display name. A1111 ≥ 1.9 writes the noise schedule separately
    /// ("Sampler: DPM++ 2M, Schedule type: Karras"); pass it as `scheduleType` to get `dpmpp_2m_karras`.
    /// Returns nil for a display name with no sampler of ours (e.g. "DPM++ SDE").
    public static func name(ofDisplayName displayName: String, scheduleType: String? = nil) -> String? {
        if let scheduleType, scheduleType != "Automatic",
           let combined = table.first(where: { $0.displayName == "\(displayName) \(scheduleType)" }) {
            return combined.name
        }
        return table.first { $0.displayName == displayName }?.name
    }
}
