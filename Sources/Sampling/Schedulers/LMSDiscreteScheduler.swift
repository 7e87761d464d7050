// Linear multistep in σ (k-diffusion's `sample_lms`), sampler name `lms`. Follows diffusers'
// LMSDiscreteScheduler with order 4: x_{i+1} = x_i + Σ_k c_k·d_{i−k} over the last (up to) four slopes
// d = (x − x₀)/σ, where c_k integrates the k-th Lagrange basis polynomial through σ_i, σ_{i−1}, …
// over [σ_i, σ_{i+1}]. diffusers integrates it with scipy's `quad`, evaluating the polynomial with fp32
// torch scalars. Near the end of a schedule the σ's crowd together and that fp32 evaluation is off
// from the exact integral by up to 1e-5 relative, so instead of integrating exactly this file
// evaluates the integrand the same way and applies quad's own rule (Gauss–Kronrod 21, which quad
// accepts at once for a cubic), which reproduces diffusers' coefficients exactly from the same σ's.
import Tensor

/// diffusers' `LMSDiscreteScheduler` (order 4).
public struct LMSDiscreteScheduler: Scheduler {
    public let className = "LMSDiscreteScheduler"
    public let inferenceSteps: Int
    public let order = 1
    public let timesteps: [Float]
    public let sigmas: [Float]
    public let initNoiseSigma: Float
    /// The order of the multistep formula (diffusers' `step(order=4)` default).
    public let multistepOrder = 4
    public let predictionType: PredictionType
    /// The last `multistepOrder` slopes, oldest first.
    private var derivatives: [Tensor] = []

    /// An LMS scheduler for `steps` denoising steps.
    public init(configuration: SchedulerConfiguration, steps: Int) throws(SchedulerError) {
        let name = "LMSDiscreteScheduler"
        try configuration.requireOff(configuration.useExponentialSigmas, key: "use_exponential_sigmas", scheduler: name)
        try configuration.requireOff(configuration.useBetaSigmas, key: "use_beta_sigmas", scheduler: name)
        predictionType = try configuration.resolved(configuration.predictionType, key: "prediction_type",
                                                    default: .epsilon, allowed: PredictionType.allCases, scheduler: name)
        let schedule = try TrainingNoiseSchedule(configuration, defaults: .common, scheduler: name,
                                                 allowsZeroTerminalSNR: false, clampsTerminalAlpha: false)
        guard steps >= 1 && steps <= schedule.count else { throw .invalidStepCount(steps: steps, maximum: schedule.count) }
        let spacing = try configuration.resolved(configuration.timestepSpacing, key: "timestep_spacing",
                                                 default: TimestepSpacing.linspace, allowed: TimestepSpacing.allCases, scheduler: name)
        let (timesteps, sigmas) = SigmaSchedule.discrete(
            spacing, steps: steps, schedule: schedule, offset: configuration.stepsOffset ?? 0,
            karras: configuration.useKarrasSigmas ?? false)
        inferenceSteps = steps
        self.timesteps = timesteps
        self.sigmas = sigmas.map(Float.init) + [0]
        initNoiseSigma = SigmaSchedule.initNoiseSigma(self.sigmas, spacing: spacing)
    }

    public func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor {
        let scale = SigmaSchedule.inputScale(sigmas[stepIndex])
        return LatentArithmetic.map(sample) { $0 / scale }
    }

    /// diffusers' `get_lms_coefficient(order, t, current_order)`: ∫_{σ_t}^{σ_{t+1}} ℓ_k(τ) dτ, with ℓ_k
    /// the Lagrange basis polynomial that is 1 at σ_{t−k} and 0 at the other σ_{t−j}, j < order.
    public func coefficient(order: Int, stepIndex t: Int, term k: Int) -> Double {
        let nodes = (0..<order).map { sigmas[t - $0] }
        // As diffusers' `lms_derivative`: τ meets fp32 tensors, so τ is rounded to fp32 and every
        // factor is an fp32 difference quotient.
        func basis(_ tau: Double) -> Double {
            let t32 = Float(tau)
            var product: Float = 1
            for j in 0..<order where j != k { product *= (t32 - nodes[j]) / (nodes[k] - nodes[j]) }
            return Double(product)
        }
        return GaussKronrod21.integrate(from: Double(sigmas[t]), to: Double(sigmas[t + 1]), basis)
    }

    public mutating func step(modelOutput: Tensor, stepIndex i: Int, sample: Tensor,
                              generator: inout TorchGenerator) -> Tensor {
        let sigma = sigmas[i]
        let original = SigmaPrediction.originalSample(predictionType, modelOutput: modelOutput, sample: sample, sigma: sigma)
        derivatives.append(LatentArithmetic.map(sample, original) { s, x0 in (s - x0) / sigma })
        if derivatives.count > multistepOrder { derivatives.removeFirst() }
        // Like diffusers, the order comes from the step index; after an img2img start fewer slopes may
        // exist than the order asks for, and then only the newest ones take part (Python's `zip`).
        let order = min(i + 1, multistepOrder)
        var result = sample
        var total: Tensor?
        for (k, derivative) in zip(0..<order, derivatives.reversed()) {
            let c = Float(coefficient(order: order, stepIndex: i, term: k))
            total = total.map { sum in LatentArithmetic.map(sum, derivative) { a, d in a + c * d } }
                ?? LatentArithmetic.map(derivative) { c * $0 }
        }
        if let total { result = LatentArithmetic.map(sample, total) { s, t in s + t } }
        return result
    }

    public func addNoise(original: Tensor, noise: Tensor, stepIndex: Int) -> Tensor {
        let sigma = sigmas[stepIndex]
        return LatentArithmetic.map(original, noise) { x, n in x + n * sigma }
    }
}
