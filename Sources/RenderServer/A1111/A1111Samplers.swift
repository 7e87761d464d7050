// AUTOMATIC1111's sampler and schedule names, as its API takes them, mapped to our samplers. Since
// A1111 1.9 a request names the sampler ("DPM++ 2M") and the schedule ("Karras") apart; the legacy
// combined name ("DPM++ 2M Karras") still works: a sampler name that ends in " <schedule>" (label,
// name or alias) is split, as A1111's get_sampler_and_scheduler does. "Automatic" is the sampler's
// own default schedule: Karras for DPM++ 2M, the model's uniform timesteps for the others.
// We list only what we can run; an A1111 sampler we do not have (DPM++ SDE, UniPC, …) or a pairing
// we do not have (Euler with Karras σ's) is an error that names it, never a silent substitute.

/// A1111 sampler and schedule names.
enum A1111Samplers {
    /// One A1111 sampler: its name, aliases, options (as GET /sdapi/v1/samplers shows them) and the
    /// default schedule that "Automatic" means.
    struct Sampler {
        let name: String
        let aliases: [String]
        /// The schedule "Automatic" stands for (A1111's `options["scheduler"]`), nil: uniform.
        let defaultSchedule: String?
        /// Our sampler for each schedule this sampler runs with here.
        let ours: [String: String]
        /// A1111's `options`, its true flags ("uses_ensd", "second_order"); `scheduler` is `defaultSchedule`.
        let flags: [String]

        /// The `options` object of GET /sdapi/v1/samplers.
        var options: [String: Any] {
            var options: [String: Any] = Dictionary(uniqueKeysWithValues: flags.map { ($0, true) })
            if let defaultSchedule { options["scheduler"] = defaultSchedule }
            return options
        }
    }

    /// One A1111 schedule (GET /sdapi/v1/schedulers).
    struct Schedule {
        let name: String
        let label: String
        let aliases: [String]?
        let defaultRho: Double?
        let needsInnerModel: Bool
    }

    static let samplers: [Sampler] = [
        Sampler(name: "DPM++ 2M", aliases: ["k_dpmpp_2m"], defaultSchedule: "karras",
                ours: ["karras": "dpmpp_2m_karras", "uniform": "dpmpp_2m"], flags: []),
        Sampler(name: "Euler a", aliases: ["k_euler_a", "k_euler_ancestral"], defaultSchedule: nil,
                ours: ["uniform": "euler_a"], flags: ["uses_ensd"]),
        Sampler(name: "Euler", aliases: ["k_euler"], defaultSchedule: nil, ours: ["uniform": "euler"], flags: []),
        Sampler(name: "LMS", aliases: ["k_lms"], defaultSchedule: nil, ours: ["uniform": "lms"], flags: []),
        Sampler(name: "Heun", aliases: ["k_heun"], defaultSchedule: nil, ours: ["uniform": "heun"], flags: ["second_order"]),
        Sampler(name: "DDIM", aliases: ["ddim"], defaultSchedule: nil, ours: ["uniform": "ddim"], flags: []),
        Sampler(name: "PLMS", aliases: ["plms"], defaultSchedule: nil, ours: ["uniform": "pndm"], flags: []),
        Sampler(name: "LCM", aliases: ["k_lcm"], defaultSchedule: nil, ours: ["uniform": "lcm"], flags: []),
    ]

    static let schedules: [Schedule] = [
        Schedule(name: "automatic", label: "Automatic", aliases: nil, defaultRho: nil, needsInnerModel: false),
        Schedule(name: "uniform", label: "Uniform", aliases: nil, defaultRho: nil, needsInnerModel: true),
        Schedule(name: "karras", label: "Karras", aliases: nil, defaultRho: 7.0, needsInnerModel: false),
    ]

    /// A1111 schedules we do not run, so that a request naming one hears why, not "unknown".
    static let otherSchedules = ["exponential", "polyexponential", "sgm_uniform", "kl_optimal", "align_your_steps",
                                 "simple", "normal", "ddim", "beta"]

