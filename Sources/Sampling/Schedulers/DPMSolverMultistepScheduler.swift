// DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion
// Probabilistic Models", Algorithm 2), sampler names `dpmpp_2m` and `dpmpp_2m_karras`. Follows
// diffusers' DPMSolverMultistepScheduler with algorithm_type "dpmsolver++" and solver_order 2 (the
// sampler name fixes both, and whether the σ's follow Karras et al.), the rest from the configuration.
// The solver works on data predictions x₀ and keeps the previous one, so a scheduler value must see
// every step of its image in order. Deterministic: the generator is not used.
import Foundation
import Tensor

/// diffusers' `DPMSolverMultistepScheduler` as DPM-Solver++(2M).
public struct DPMSolverMultistepScheduler: Scheduler {
    public let className = "DPMSolverMultistepScheduler"
    public let inferenceSteps: Int
    public let order = 1
    public let timesteps: [Float]
    public let sigmas: [Float]
    public let initNoiseSigma: Float = 1

    private enum SolverType: String, CaseIterable { case midpoint, heun }

    public let predictionType: PredictionType
    private let solverType: SolverType
    private let lowerOrderFinal: Bool
    private let eulerAtFinal: Bool
    private let finalSigmasType: FinalSigmasType
    /// The data prediction of the previous step (the "multistep" history; order 2 needs one).
    private var previousOriginal: Tensor?
    /// How many steps have run: the first step of a loop is first order.
    private var stepsTaken = 0

    /// A DPM-Solver++(2M) scheduler for `steps` denoising steps, with Karras σ's when `karras`.
    public init(configuration: SchedulerConfiguration, steps: Int, karras: Bool) throws(SchedulerError) {
        let name = "DPMSolverMultistepScheduler"
        try configuration.requireOff(configuration.thresholding, key: "thresholding", scheduler: name)
        try configuration.requireOff(configuration.useExponentialSigmas, key: "use_exponential_sigmas", scheduler: name)
        try configuration.requireOff(configuration.useBetaSigmas, key: "use_beta_sigmas", scheduler: name)
        try configuration.requireOff(configuration.useLuLambdas, key: "use_lu_lambdas", scheduler: name)
        try configuration.requireOff(configuration.useFlowSigmas, key: "use_flow_sigmas", scheduler: name)
        try configuration.requireOff(configuration.useDynamicShifting, key: "use_dynamic_shifting", scheduler: name)
        if let variance = configuration.varianceType {
            throw .unsupportedValue(key: "variance_type", value: variance, scheduler: name)
        }
        predictionType = try configuration.resolved(configuration.predictionType, key: "prediction_type",
                                                    default: .epsilon, allowed: PredictionType.allCases, scheduler: name)
        // diffusers maps the solver types of other multistep solvers (UniPC's, DEIS's) to midpoint.
        let solver = configuration.solverType.map { ["logrho", "bh1", "bh2"].contains($0) ? "midpoint" : $0 }
        solverType = try configuration.resolved(solver, key: "solver_type", default: SolverType.midpoint,
                                                allowed: SolverType.allCases, scheduler: name)
        lowerOrderFinal = configuration.lowerOrderFinal ?? true
        eulerAtFinal = configuration.eulerAtFinal ?? false
        finalSigmasType = try configuration.resolved(configuration.finalSigmasType, key: "final_sigmas_type",
                                                     default: FinalSigmasType.zero, allowed: FinalSigmasType.allCases, scheduler: name)
        let schedule = try TrainingNoiseSchedule(configuration, defaults: .common, scheduler: name,
                                                 allowsZeroTerminalSNR: true, clampsTerminalAlpha: true)
        guard steps >= 1 && steps <= schedule.count else { throw .invalidStepCount(steps: steps, maximum: schedule.count) }
        let spacing = try configuration.resolved(configuration.timestepSpacing, key: "timestep_spacing",
                                                 default: TimestepSpacing.linspace, allowed: TimestepSpacing.allCases, scheduler: name)

        let trainingSigmas = schedule.sigmas
        var timesteps = InferenceTimesteps.dpmSolver(
            spacing, steps: steps, trainSteps: schedule.count,
            lastTimestep: schedule.count - Self.clippedCount(schedule, lambdaMin: configuration.lambdaMinClipped),
            offset: configuration.stepsOffset ?? 0)
        var sigmas: [Double]
        if karras {
            // Unlike the Euler family, DPM-Solver spans the Karras σ's over the whole training range.
            sigmas = SigmaSchedule.karras(sigmaMin: Double(trainingSigmas[0]),
                                          sigmaMax: Double(trainingSigmas[trainingSigmas.count - 1]), count: steps)
            let logs = SigmaSchedule.logSigmas(trainingSigmas)
            let roundsTimesteps = (configuration.betaSchedule ?? "linear") != BetaSchedule.squaredcosCapV2.rawValue
            timesteps = sigmas.map { sigma in
                let t = SigmaSchedule.timestep(forSigma: sigma, logSigmas: logs)
                // Rounded, or else truncated by the cast to int64.
                return roundsTimesteps ? NumPyArithmetic.round(t) : t.rounded(.towardZero)
            }
        } else {
            sigmas = SigmaSchedule.interpolated(at: timesteps, trainingSigmas: trainingSigmas)
        }
        let finalSigma: Float = finalSigmasType == .zero ? 0 : trainingSigmas[0]
        inferenceSteps = steps
        self.timesteps = timesteps.map(Float.init)
        self.sigmas = sigmas.map(Float.init) + [finalSigma]
    }

