// Noise levels σ for the k-diffusion style schedulers (Euler, Euler ancestral, Heun, LMS, DPM-Solver):
// σ at fractional timesteps by linear interpolation of the training σ's, the Karras et al. (2022)
// schedule, and the inverse map σ → timestep. Follows diffusers' `set_timesteps`,
// `_convert_to_karras` and `_sigma_to_t`, including which values they keep in fp32.
import Foundation

enum SigmaSchedule {
    /// Timesteps and σ's (without the final σ) of the Euler, Euler ancestral, Heun and LMS schedulers:
    /// fp32 timesteps for `spacing`, σ interpolated at them, and — for `use_karras_sigmas` — the Karras
    /// schedule between the extreme interpolated σ's (or `karrasRange` overrides, Euler's `sigma_min`
    /// / `sigma_max`), whose timesteps are then found back by `timestep(forSigma:)`.
    static func discrete(_ spacing: TimestepSpacing, steps: Int, schedule: TrainingNoiseSchedule, offset: Int,
                         karras: Bool, karrasRange: (min: Double?, max: Double?) = (nil, nil))
        -> (timesteps: [Float], sigmas: [Double]) {
        let trainingSigmas = schedule.sigmas
        var timesteps = InferenceTimesteps.standard(spacing, steps: steps, trainSteps: schedule.count,
                                                    offset: offset, integral: false)
        var sigmas = interpolated(at: timesteps, trainingSigmas: trainingSigmas)
        if karras {
            sigmas = Self.karras(sigmaMin: karrasRange.min ?? sigmas[sigmas.count - 1],
                                 sigmaMax: karrasRange.max ?? sigmas[0], count: steps)
            let logs = logSigmas(trainingSigmas)
            timesteps = sigmas.map { timestep(forSigma: $0, logSigmas: logs) }
        }
        return (timesteps.map(Float.init), sigmas)
    }

    /// `init_noise_sigma` of the Euler-family schedulers: σ_max for "linspace" and "trailing" spacing,
    /// √(σ_max² + 1) for "leading" (in fp32, as diffusers' tensor arithmetic).
    static func initNoiseSigma(_ sigmas: [Float], spacing: TimestepSpacing) -> Float {
        let largest = sigmas.max() ?? 0
        return spacing == .leading ? (largest * largest + 1).squareRoot() : largest
    }

    /// The factor `scale_model_input` divides by: √(σ² + 1) in fp32.
    static func inputScale(_ sigma: Float) -> Float { (sigma * sigma + 1).squareRoot() }

    /// `np.interp(timesteps, arange(T), σ_train)`: σ at each (possibly fractional) timestep, in double.
    static func interpolated(at timesteps: [Double], trainingSigmas: [Float]) -> [Double] {
        let table = trainingSigmas.map(Double.init)
        return timesteps.map { NumPyArithmetic.interp($0, table) }
    }

    /// Karras et al. (2022), eq. (5) with ρ = 7: `count` σ's from `sigmaMax` down to `sigmaMin`,
    /// evenly spaced in σ^(1/ρ).
    static func karras(sigmaMin: Double, sigmaMax: Double, count: Int) -> [Double] {
        let rho = 7.0
        let minInverse = pow(sigmaMin, 1 / rho), maxInverse = pow(sigmaMax, 1 / rho)
        return NumPyArithmetic.linspace(0, 1, count: count).map { ramp in
            pow(maxInverse + ramp * (minInverse - maxInverse), rho)
        }
    }

    /// log σ of the training σ's, as fp32 (NumPy's log of an fp32 array stays fp32).
    static func logSigmas(_ trainingSigmas: [Float]) -> [Float] {
        trainingSigmas.map { Float(Foundation.log(Double($0))) }
    }

    /// diffusers' `_sigma_to_t`: the fractional training timestep whose σ is `sigma`, by linear
    /// interpolation in log σ between the two neighbouring training timesteps.
    static func timestep(forSigma sigma: Double, logSigmas: [Float]) -> Double {
        let logSigma = Foundation.log(max(sigma, 1e-10))
        // The last index whose log σ is ≤ log `sigma` (0 if none), kept ≤ T − 2 to have a neighbour.
        var low = 0
        for (i, value) in logSigmas.enumerated() where logSigma - Double(value) >= 0 { low = i }
        low = min(low, logSigmas.count - 2)
        let lowValue = logSigmas[low], highValue = logSigmas[low + 1]
        // NumPy subtracts the two fp32 neighbours in fp32.
        var w = (Double(lowValue) - logSigma) / Double(lowValue - highValue)
        w = min(max(w, 0), 1)
        return (1 - w) * Double(low) + w * Double(low + 1)
    }
}