    /// What a request's sampler and schedule resolve to.
    struct Choice: Equatable, Sendable {
        /// Our sampler name.
        let sampler: String
        /// A1111's sampler name and schedule label, for the infotext and `info`.
        let displayName: String
        let scheduleLabel: String
    }

    /// Why a sampler or schedule cannot be used; `field` names the request field.
    struct Refusal: Error {
        let field: String
        let message: String
        /// A1111 answers an unknown sampler name with 404 "Sampler not found".
        let isUnknownSampler: Bool
    }

    /// Resolves `samplerName` (possibly a legacy combined name) and `scheduler` (name or label; nil or
    /// "Automatic": the sampler's default).
    static func resolve(samplerName: String, scheduler: String?) throws(Refusal) -> Choice {
        var name = samplerName
        var scheduleName = scheduler.flatMap { normalizedSchedule($0) }
        if scheduler != nil && scheduleName == nil {
            throw Refusal(field: "scheduler", message: "unknown scheduler '\(scheduler!)'; use one of \(schedules.map(\.label).joined(separator: ", "))",
                          isUnknownSampler: false)
        }
        // A legacy combined name: "DPM++ 2M Karras" = sampler "DPM++ 2M", schedule "karras".
        split: for schedule in schedules where schedule.name != "automatic" {
            for suffix in [schedule.label, schedule.name] + (schedule.aliases ?? []) where name.hasSuffix(" " + suffix) {
                name = String(name.dropLast(suffix.count + 1))
                scheduleName = schedule.name
                break split
            }
        }
        guard let sampler = samplers.first(where: { $0.name == name || $0.aliases.contains(name) }) else {
            let available = samplers.map(\.name).joined(separator: ", ")
            throw Refusal(field: "sampler_name", message: "Sampler not found: '\(samplerName)' (available here: \(available))", isUnknownSampler: true)
        }
        let effective = (scheduleName == nil || scheduleName == "automatic") ? (sampler.defaultSchedule ?? "uniform") : scheduleName!
        guard let ours = sampler.ours[effective] else {
            let label = schedules.first { $0.name == effective }?.label ?? effective
            let supported = sampler.ours.keys.sorted().compactMap { key in schedules.first { $0.name == key }?.label }
            throw Refusal(field: "scheduler", message: "\(sampler.name) runs here with the \(supported.joined(separator: " or ")) schedule, not \(label)",
                          isUnknownSampler: false)
        }
        let label = schedules.first { $0.name == effective }?.label ?? "Automatic"
        // A1111 reports a schedule that is the sampler's default as "Automatic".
        return Choice(sampler: ours, displayName: sampler.name,
                      scheduleLabel: effective == (sampler.defaultSchedule ?? "uniform") ? "Automatic" : label)
    }

    /// A schedule's name from its name, label or alias (any case); nil for one we do not know at all.
    /// Schedules A1111 has and we do not run resolve to their name, and are refused by `resolve`.
    static func normalizedSchedule(_ text: String) -> String? {
        let lowered = text.lowercased()
        if let schedule = schedules.first(where: { $0.name == lowered || $0.label.lowercased() == lowered }) { return schedule.name }
        if let other = otherSchedules.first(where: { $0 == lowered.replacingOccurrences(of: " ", with: "_") }) { return other }
        return nil
    }

    /// The A1111 (sampler, schedule) pair for one of our sampler names: what the infotext of a render
    /// made through our own API says in A1111's terms.
    static func a1111Names(of ours: String) -> (sampler: String, schedule: String)? {
        for sampler in samplers {
            for (schedule, name) in sampler.ours where name == ours {
                let isDefault = schedule == (sampler.defaultSchedule ?? "uniform")
                return (sampler.name, isDefault ? "Automatic" : schedules.first { $0.name == schedule }!.label)
            }
        }
        return nil
    }
}
