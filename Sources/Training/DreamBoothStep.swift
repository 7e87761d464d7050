// One step of DreamBooth fine-tuning, as the inner loop of diffusers' train_dreambooth.py runs it:
//   latents  = (mean + std·ε_vae) · scaling_factor          (VAE frozen: encoder forward only)
//   x_t      = DDPM add_noise(latents, noise, t)
//   context  = text_encoder(tokens)                           (trained, or frozen)
//   pred     = unet(x_t, t, context);  target = noise (or velocity)
//   loss     = DreamBoothLoss(pred, target)  →  pullbacks of the UNet (and the text encoder)
// With LoRA (train_dreambooth_lora.py) the networks stay frozen and the same pullbacks carry the LoRA
// factors' gradients instead (RowAdapters), the only parameters on the arenas.
// Gradients add up over micro-batches (each scaled by 1/accumulation, as accelerate scales the loss);
// then the global norm over every trained parameter is clipped, AdamW steps and gradients are zeroed.
import Foundation
import Models
import Sampling
import Tensor
import Weights

/// The three networks, with the trained ones on parameter arenas — or, with LoRA, the frozen base
/// networks and the LoRA factors on the arenas.
public final class DreamBoothModels: @unchecked Sendable {
    public let unet: UNet2DCondition
    /// The UNet's trained parameters: its weights, or its LoRA factors.
    public let unetParameters: ParameterArena
    public let textEncoder: CLIPTextEncoder
    /// nil when the text encoder is frozen (`train_text_encoder: false`).
    public let textEncoderParameters: ParameterArena?
    public let vae: AutoencoderKL
    /// With `use_lora`: the LoRAs being trained (the networks above are then the mapped base).
    public let unetLoRA: TrainableLoRA?
    public let textEncoderLoRA: TrainableLoRA?

    /// How a LoRA run adapts the networks.
    public struct LoRASettings: Sendable {
        public var rank: Int
        public var alpha: Double
        public var unetTargets: [String]
        public var textEncoderTargets: [String]
        /// Seeds the factors' initial draw.
        public var seed: UInt64
        public init(rank: Int, alpha: Double, unetTargets: [String], textEncoderTargets: [String], seed: UInt64) {
            self.rank = rank; self.alpha = alpha; self.unetTargets = unetTargets
            self.textEncoderTargets = textEncoderTargets; self.seed = seed
        }
    }

    /// Copies the trained networks' weights out of `checkpoint` into arenas; the VAE (and a frozen
    /// text encoder) stay mapped from the file. With `lora`, every network stays mapped and only the
    /// LoRA factors train (the text encoder's when `trainTextEncoder`).
    public init(checkpoint: ModelCheckpoint, trainTextEncoder: Bool, lora: LoRASettings? = nil) throws {
        let c = checkpoint.configurations
        vae = try AutoencoderKL(configuration: c.vae, parameters: checkpoint.source(.vae))
        if let lora {
            for (component, targets, key) in [(ModelComponent.unet, lora.unetTargets, "lora_target_modules"),
                                              (.textEncoder, trainTextEncoder ? lora.textEncoderTargets : [], "lora_text_encoder_target_modules")]
            where !targets.isEmpty && TrainableLoRA.modules(of: checkpoint.source(component), targets: targets).isEmpty {
                throw TrainingConfigurationError(key: key, "\(targets.joined(separator: ", ")) match no linear layer of the \(component.rawValue)")
            }
            unet = try UNet2DCondition(configuration: c.unet, parameters: checkpoint.source(.unet))
            textEncoder = try CLIPTextEncoder(configuration: c.textEncoder, parameters: checkpoint.source(.textEncoder))
            let unetLoRA = try TrainableLoRA(modules: TrainableLoRA.modules(of: checkpoint.source(.unet), targets: lora.unetTargets),
                                             rank: lora.rank, alpha: lora.alpha, seed: lora.seed)
            self.unetLoRA = unetLoRA
            unetParameters = unetLoRA.arena
            textEncoderLoRA = trainTextEncoder
                ? try TrainableLoRA(modules: TrainableLoRA.modules(of: checkpoint.source(.textEncoder), targets: lora.textEncoderTargets),
                                    rank: lora.rank, alpha: lora.alpha, seed: lora.seed &+ 1)
                : nil
            textEncoderParameters = textEncoderLoRA?.arena
            return
        }
        unetLoRA = nil
        textEncoderLoRA = nil
        (unet, unetParameters) = try ParameterArena.build(from: checkpoint.source(.unet)) {
            try UNet2DCondition(configuration: c.unet, parameters: $0)
        }
        if trainTextEncoder {
            let (encoder, arena) = try ParameterArena.build(from: checkpoint.source(.textEncoder)) {
                try CLIPTextEncoder(configuration: c.textEncoder, parameters: $0)
            }
            textEncoder = encoder
            textEncoderParameters = arena
        } else {
            textEncoder = try CLIPTextEncoder(configuration: c.textEncoder, parameters: checkpoint.source(.textEncoder))
            textEncoderParameters = nil
        }
    }

