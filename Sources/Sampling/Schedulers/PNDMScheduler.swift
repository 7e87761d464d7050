// Pseudo numerical methods for diffusion models (Liu et al. 2022, "PNDM"), sampler name `pndm`.
// Follows diffusers' PNDMScheduler. With `skip_prk_steps` (SD 1.x's configuration) it is PLMS: a
// 4th-order linear multistep method on ε, warmed up by a 2nd-order step that evaluates the model twice
// at the first timestep pair (so `timesteps` repeats one timestep). Without it, the first steps are
// Runge–Kutta steps (4 evaluations each) before PLMS takes over, as in the paper. State — the past ε's
// and a call counter — lives in the value, as in diffusers.
import Tensor

/// diffusers' `PNDMScheduler`.
public struct PNDMScheduler: Scheduler {
    public let className = "PNDMScheduler"
    public let inferenceSteps: Int
    public let order = 1
    public let timesteps: [Float]
    public let sigmas: [Float] = []
    public let initNoiseSigma: Float = 1

    private let alphasCumprod: [Float]
    private let finalAlphaCumprod: Float
    public let predictionType: PredictionType
    private let skipPRKSteps: Bool
    /// How many leading entries of `timesteps` are Runge–Kutta evaluations (0 with `skip_prk_steps`).
    private let prkCount: Int
    /// T / steps (integer division): the distance diffusers assumes between consecutive timesteps.
    private let stride: Int

    private var counter = 0
    /// Past ε estimates, newest last (at most 4 are used).
    private var history: [Tensor] = []
    /// Runge–Kutta: the weighted sum of the ε's of the current step so far.
    private var rungeKuttaSum: Tensor?
    /// The sample at the start of the current multi-evaluation step.
    private var stepStart: Tensor?

    /// A PNDM scheduler for `steps` denoising steps.
    public init(configuration: SchedulerConfiguration, steps: Int) throws(SchedulerError) {
        let name = "PNDMScheduler"
        let schedule = try TrainingNoiseSchedule(configuration, defaults: .common, scheduler: name,
                                                 allowsZeroTerminalSNR: false, clampsTerminalAlpha: false)
        guard steps >= 1 && steps <= schedule.count else { throw .invalidStepCount(steps: steps, maximum: schedule.count) }
        let spacing = try configuration.resolved(configuration.timestepSpacing, key: "timestep_spacing",
                                                 default: TimestepSpacing.leading, allowed: TimestepSpacing.allCases, scheduler: name)
        predictionType = try configuration.resolved(configuration.predictionType, key: "prediction_type",
                                                    default: .epsilon, allowed: [.epsilon, .vPrediction], scheduler: name)
        skipPRKSteps = configuration.skipPrkSteps ?? false
        alphasCumprod = schedule.alphasCumprod
        finalAlphaCumprod = (configuration.setAlphaToOne ?? false) ? 1 : schedule.alphasCumprod[0]
        inferenceSteps = steps
        stride = schedule.count / steps

        let ascending = Array(InferenceTimesteps.standard(spacing, steps: steps, trainSteps: schedule.count,
                                                          offset: configuration.stepsOffset ?? 0, integral: true).reversed())
        var prk: [Double] = [], plms: [Double]
        if skipPRKSteps {
            // The second-to-last timestep twice: PLMS's warm-up evaluates the model at both ends of it.
            plms = Array(ascending.dropLast()) + Array(ascending.dropLast().suffix(1)) + Array(ascending.suffix(1))
            plms.reverse()
        } else {
            // Each of the last four timesteps t and its midpoint t + stride/2, in the pattern the
            // Runge–Kutta steps evaluate: t, t+½, t+½, t+1 per step (diffusers' repeat/tile/slice).
            let halfStride = Double(stride / 2)
            let pairs = ascending.suffix(4).flatMap { [$0, $0 + halfStride] }
            prk = Array(pairs.dropLast().flatMap { [$0, $0] }.dropFirst().dropLast().reversed())
            plms = Array(ascending.dropLast(3).reversed())
        }
        prkCount = prk.count
        timesteps = (prk + plms).map(Float.init)
    }

    public func scaleModelInput(_ sample: Tensor, stepIndex: Int) -> Tensor { sample }

    public mutating func step(modelOutput: Tensor, stepIndex: Int, sample: Tensor,
                              generator: inout TorchGenerator) -> Tensor {
        let t = Int(timesteps[stepIndex])
        let result = counter < prkCount && !skipPRKSteps
            ? rungeKuttaStep(modelOutput, t: t, sample: sample)
            : linearMultistepStep(modelOutput, t: t, sample: sample)
        counter += 1
        return result
    }

