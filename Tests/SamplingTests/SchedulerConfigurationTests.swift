// Reading scheduler_config.json as diffusers' `from_config` does, the defaults per scheduler class,
// the typed errors for unknown samplers and unsupported values, and the img2img start index.
// No fixtures: the expected values are diffusers' documented defaults and SD 1.5's published config.
import Foundation
import Testing
import Sampling

/// Stable Diffusion 1.5's `scheduler/scheduler_config.json`, verbatim.
private let sd15JSON = """
{
  "_class_name": "PNDMScheduler",
  "_diffusers_version": "0.6.0",
  "beta_end": 0.012,
  "beta_schedule": "scaled_linear",
  "beta_start": 0.00085,
  "num_train_timesteps": 1000,
  "set_alpha_to_one": false,
  "skip_prk_steps": true,
  "steps_offset": 1,
  "trained_betas": null,
  "clip_sample": false
}
"""

@Suite struct SchedulerConfigurationTests {
    @Test func readsStableDiffusion15sConfigurationLikeTheBuiltInDefault() throws {
        let parsed = try SchedulerConfiguration.decode(Data(sd15JSON.utf8))
        #expect(parsed == .stableDiffusion1)
        #expect(parsed.timestepSpacing == nil, "absent keys stay absent, for each class to default")
    }

    /// Python's json module writes DPM-Solver's default λ_min as `-Infinity`.
    @Test func acceptsPythonsInfinity() throws {
        let parsed = try SchedulerConfiguration.decode(Data(#"{"lambda_min_clipped": -Infinity, "solver_order": 2}"#.utf8))
        #expect(parsed.lambdaMinClipped == -.infinity)
        #expect(parsed.solverOrder == 2)
    }

    @Test func malformedJSONIsAnError() {
        #expect(throws: SchedulerError.self) { try SchedulerConfiguration.decode(Data("{ nope".utf8), path: "x.json") }
    }

    /// SD 1.5 folders carry no `timestep_spacing`: PNDM and DDIM default to "leading", the Euler and
    /// DPM family to "linspace" (so their first timestep is 999, not 981 + 1).
    @Test func absentKeysTakeEachSchedulersOwnDefault() throws {
        let config = SchedulerConfiguration.stableDiffusion1
        let ddim = try SchedulerFactory.make(name: "ddim", configuration: config, steps: 50)
        #expect(ddim.timesteps.first == 981)
        let pndm = try SchedulerFactory.make(name: "pndm", configuration: config, steps: 50)
        #expect(pndm.timesteps.prefix(3) == [981, 961, 961])
        for name in ["euler", "euler_a", "dpmpp_2m", "heun", "lms"] {
            let scheduler = try SchedulerFactory.make(name: name, configuration: config, steps: 50)
            #expect(scheduler.timesteps.first == 999, "\(name)")
        }
    }

    @Test func everySamplerNameMakesItsScheduler() throws {
        let classes = try SchedulerFactory.samplerNames.map {
            try SchedulerFactory.make(name: $0, configuration: .stableDiffusion1, steps: 10).className
        }
        #expect(classes == ["DDIMScheduler", "PNDMScheduler", "EulerDiscreteScheduler", "EulerAncestralDiscreteScheduler",
                            "DPMSolverMultistepScheduler", "DPMSolverMultistepScheduler", "HeunDiscreteScheduler",
                            "LMSDiscreteScheduler", "LCMScheduler"])
    }