    /// Every arena that trains, UNet first.
    public var arenas: [ParameterArena] { [unetParameters] + (textEncoderParameters.map { [$0] } ?? []) }

    /// The LoRAs being trained, as a render applies them (validation images); empty without LoRA.
    public var loraUses: [LoRAUse] {
        var updates: [LoRAComponent: [String: LowRankUpdate]] = [:]
        if let unetLoRA { updates[.unet] = unetLoRA.updates }
        if let textEncoderLoRA { updates[.textEncoder] = textEncoderLoRA.updates }
        guard !updates.isEmpty else { return [] }
        return [LoRAUse(name: "training", weights: LoRAWeights(url: URL(fileURLWithPath: "training"), updates: updates), weight: 1)]
    }
}

/// The random draws of one micro-batch, explicit so that a test can replay PyTorch's.
public struct DreamBoothNoise {
    /// ε of the VAE posterior sample.  // [N, 4, h, w]
    public var latentSample: Tensor
    /// The noise added to the latents (offset noise already included).  // [N, 4, h, w]
    public var noise: Tensor
    public var timesteps: [Int]
    public init(latentSample: Tensor, noise: Tensor, timesteps: [Int]) {
        self.latentSample = latentSample; self.noise = noise; self.timesteps = timesteps
    }

    /// The draws of `rows` only, in that order: one rank's slice of a global batch's draws.
    public func rows(_ rows: [Int]) -> DreamBoothNoise {
        func gather(_ tensor: Tensor) -> Tensor {
            let picked = Tensor(uninitialized: [rows.count] + tensor.shape.dropFirst())
            for (i, row) in rows.enumerated() { picked[i].assign(tensor[row]) }
            return picked
        }
        return DreamBoothNoise(latentSample: gather(latentSample), noise: gather(noise), timesteps: rows.map { timesteps[$0] })
    }
}

/// Runs micro-batches forward and backward, and applies the accumulated gradients.
public final class DreamBoothStep: CheckpointedTraining {
    public let models: DreamBoothModels
    public let noising: DDPMNoising
    public let loss: DreamBoothLoss
    public let maxGradNorm: Double
    /// Recompute each resnet's, transformer's and text-encoder layer's activations in backward
    /// (`gradient_checkpointing`).
    public var gradientCheckpointing = false
    /// With `cache_latents`: the VAE posteriors of images already seen (the VAE never trains here).
    public var latentCache: LatentCache?
    private let optimizers: [AdamW]

    public init(models: DreamBoothModels, noising: DDPMNoising, loss: DreamBoothLoss,
                optimizer hyperparameters: AdamWHyperparameters, maxGradNorm: Double) {
        self.models = models
        self.noising = noising
        self.loss = loss
        self.maxGradNorm = maxGradNorm
        optimizers = models.arenas.map { AdamW(parameterCount: $0.values.count, hyperparameters: hyperparameters) }
        for arena in models.arenas { arena.zeroGradients() }
    }

