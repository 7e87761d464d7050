// dbtrain's YAML configuration: train_dreambooth.py's keys and defaults, command-line overrides, and an
// error naming the key for every kind of mistake.
import Foundation
import Testing
@testable import Training

@Suite("Training: configuration")
struct TrainingConfigurationTests {
    static let minimal = """
        pretrained_model_name_or_path: models/tiny
        instance_data_dir: photos/dog
        instance_prompt: a photo of sks dog
        """

    @Test func defaultsAreTrainDreamboothDefaults() throws {
        let c = try TrainingConfiguration.load(yaml: Self.minimal)
        #expect(c.pretrainedModelNameOrPath == "models/tiny" && c.instancePrompt == "a photo of sks dog")
        #expect(c.learningRate == 5e-6 && c.lrScheduler == "constant" && c.lrWarmupSteps == 500)
        #expect(c.trainBatchSize == 4 && c.gradientAccumulationSteps == 1 && c.maxTrainSteps == nil)
        #expect(c.adamW == AdamWHyperparameters(beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 1e-2))
        #expect(c.maxGradNorm == 1 && c.priorLossWeight == 1 && c.numClassImages == 100 && c.resolution == 512)
        #expect(c.checkpointingSteps == 500 && c.validationSteps == 100 && c.loggingDir == "logs")
        #expect(!c.withPriorPreservation && !c.trainTextEncoder && !c.offsetNoise && c.snrGamma == nil && c.seed == nil)
    }

    @Test func fileValuesAndCommandLineOverrides() throws {
        let yaml = Self.minimal + """

            with_prior_preservation: true
            class_data_dir: class/dog
            class_prompt: a photo of dog
            learning_rate: 2e-6
            max_train_steps: 800
            lr_scheduler: cosine
            snr_gamma: 5
            """
        let c = try TrainingConfiguration.load(yaml: yaml, overrides: [
            "--max_train_steps", "400", "--train_text_encoder", "--seed=42", "--lr-warmup-steps", "0",
            "--validation_prompt", "a photo of sks dog in a bucket", "--center_crop", "false",
        ])
        #expect(c.withPriorPreservation && c.classPrompt == "a photo of dog" && c.learningRate == 2e-6)
        #expect(c.maxTrainSteps == 400 && c.trainTextEncoder && c.seed == 42 && c.lrWarmupSteps == 0)
        #expect(c.validationPrompt == "a photo of sks dog in a bucket" && !c.centerCrop && c.snrGamma == 5)
        let schedule = c.learningRateSchedule(totalSteps: 400)
        #expect(schedule.kind == .cosine && schedule.baseLearningRate == 2e-6 && schedule.totalSteps == 400)
    }

