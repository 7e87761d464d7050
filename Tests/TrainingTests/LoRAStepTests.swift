// Two DreamBooth-LoRA optimizer steps on models/tiny against train_dreambooth_lora.py's inner loop with
// the same draws and the same starting factors (Tests/Fixtures/make_lora_training_step_fixtures.py):
// peft's UNet LoRA on the attention projections and the text encoder's q/k/v/out_proj, prior
// preservation, clipping over the LoRA parameters, AdamW. Losses, gradient norms, every factor's
// gradient in the first step and every factor after the second equal PyTorch's.
import Foundation
import Models
import Sampling
import Tensor
import Testing
import TestSupport
import Weights
@testable import Training

@Suite("Training: DreamBooth-LoRA steps against train_dreambooth_lora.py", .serialized)
struct LoRAStepTests {
    static let fixture = try! Fixtures.open("lora_training_step")
    static let modelURL = Fixtures.packageRoot.appendingPathComponent("models/tiny")

    static func relativeError(_ ours: Tensor, _ theirs: Tensor) -> Float {
        var worst: Float = 0, largest: Float = 0
        for i in 0..<theirs.count {
            worst = max(worst, abs(ours.pointer[i] - theirs.pointer[i]))
            largest = max(largest, abs(theirs.pointer[i]))
        }
        return worst / max(largest, .leastNormalMagnitude)
    }

    @Test("losses, gradient norms, first-step factor gradients and the factors after two steps equal PyTorch's")
    func twoSteps() throws {
        let f = Self.fixture
        let checkpoint = try ModelCheckpoint.open(Self.modelURL)
        let models = try DreamBoothModels(checkpoint: checkpoint, trainTextEncoder: true, lora: .init(
            rank: 2, alpha: 4, unetTargets: ["to_k", "to_q", "to_v", "to_out.0"],
            textEncoderTargets: ["q_proj", "k_proj", "v_proj", "out_proj"], seed: 0))
        let networks: [(String, ParameterArena)] = [("unet", models.unetParameters), ("text_encoder", models.textEncoderParameters!)]
        // The same starting factors as the reference, and the same set of them.
        for (network, arena) in networks {
            for entry in arena.entries { arena.value(entry).assign(f["init.\(network).\(entry.key)"]) }
        }
        let fixtureFactors = Set(f.file.tensorNames.filter { $0.hasPrefix("init.") })
        #expect(Set(networks.flatMap { network, arena in arena.entries.map { "init.\(network).\($0.key)" } }) == fixtureFactors)

        let noising = try DDPMNoising(configuration: checkpoint.schedulerConfiguration())
        let step = DreamBoothStep(models: models, noising: noising, loss: DreamBoothLoss(priorPreservation: true),
                                  optimizer: AdamWHyperparameters(), maxGradNorm: 1)
        let ids = f["ids"].scalars.map { Int($0) }
        for k in 0..<2 {
            let batch = DreamBoothBatch(pixelValues: f["step\(k).pixels"], tokenIDs: [Array(ids[0..<77]), Array(ids[77..<154])], instanceCount: 1)
            let draws = DreamBoothNoise(latentSample: f["step\(k).vae_eps"], noise: f["step\(k).noise"],
                                        timesteps: f["step\(k).timesteps"].scalars.map { Int($0) })
            let (loss, priorLoss) = step.accumulate(batch, noise: draws)
            #expect(abs(loss - Double(f["step\(k).loss"].scalars[0])) < 2e-5 * loss, "step \(k) loss \(loss)")
            #expect(abs(priorLoss! - Double(f["step\(k).prior_loss"].scalars[0])) < 2e-5 * priorLoss!)
            if k == 0 {
                // Sums over thousands of fp32 products in another order: 1e-4 of each tensor's largest entry.
                for (network, arena) in networks {
                    for entry in arena.entries {
                        let error = Self.relativeError(arena.gradient(entry.key)!, f["grad.\(network).\(entry.key)"])
                        #expect(error < 1e-4, "\(network).\(entry.key): gradient relative error \(error)")
                    }
                }
            }
            let norm = step.applyGradients(learningRate: 1e-3)
            #expect(abs(norm - Double(f["step\(k).grad_norm"].scalars[0])) < 1e-4 * norm, "step \(k) grad norm \(norm)")
        }
        for (network, arena) in networks {
            for entry in arena.entries {
                let error = Self.relativeError(arena.value(entry), f["after.\(network).\(entry.key)"])
                #expect(error < 1e-4, "\(network).\(entry.key): value after two steps, relative error \(error)")
            }
        }
    }
}