    /// The trained networks for checkpoints: the UNet, then the text encoder when it trains.
    public var trainedParts: [(name: String, arena: ParameterArena, optimizer: AdamW)] {
        let names = models.textEncoderParameters == nil ? ["unet"] : ["unet", "text_encoder"]
        return zip(names, zip(models.arenas, optimizers)).map { ($0, $1.0, $1.1) }
    }

    /// Forward and backward of one micro-batch; gradients (× `gradientScale`) add into the arenas.
    /// Returns the loss and the prior loss of this micro-batch.
    public func accumulate(_ batch: DreamBoothBatch, noise draws: DreamBoothNoise,
                           gradientScale: Double = 1) -> (loss: Double, priorLoss: Double?) {
        let (mean, logVariance) = latentCache?.posterior(of: batch.pixelValues) { models.vae.encode($0) }
            ?? models.vae.encode(batch.pixelValues)
        let scaling = models.vae.configuration.scalingFactor
        let latents = Tensor(uninitialized: mean.shape)
        for i in 0..<latents.count {
            let std = Foundation.exp(0.5 * logVariance.pointer[i])
            latents.pointer[i] = (mean.pointer[i] + std * draws.latentSample.pointer[i]) * scaling
        }
        let noisy = noising.addNoise(latents, noise: draws.noise, timesteps: draws.timesteps)

        // With LoRA, every row of the batch carries the LoRA being trained (the pullbacks keep it).
        let rows = batch.tokenIDs.count
        let context: Tensor
        var textPullback: ((Tensor) -> Void)?
        if let arena = models.textEncoderParameters {
            let (hidden, pullback) = RowAdapters.$current.withValue(models.textEncoderLoRA?.adapters(rows: rows)) {
                models.textEncoder.forwardWithPullback(batch.tokenIDs, arena: arena, checkpointing: gradientCheckpointing)
            }
            context = hidden
            textPullback = pullback
        } else {
            context = models.textEncoder(batch.tokenIDs)
        }
        let (prediction, unetPullback) = RowAdapters.$current.withValue(models.unetLoRA?.adapters(rows: rows)) {
            models.unet.forwardWithPullback(noisy, timesteps: draws.timesteps.map(Float.init), context: context,
                                            arena: models.unetParameters, checkpointing: gradientCheckpointing)
        }
        let target = noising.predictionType == .vPrediction
            ? noising.velocity(latents, noise: draws.noise, timesteps: draws.timesteps) : draws.noise
        let value = loss.evaluate(prediction: prediction, target: target, snr: noising.signalToNoiseRatio(draws.timesteps))
        if gradientScale != 1 { Scale.forwardInPlace(value.gradient, by: Float(gradientScale)) }
        let gradients = unetPullback(value.gradient)
        textPullback?(gradients.context)
        return (value.loss, value.priorLoss)
    }

    /// Clips the accumulated gradients to `maxGradNorm` (one norm over every trained parameter),
    /// steps AdamW at `learningRate` (the text encoder at `textEncoderLearningRate` when given),
    /// zeroes the gradients; returns the norm before clipping.
    public func applyGradients(learningRate: Double, textEncoderLearningRate: Double? = nil) -> Double {
        let arenas = models.arenas
        let norms = arenas.map { GradientClipping.globalNorm(UnsafeBufferPointer(start: $0.gradients.base, count: $0.gradients.count)) }
        let norm = norms.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let coefficient = GradientClipping.coefficient(norm: norm, maxNorm: maxGradNorm)
        // arenas[0] is the UNet's (or its LoRA's); arenas[1], when present, the text encoder's.
        for (index, (arena, optimizer)) in zip(arenas, optimizers).enumerated() {
            let gradients = UnsafeMutableBufferPointer(start: arena.gradients.base, count: arena.gradients.count)
            if coefficient < 1 { GradientClipping.scale(gradients, by: coefficient) }
            let rate = index == 0 ? learningRate : textEncoderLearningRate ?? learningRate
            optimizer.step(parameters: UnsafeMutableBufferPointer(start: arena.values.base, count: arena.values.count),
                           gradients: UnsafeBufferPointer(gradients), learningRate: rate)
            arena.zeroGradients()
        }
        return norm
    }
}