    @Test("every mistake names its key", arguments: [
        ("learning_rat: 1e-5", "learning_rat", "did you mean learning_rate?"),
        ("max_train_steps: many", "max_train_steps", "expected a whole number"),
        ("train_text_encoder: 3", "train_text_encoder", "expected true or false"),
        ("with_prior_preservation: true", "class_data_dir", "required with with_prior_preservation"),
        ("with_prior_preservation: true\nclass_data_dir: c", "class_prompt", "required with with_prior_preservation (or class_prompts)"),
        ("with_prior_preservation: true\nclass_data_dir: c\nclass_prompt: a dog\nclass_prompts: [a red dog]", "class_prompts", "not both"),
        ("with_prior_preservation: true\nclass_data_dir: c\nclass_prompts: []", "class_prompts", "names no prompt"),
        ("with_prior_preservation: true\nclass_data_dir: c\nclass_prompts: [a dog, ' ']", "class_prompts", "prompt 2 is empty"),
        ("resolution: 500", "resolution", "multiple of 8"),
        ("lr_scheduler: exponential", "lr_scheduler", "unknown schedule 'exponential'"),
        ("adam_beta2: 1.0", "adam_beta2", "[0, 1)"),
        ("gradient_accumulation_steps: 0", "gradient_accumulation_steps", "at least 1"),
        ("text_encoder_lr: -1e-4", "text_encoder_lr", "must be a positive number"),
        ("text_encoder_lr: 1e-4", "text_encoder_lr", "needs train_text_encoder: true"),
    ])
    func mistakes(line: String, key: String, message: String) {
        do {
            _ = try TrainingConfiguration.load(yaml: Self.minimal + "\n" + line, source: "train.yaml")
            Issue.record("\(line) was accepted")
        } catch let error as TrainingConfigurationError {
            #expect(error.key == key, "\(error)")
            #expect(error.description.contains(message), "\(error)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test("text_encoder_lr: the text encoder's own base rate on the UNet's schedule")
    func textEncoderLearningRate() throws {
        let yaml = Self.minimal + "\nlearning_rate: 2e-5\ntrain_text_encoder: true\nlr_scheduler: cosine\nlr_warmup_steps: 10"
        let own = try TrainingConfiguration.load(yaml: yaml + "\ntext_encoder_lr: 5e-4")
        let unet = own.learningRateSchedule(totalSteps: 100), text = own.textEncoderLearningRateSchedule(totalSteps: 100)
        #expect(unet.baseLearningRate == 2e-5 && text.baseLearningRate == 5e-4)
        for step in [0, 5, 10, 60, 99] {
            #expect(abs(text.learningRate(atStep: step) - 25 * unet.learningRate(atStep: step)) <= 1e-12, "step \(step)")
        }
        let same = try TrainingConfiguration.load(yaml: yaml)
        #expect(same.textEncoderLr == nil && same.textEncoderLearningRateSchedule(totalSteps: 100).baseLearningRate == 2e-5)
    }

    @Test("cache_latents: off unless asked for, in the file or on the command line")
    func cacheLatents() throws {
        #expect(try !TrainingConfiguration.load(yaml: Self.minimal).cacheLatents)
        #expect(try TrainingConfiguration.load(yaml: Self.minimal + "\ncache_latents: true").cacheLatents)
        #expect(try TrainingConfiguration.load(yaml: Self.minimal, overrides: ["--cache_latents"]).cacheLatents)
    }

    @Test("class_prompts: a YAML list, or one prompt on the command line")
    func classPrompts() throws {
        let yaml = Self.minimal + """

            with_prior_preservation: true
            class_data_dir: class/star
            class_prompts:
              - a star
              - a red star on a blue background
            """
        let c = try TrainingConfiguration.load(yaml: yaml)
        #expect(c.classPrompts == ["a star", "a red star on a blue background"] && c.classPrompt == nil)
        let one = try TrainingConfiguration.load(yaml: yaml, overrides: ["--class_prompts", "a green star"])
        #expect(one.classPrompts == ["a green star"])
    }

    @Test func missingRequiredKeyAndBadFiles() {
        #expect(throws: TrainingConfigurationError(key: "instance_prompt", "required, missing from train.yaml")) {
            try TrainingConfiguration.load(yaml: "pretrained_model_name_or_path: m\ninstance_data_dir: d", source: "train.yaml")
        }
        #expect(throws: TrainingConfigurationError(key: nil, "train.yaml must be a mapping of settings (key: value)")) {
            try TrainingConfiguration.load(yaml: "- a\n- b", source: "train.yaml")
        }
        #expect(throws: TrainingConfigurationError.self) { try TrainingConfiguration.load(yaml: "a: [unclosed", source: "train.yaml") }
        #expect(throws: TrainingConfigurationError(key: "max_steps", "unknown setting on the command line")) {
            try TrainingConfiguration.load(yaml: Self.minimal, overrides: ["--max_steps", "3"])
        }
        #expect(throws: TrainingConfigurationError(key: nil, "expected --setting value, found 'oops'")) {
            try TrainingConfiguration.load(yaml: Self.minimal, overrides: ["oops"])
        }
    }
}
