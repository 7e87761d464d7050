// The training noise schedule every scheduler starts from: betas over the training timesteps, and
// ᾱ_t = ∏(1 − β) (diffusers' `alphas_cumprod`). Follows the `__init__` of diffusers' schedulers and
// their `betas_for_alpha_bar` / `rescale_zero_terminal_snr`. diffusers keeps these as fp32 torch
// tensors, so they are computed here with the same operations in the same order (torch's fp32
// `linspace` is a fused multiply-add from the nearer end; its `cumprod` accumulates in double), which
// makes them equal bit for bit.
import Foundation

/// βₜ and ᾱₜ for t = 0 ..< numTrainTimesteps.
struct TrainingNoiseSchedule: Sendable {
    /// βₜ, fp32.
    let betas: [Float]
    /// ᾱₜ = ∏_{s≤t} (1 − β_s), fp32 (as `torch.cumprod`: a running product in double, stored as fp32).
    var alphasCumprod: [Float]

    var count: Int { alphasCumprod.count }

    /// The schedule of `configuration`, with `defaults` for keys the file does not have.
    /// - Parameters:
    ///   - allowsZeroTerminalSNR: whether this scheduler class takes `rescale_betas_zero_snr`
    ///     (classes without it ignore the key, as `from_config` does).
    ///   - clampsTerminalAlpha: Euler and DPM-Solver then set ᾱ_T = 2⁻²⁴ so that σ_T stays finite.
    init(_ configuration: SchedulerConfiguration, defaults: SchedulerDefaults, scheduler: String,
         allowsZeroTerminalSNR: Bool, clampsTerminalAlpha: Bool) throws(SchedulerError) {
        let count = configuration.numTrainTimesteps ?? 1000
        var betas: [Float]
        if let trained = configuration.trainedBetas {
            betas = trained.map { Float($0) }
        } else {
            let start = configuration.betaStart ?? defaults.betaStart
            let end = configuration.betaEnd ?? defaults.betaEnd
            let allowed: [BetaSchedule] = defaults.allowsExpBetas ? BetaSchedule.allCases : [.linear, .scaledLinear, .squaredcosCapV2]
            let schedule = try configuration.resolved(
                configuration.betaSchedule, key: "beta_schedule", default: defaults.betaSchedule,
                allowed: allowed, scheduler: scheduler)
            switch schedule {
            case .linear:
                betas = Self.torchLinspace(Float(start), Float(end), count: count)
            case .scaledLinear:
                betas = Self.torchLinspace(Float(start.squareRoot()), Float(end.squareRoot()), count: count).map { $0 * $0 }
            case .squaredcosCapV2:
                betas = Self.betasForAlphaBar(count: count) { t in
                    let c = cos((t + 0.008) / 1.008 * Double.pi / 2)
                    return c * c
                }
            case .exp:
                betas = Self.betasForAlphaBar(count: count) { t in Foundation.exp(t * -12.0) }
            }
        }
        let rescale = allowsZeroTerminalSNR && configuration.rescaleBetasZeroSnr == true
        if rescale { betas = Self.rescaledToZeroTerminalSNR(betas) }
        self.betas = betas
        self.alphasCumprod = Self.cumulativeProduct(betas.map { 1 - $0 })
        if rescale && clampsTerminalAlpha { alphasCumprod[alphasCumprod.count - 1] = 0x1p-24 }
    }

    /// σₜ = √((1 − ᾱₜ) / ᾱₜ) for every training timestep, in fp32 as diffusers computes it — except
    /// that the square root is IEEE's, where PyTorch's MKL build is up to 1 ulp off for some σ's.
    var sigmas: [Float] { alphasCumprod.map { ((1 - $0) / $0).squareRoot() } }

    /// `torch.linspace(start, end, count, dtype=float32)`: the first half counts up from `start`, the
    /// second half down from `end`, each value one fused multiply-add.
    static func torchLinspace(_ start: Float, _ end: Float, count: Int) -> [Float] {
        guard count > 1 else { return count == 1 ? [start] : [] }
        let step = (end - start) / Float(count - 1)
        let half = count / 2
        return (0..<count).map { i in
            i < half ? start.addingProduct(step, Float(i)) : end.addingProduct(-step, Float(count - 1 - i))
        }
    }

    /// `torch.cumprod` over fp32 on the CPU: the running product is accumulated in double (ATen's
    /// accumulation type for float) and each prefix rounded to fp32.
    static func cumulativeProduct(_ values: [Float]) -> [Float] {
        var product = 1.0
        return values.map { product *= Double($0); return Float(product) }
    }

    /// diffusers' `betas_for_alpha_bar`: βᵢ = min(1 − ᾱ((i+1)/T) / ᾱ(i/T), 0.999), in double.
    static func betasForAlphaBar(count: Int, alphaBar: (Double) -> Double) -> [Float] {
        (0..<count).map { i in
            let t1 = Double(i) / Double(count), t2 = Double(i + 1) / Double(count)
            return Float(min(1 - alphaBar(t2) / alphaBar(t1), 0.999))
        }
    }

    /// diffusers' `rescale_zero_terminal_snr` (Lin et al. 2023, Algorithm 1): shifts and scales √ᾱ
    /// so that the last timestep has zero SNR while the first keeps its value.
    static func rescaledToZeroTerminalSNR(_ betas: [Float]) -> [Float] {
        var root = cumulativeProduct(betas.map { 1 - $0 }).map { $0.squareRoot() }
        let first = root[0], last = root[root.count - 1]
        let scale = first / (first - last)
        for i in root.indices { root[i] = (root[i] - last) * scale }
        let alphaBar = root.map { $0 * $0 }
        var out = [Float](repeating: 0, count: betas.count)
        out[0] = 1 - alphaBar[0]
        for i in 1..<alphaBar.count { out[i] = 1 - alphaBar[i] / alphaBar[i - 1] }
        return out
    }
}

/// The `__init__` defaults of one diffusers scheduler class that the training schedule depends on.
struct SchedulerDefaults: Sendable {
    var betaStart = 0.0001
    var betaEnd = 0.02
    var betaSchedule = BetaSchedule.linear
    /// Only HeunDiscreteScheduler knows `beta_schedule: "exp"`.
    var allowsExpBetas = false

    /// DDIM, PNDM, Euler, Euler ancestral, DPM-Solver and LMS.
    static let common = SchedulerDefaults()
    /// HeunDiscreteScheduler (its own "sensible defaults" for beta_start/beta_end).
    static let heun = SchedulerDefaults(betaStart: 0.00085, betaEnd: 0.012, allowsExpBetas: true)
    /// LCMScheduler: SD's own schedule by default.
    static let lcm = SchedulerDefaults(betaStart: 0.00085, betaEnd: 0.012, betaSchedule: .scaledLinear)
}