    @Test("LCM renders at most original_inference_steps steps, from the distillation schedule")
    func lcmStepLimits() throws {
        #expect(throws: SchedulerError.invalidStepCount(steps: 51, maximum: 50)) {
            try SchedulerFactory.make(name: "lcm", configuration: .stableDiffusion1, steps: 51)
        }
        var config = SchedulerConfiguration.stableDiffusion1
        config.originalInferenceSteps = 0
        #expect(throws: SchedulerError.unsupportedValue(key: "original_inference_steps", value: "0", scheduler: "LCMScheduler")) {
            try SchedulerFactory.make(name: "lcm", configuration: config, steps: 4)
        }
        // 4 steps: indices 0, 12, 25, 37 of the 50 timesteps 999, 979, …, 19.
        #expect(try SchedulerFactory.make(name: "lcm", configuration: .stableDiffusion1, steps: 4).timesteps == [999, 759, 499, 259])
        #expect(try SchedulerFactory.make(name: "lcm", configuration: .stableDiffusion1, steps: 50).timesteps.last == 19)
    }

    @Test func unknownSamplerListsTheValidNames() {
        #expect(throws: SchedulerError.unknownSampler(name: "dpm2", validNames: SchedulerFactory.samplerNames)) {
            try SchedulerFactory.make(name: "dpm2", configuration: .stableDiffusion1, steps: 10)
        }
    }

    @Test func unsupportedValuesNameTheKey() {
        var config = SchedulerConfiguration.stableDiffusion1
        config.betaSchedule = "sigmoid"
        #expect(throws: SchedulerError.unsupportedValue(key: "beta_schedule", value: "sigmoid", scheduler: "EulerDiscreteScheduler")) {
            try SchedulerFactory.make(name: "euler", configuration: config, steps: 10)
        }
        config = .stableDiffusion1
        config.timestepSpacing = "uniform"
        #expect(throws: SchedulerError.unsupportedValue(key: "timestep_spacing", value: "uniform", scheduler: "DDIMScheduler")) {
            try SchedulerFactory.make(name: "ddim", configuration: config, steps: 10)
        }
        config = .stableDiffusion1
        config.thresholding = true
        #expect(throws: SchedulerError.unsupportedValue(key: "thresholding", value: "true", scheduler: "DPMSolverMultistepScheduler")) {
            try SchedulerFactory.make(name: "dpmpp_2m", configuration: config, steps: 10)
        }
        config = .stableDiffusion1
        config.predictionType = "sample"
        #expect(throws: SchedulerError.unsupportedValue(key: "prediction_type", value: "sample", scheduler: "EulerAncestralDiscreteScheduler")) {
            try SchedulerFactory.make(name: "euler_a", configuration: config, steps: 10)
        }
    }

    @Test func stepCountsOutsideTheTrainingRangeAreErrors() {
        #expect(throws: SchedulerError.invalidStepCount(steps: 0, maximum: 1000)) {
            try SchedulerFactory.make(name: "euler_a", configuration: .stableDiffusion1, steps: 0)
        }
        #expect(throws: SchedulerError.invalidStepCount(steps: 1001, maximum: 1000)) {
            try SchedulerFactory.make(name: "ddim", configuration: .stableDiffusion1, steps: 1001)
        }
    }

    /// diffusers' get_timesteps: ⌊steps·strength⌋ steps run; Heun skips two timesteps per step.
    @Test func imageToImageStartIndex() throws {
        let euler = try SchedulerFactory.make(name: "euler", configuration: .stableDiffusion1, steps: 30)
        #expect(try euler.firstStepIndex(strength: 0.6) == 12)
        #expect(try euler.firstStepIndex(strength: 1) == 0)
        #expect(try euler.firstStepIndex(strength: 0) == 30)
        let heun = try SchedulerFactory.make(name: "heun", configuration: .stableDiffusion1, steps: 30)
        #expect(try heun.firstStepIndex(strength: 0.6) == 24)
        #expect(throws: SchedulerError.invalidStrength(1.5)) { try heun.firstStepIndex(strength: 1.5) }
    }

    @Test func errorsDescribeThemselves() {
        let error = SchedulerError.unknownSampler(name: "x", validNames: ["ddim", "euler"])
        #expect(error.description == "unknown sampler 'x'; valid samplers: ddim, euler")
    }
}
