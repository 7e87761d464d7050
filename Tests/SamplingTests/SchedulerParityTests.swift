// Every sampler against diffusers over whole denoising loops: text-to-image and image-to-image
// (strength 0.6), 7 and 25 steps, epsilon and v-prediction, each timestep spacing, Karras σ's, PNDM
// with and without its Runge–Kutta warm-up, configurations with no keys (each class's defaults),
// zero-terminal-SNR and cosine betas. The UNet is replaced by a fixed function of the scaled input and
// the timestep; ancestral noise comes from the same seeded generator as in diffusers' pipelines.
// Fixtures: Tests/Fixtures/make_scheduler_fixtures.py → schedulers.safetensors (cases in its metadata).
//
// Tolerances:
// - timesteps: exact (they select training timesteps and are fed to the UNet) — except the fractional
//   timesteps of the Euler-family classes with Karras σ's, which may differ by 6.1e-5 in timestep
//   units (one fp32 spacing near t = 999; the UNet's sinusoidal timestep embedding is smooth, so this
//   is invisible). diffusers maps σ back to t through NumPy's fp32 `log`, whose SIMD implementation
//   is not correctly rounded (here it differs from the correctly rounded log for 197 of the 1000
//   training σ's, and it differs between AVX2 and AVX-512 machines); we use the correctly rounded
//   log. (`dpmpp_2m_karras` rounds its timesteps, and is exact.)
// - σ's and init_noise_sigma: 2e-7 relative, element by element (fp32 values, at most an ulp apart:
//   diffusers' σ_t = ((1 − ᾱ)/ᾱ) ** 0.5 goes through PyTorch's fp32 sqrt, which in its MKL build is
//   not correctly rounded — 1 ulp off for 190 of the 1000 training σ's — and we use IEEE sqrt).
// - latents after every step: 1e-5 relative to the tensor's scale. Both sides do the same fp32
//   operations in the same order, so agreement is within a few ulp per step (measured: ≤ 7e-7 in
//   every case but the zero-terminal-SNR ones); the bound leaves room for growth over 25 steps.
// - zero-terminal-SNR cases: σ's to 2e-6 and latents to 5e-5. diffusers' `rescale_zero_terminal_snr`
//   takes `Tensor.sqrt()`, which in PyTorch's MKL build is not correctly rounded (1 ulp off for 182 of
//   the 1000 ᾱ's); the rescale subtracts nearly equal numbers, so the last σ's inherit ~1e-6 relative
//   differences, and the first Euler step from σ = 4096 cancels most of the sample's magnitude
//   (measured: 2.3e-5 for Euler, 7e-7 for DDIM).
// - LMS coefficients: 5e-6 relative. diffusers integrates with scipy's `quad` over an integrand it
//   evaluates in fp32; we evaluate it the same way and apply quad's Gauss–Kronrod rule, which gives
//   diffusers' values exactly from diffusers' σ's. From ours (see above, ≤ 1 ulp apart) they move by
//   up to ~2e-6, because the Lagrange weights divide by differences of neighbouring σ's.
import Foundation
import Testing
import Sampling
import Tensor
import TestSupport

private let fixture = try! Fixtures.open("schedulers")

/// One golden loop, as listed in the fixture's metadata.
struct SchedulerCase: Decodable, CustomTestStringConvertible, Sendable {
    let id: String
    let sampler: String
    let configuration: SchedulerConfiguration
    let steps: Int
    let seed: UInt64
    let eta: Double
    let strength: Double?
    var testDescription: String { id }

    /// `rescale_betas_zero_snr`: see the tolerances above.
    var isZeroTerminalSNR: Bool { configuration.rescaleBetasZeroSnr == true }
    /// Euler-family Karras σ's, whose timesteps are fractional: see the tolerances above.
    var hasFractionalTimesteps: Bool {
        configuration.useKarrasSigmas == true && ["euler", "heun", "lms"].contains(sampler)
    }
}


private let cases: [SchedulerCase] = {
    let json = fixture.file.metadata["cases"] ?? "[]"
    return try! JSONDecoder().decode([SchedulerCase].self, from: Data(json.utf8))
}()

/// diffusers' test stand-in for the UNet: 0.1·input + sin(t/100)·fake_noise (sin in double).
private func fakeUNet(_ input: Tensor, timestep: Float) -> Tensor {
    let noise = fixture["fake_noise"]
    let c = Float(sin(Double(timestep) / 100))
    let tenth = Float(0.1)
    let out = Tensor(uninitialized: input.shape)
    for i in 0..<input.count { out.pointer[i] = tenth * input.pointer[i] + c * noise.pointer[i] }
    return out
}