    /// How many of the noisiest timesteps `lambda_min_clipped` removes: the insertion point of λ_min in
    /// the ascending list of λ_t = log α_t − log σ_t (fp32), i.e. the count of λ_t below it.
    private static func clippedCount(_ schedule: TrainingNoiseSchedule, lambdaMin: Double?) -> Int {
        guard let lambdaMin, lambdaMin > -Double.infinity else { return 0 }
        let limit = Float(lambdaMin)
        return schedule.alphasCumprod.filter { alpha in
            Foundation.log(alpha.squareRoot()) - Foundation.log((1 - alpha).squareRoot()) < limit
        }.count
    }

    public func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor { sample }

    /// (α_t, σ_t) of the variance-preserving process at noise level σ (σ = σ_t/α_t), in fp32.
    private static func alphaSigma(_ sigma: Float) -> (alpha: Float, sigma: Float) {
        let alpha = 1 / (sigma * sigma + 1).squareRoot()
        return (alpha, sigma * alpha)
    }

    /// λ = log α − log σ (the half log-SNR); +∞ at σ = 0.
    private static func lambda(_ pair: (alpha: Float, sigma: Float)) -> Float {
        Foundation.log(pair.alpha) - Foundation.log(pair.sigma)
    }

    public mutating func step(modelOutput: Tensor, stepIndex i: Int, sample: Tensor,
                              generator: inout TorchGenerator) -> Tensor {
        let count = timesteps.count
        let isLast = i == count - 1
        let firstOrderHere = isLast && (eulerAtFinal || (lowerOrderFinal && count < 15) || finalSigmasType == .zero)

        // The model output as a data prediction x₀.
        let current = Self.alphaSigma(sigmas[i])
        let original: Tensor
        switch predictionType {
        case .epsilon:
            original = LatentArithmetic.map(sample, modelOutput) { s, m in (s - current.sigma * m) / current.alpha }
        case .vPrediction:
            original = LatentArithmetic.map(sample, modelOutput) { s, m in current.alpha * s - current.sigma * m }
        case .sample:
            original = modelOutput
        }

        let target = Self.alphaSigma(sigmas[i + 1])
        let h = Self.lambda(target) - Self.lambda(current)
        let sampleScale = target.sigma / current.sigma
        let step = target.alpha * (Foundation.exp(-h) - 1)
        let result: Tensor
        if let previous = previousOriginal, stepsTaken >= 1, !firstOrderHere {
            // Second order: D0 = x₀(s0), D1 = (x₀(s0) − x₀(s1)) / r0 with r0 = h₀/h.
            let before = Self.alphaSigma(sigmas[i - 1])
            let r0 = (Self.lambda(current) - Self.lambda(before)) / h
            let inverseR0 = 1 / r0
            switch solverType {
            case .midpoint:
                let half = 0.5 * step
                result = LatentArithmetic.map(sample, original, previous) { s, d0, m1 in
                    sampleScale * s - step * d0 - half * (inverseR0 * (d0 - m1))
                }
            case .heun:
                let correction = target.alpha * ((Foundation.exp(-h) - 1) / h + 1)
                result = LatentArithmetic.map(sample, original, previous) { s, d0, m1 in
                    sampleScale * s - step * d0 + correction * (inverseR0 * (d0 - m1))
                }
            }
        } else {
            // First order (DDIM in the data-prediction form).
            result = LatentArithmetic.map(sample, original) { s, d0 in sampleScale * s - step * d0 }
        }
        previousOriginal = original
        stepsTaken += 1
        return result
    }

    public func addNoise(original: Tensor, noise: Tensor, stepIndex: Int) -> Tensor {
        let (alpha, sigma) = Self.alphaSigma(sigmas[stepIndex])
        return LatentArithmetic.map(original, noise) { x, n in alpha * x + sigma * n }
    }
}