    /// diffusers' `step_prk`: four evaluations per step, combined with weights 1/6, 1/3, 1/3, 1/6.
    private mutating func rungeKuttaStep(_ modelOutput: Tensor, t: Int, sample: Tensor) -> Tensor {
        let previousT = t - (counter % 2 == 1 ? 0 : stride / 2)
        let stepT = Int(timesteps[counter / 4 * 4])
        var epsilon = modelOutput
        switch counter % 4 {
        case 0:
            rungeKuttaSum = Self.accumulate(rungeKuttaSum, modelOutput, weight: Float(1.0 / 6.0))
            history.append(modelOutput)
            stepStart = sample
        case 1, 2:
            rungeKuttaSum = Self.accumulate(rungeKuttaSum, modelOutput, weight: Float(1.0 / 3.0))
        default:
            let sixth = Float(1.0 / 6.0)
            epsilon = rungeKuttaSum.map { sum in LatentArithmetic.map(sum, modelOutput) { a, m in a + sixth * m } }
                ?? LatentArithmetic.map(modelOutput) { sixth * $0 }
            rungeKuttaSum = nil
        }
        return previousSample(stepStart ?? sample, t: stepT, previousT: previousT, epsilon: epsilon)
    }

    private static func accumulate(_ sum: Tensor?, _ value: Tensor, weight: Float) -> Tensor {
        guard let sum else { return LatentArithmetic.map(value) { weight * $0 } }
        return LatentArithmetic.map(sum, value) { a, m in a + weight * m }
    }

    /// diffusers' `step_plms`: Adams–Bashforth on ε of orders 1…4, with a second-order warm-up.
    private mutating func linearMultistepStep(_ modelOutput: Tensor, t stepT: Int, sample: Tensor) -> Tensor {
        var t = stepT, previousT = stepT - stride
        if counter != 1 {
            history = Array(history.suffix(3)) + [modelOutput]
        } else {
            // The warm-up's second evaluation: it is at the previous timestep, and redoes the step from
            // the first evaluation's start with the mean of the two ε's.
            previousT = t
            t += stride
        }
        var x = sample
        let epsilon: Tensor
        switch (history.count, counter) {
        case (1, 0):
            epsilon = modelOutput
            stepStart = sample
        case (1, 1):
            epsilon = LatentArithmetic.map(modelOutput, history[0]) { m, e in (m + e) / 2 }
            x = stepStart ?? sample
            stepStart = nil
        case (2, _):
            epsilon = LatentArithmetic.map(history[1], history[0]) { e1, e2 in (3 * e1 - e2) / 2 }
        case (3, _):
            epsilon = LatentArithmetic.map(history[2], history[1], history[0]) { e1, e2, e3 in
                (23 * e1 - 16 * e2 + 5 * e3) / 12
            }
        default:
            let n = history.count
            let e4 = history[n - 4]
            let partial = LatentArithmetic.map(history[n - 1], history[n - 2], history[n - 3]) { e1, e2, e3 in
                55 * e1 - 59 * e2 + 37 * e3
            }
            let twentyFourth = Float(1.0 / 24.0)
            epsilon = LatentArithmetic.map(partial, e4) { p, e in twentyFourth * (p - 9 * e) }
        }
        return previousSample(x, t: t, previousT: previousT, epsilon: epsilon)
    }

    /// Eq. (9) of the paper, diffusers' `_get_prev_sample`: x_{t−δ} from x_t and ε.
    private func previousSample(_ sample: Tensor, t: Int, previousT: Int, epsilon: Tensor) -> Tensor {
        let alpha = alphasCumprod[t]
        let alphaPrevious = previousT >= 0 ? alphasCumprod[previousT] : finalAlphaCumprod
        let beta = 1 - alpha, betaPrevious = 1 - alphaPrevious
        var e = epsilon
        if predictionType == .vPrediction {
            let a = alpha.squareRoot(), b = beta.squareRoot()
            e = LatentArithmetic.map(epsilon, sample) { v, s in a * v + b * s }
        }
        let sampleCoefficient = (alphaPrevious / alpha).squareRoot()
        let denominator = alpha * betaPrevious.squareRoot() + (alpha * beta * alphaPrevious).squareRoot()
        let difference = alphaPrevious - alpha
        return LatentArithmetic.map(sample, e) { s, m in sampleCoefficient * s - (difference * m) / denominator }
    }

    public func alphaBar(stepIndex: Int) -> Float { alphasCumprod[Int(timesteps[stepIndex])] }

    public func addNoise(original: Tensor, noise: Tensor, stepIndex: Int) -> Tensor {
        let alpha = alphasCumprod[Int(timesteps[stepIndex])]
        let a = alpha.squareRoot(), b = (1 - alpha).squareRoot()
        return LatentArithmetic.map(original, noise) { x, n in a * x + b * n }
    }
}
