// Sampler names of the API (`GET /v1/samplers`, the `sampler` field of a render request) and the
// scheduler each one builds. The names and their A1111 display names are listed in
// ImageIO/SamplerDisplayNames.swift; this file says which diffusers scheduler class, with which
// fixed options, stands behind each name.

/// Makes the scheduler of a sampler name.
public enum SchedulerFactory {
    /// The sampler names, in the order `GET /v1/samplers` lists them.
    public static let samplerNames = ["ddim", "pndm", "euler", "euler_a", "dpmpp_2m", "dpmpp_2m_karras", "heun", "lms", "lcm"]

    /// A fresh scheduler for one image.
    ///
    /// - Parameters:
    ///   - name: one of `samplerNames`.
    ///   - configuration: the model's scheduler configuration (keys absent take each class's defaults).
    ///   - steps: denoising steps, 1 … `num_train_timesteps`.
    ///   - eta: DDIM's η (0 = deterministic, diffusers' pipeline default); other samplers ignore it.
    /// - Throws: `SchedulerError.unknownSampler` listing the valid names, or the configuration's errors.
    public static func make(name: String, configuration: SchedulerConfiguration, steps: Int,
                            eta: Double = 0) throws(SchedulerError) -> any Scheduler {
        switch name {
        case "ddim":
            return try DDIMScheduler(configuration: configuration, steps: steps, eta: eta)
        case "pndm":
            return try PNDMScheduler(configuration: configuration, steps: steps)
        case "euler":
            return try EulerDiscreteScheduler(configuration: configuration, steps: steps)
        case "euler_a":
            return try EulerAncestralDiscreteScheduler(configuration: configuration, steps: steps)
        case "dpmpp_2m":
            return try DPMSolverMultistepScheduler(configuration: configuration, steps: steps, karras: false)
        case "dpmpp_2m_karras":
            return try DPMSolverMultistepScheduler(configuration: configuration, steps: steps, karras: true)
        case "heun":
            return try HeunDiscreteScheduler(configuration: configuration, steps: steps)
        case "lms":
            return try LMSDiscreteScheduler(configuration: configuration, steps: steps)
        case "lcm":
            return try LCMScheduler(configuration: configuration, steps: steps)
        default:
            throw .unknownSampler(name: name, validNames: samplerNames)
        }
    }
}