/// Largest element-wise relative difference |a − e| / |e| (0 where both are 0).
private func elementwiseRelativeDifference(_ actual: [Float], _ expected: [Float]) -> Float {
    guard actual.count == expected.count else { return .infinity }
    return zip(actual, expected).map { a, e in a == e ? 0 : abs(a - e) / abs(e) }.max() ?? 0
}

private func relativeDifference(_ actual: [Float], _ expected: [Float]) -> Float {
    guard actual.count == expected.count else { return .infinity }
    let scale = max(expected.map(abs).max() ?? 0, 1e-30)
    return zip(actual, expected).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
}

@Suite struct SchedulerParityTests {
    @Test func fixtureListsCasesForEverySampler() {
        #expect(Set(cases.map(\.sampler)) == Set(SchedulerFactory.samplerNames))
        #expect(cases.count >= 80)
    }

    @Test(arguments: cases)
    func loopMatchesDiffusers(_ c: SchedulerCase) throws {
        var scheduler = try SchedulerFactory.make(name: c.sampler, configuration: c.configuration, steps: c.steps, eta: c.eta)

        let expectedTimesteps = fixture["\(c.id).timesteps"].scalars
        if c.hasFractionalTimesteps {
            #expect(scheduler.timesteps.count == expectedTimesteps.count)
            let worst = zip(scheduler.timesteps, expectedTimesteps).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 6.1e-5, "timesteps differ by up to \(worst)")
        } else {
            #expect(scheduler.timesteps == expectedTimesteps, "timesteps")
        }
        let sigmaTolerance: Float = c.isZeroTerminalSNR ? 2e-6 : 2e-7
        let latentTolerance: Float = c.isZeroTerminalSNR ? 5e-5 : 1e-5
        if fixture.has("\(c.id).sigmas") {
            let d = elementwiseRelativeDifference(scheduler.sigmas, fixture["\(c.id).sigmas"].scalars)
            #expect(d <= sigmaTolerance, "sigmas differ by \(d)")
        } else {
            #expect(scheduler.sigmas.isEmpty)
        }
        let initSigma = fixture["\(c.id).init_noise_sigma"].scalars[0]
        #expect(abs(scheduler.initNoiseSigma - initSigma) <= 2e-7 * initSigma, "init_noise_sigma \(scheduler.initNoiseSigma) vs \(initSigma)")

        var generator = TorchGenerator(seed: c.seed)
        let first = try c.strength.map { try scheduler.firstStepIndex(strength: $0) } ?? 0
        #expect(Float(first) == fixture["\(c.id).first_index"].scalars[0])
        var latents: Tensor
        if c.strength == nil {
            let sigma = scheduler.initNoiseSigma
            let noise = generator.randn([1, 4, 4, 4])
            latents = Tensor(shape: noise.shape, values: noise.scalars.map { $0 * sigma })
        } else {
            let noise = generator.randn([1, 4, 4, 4])
            latents = scheduler.addNoise(original: fixture["original_latents"], noise: noise, stepIndex: first)
        }

        let expected = fixture["\(c.id).samples"]
        let perStep = 64
        #expect(expected.count == (scheduler.timesteps.count - first) * perStep, "loop length")
        let lms = fixture.has("\(c.id).lms_coefficients") ? fixture["\(c.id).lms_coefficients"].scalars : nil
        for i in first..<scheduler.timesteps.count {
            if let lms, let lmsScheduler = scheduler as? LMSDiscreteScheduler {
                let order = min(i + 1, 4)
                for k in 0..<order {
                    let want = lms[(i - first) * 4 + k]
                    let got = Float(lmsScheduler.coefficient(order: order, stepIndex: i, term: k))
                    #expect(abs(got - want) <= 5e-6 * max(abs(want), 1e-3), "LMS coefficient \(k) at step \(i): \(got) vs \(want)")
                }
            }
            let input = scheduler.scaleModelInput(latents, stepIndex: i)
            let output = fakeUNet(input, timestep: scheduler.timesteps[i])
            latents = scheduler.step(modelOutput: output, stepIndex: i, sample: latents, generator: &generator)
            let offset = (i - first) * perStep
            guard offset + perStep <= expected.count else { break }
            let want = Array(expected.buffer[offset..<(offset + perStep)])
            let d = relativeDifference(latents.scalars, want)
            #expect(d <= latentTolerance, "step \(i) (t = \(scheduler.timesteps[i])): latents differ by \(d) relative to scale")
        }
    }
}
