// AdamW, gradient clipping and learning-rate schedules against PyTorch and diffusers
// (Tests/Fixtures/make_training_fixtures.py writes training.safetensors).
import Foundation
import Tensor
import Testing
import TestSupport
@testable import Training

@Suite("Training: optimisation against PyTorch")
struct OptimizationTests {
    static let fixtures = try! Fixtures.open("training")
    nonisolated(unsafe) static let cases: [String: [[String: Any]]] = {
        let text = fixtures.file.metadata["cases"] ?? "{}"
        return (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: [[String: Any]]] ?? [:]
    }()

    @Test("AdamW matches torch.optim.AdamW step by step (parameters and both moments)",
          arguments: ["dreambooth_defaults", "strong_decay"])
    func adamW(name: String) throws {
        let f = Self.fixtures
        let spec = try #require(Self.cases["adamw"]?.first { $0["name"] as? String == name })
        let betas = try #require(spec["betas"] as? [Double])
        let hyperparameters = AdamWHyperparameters(
            beta1: betas[0], beta2: betas[1], epsilon: try #require(spec["eps"] as? Double),
            weightDecay: try #require(spec["weight_decay"] as? Double))
        let initial = f["adamw.\(name).initial"], gradients = f["adamw.\(name).gradients"]
        let lrs = f["adamw.\(name).lrs"].scalars, expected = f["adamw.\(name).params"]
        let n = initial.count
        let parameters = initial.copy()
        let optimizer = AdamW(parameterCount: n, hyperparameters: hyperparameters)
        for step in 0..<lrs.count {
            let g = gradients.slice(step..<step + 1).reshaped([n])
            optimizer.step(parameters: parameters.buffer, gradients: UnsafeBufferPointer(g.buffer), learningRate: Double(lrs[step]))
            let d = difference(parameters, expected.slice(step..<step + 1).reshaped([n]))
            // fp32 rounding in a handful of operations per element: a few ulps of the parameter.
            #expect(d.relativeToScale < 1e-6, "step \(step): \(d)")
        }
        #expect(optimizer.stepCount == lrs.count)
        #expect(difference(optimizer.firstMoment, f["adamw.\(name).exp_avg"]).relativeToScale < 1e-6)
        #expect(difference(optimizer.secondMoment, f["adamw.\(name).exp_avg_sq"]).relativeToScale < 1e-6)
    }

    @Test("clipping by the global norm matches torch.nn.utils.clip_grad_norm_",
          arguments: ["above", "below", "small_max"])
    func clipping(name: String) throws {
        let f = Self.fixtures
        let spec = try #require(Self.cases["clip"]?.first { $0["name"] as? String == name })
        let maxNorm = try #require(spec["max_norm"] as? Double)
        // The trainer's gradients are one flat buffer: concatenate the two tensors as it would hold them.
        let g0 = f["clip.\(name).g0"], g1 = f["clip.\(name).g1"]
        let flat = Tensor(shape: [g0.count + g1.count], values: g0.scalars + g1.scalars)
        let norm = GradientClipping.clipByGlobalNorm(flat.buffer, maxNorm: maxNorm)
        let expectedNorm = Double(f["clip.\(name).total_norm"].scalars[0])
        #expect(abs(norm - expectedNorm) <= 1e-6 * expectedNorm, "norm \(norm) vs \(expectedNorm)")
        let expected = Tensor(shape: [flat.count], values: f["clip.\(name).clipped0"].scalars + f["clip.\(name).clipped1"].scalars)
        let d = difference(flat, expected)
        #expect(d.relativeToScale < 1e-6, "\(d)")
    }

    @Test("the global norm of a large buffer is accumulated without loss")
    func largeNorm() {
        // 3·2²⁰ values of 0.5: fp32 accumulation would drift; the exact norm is 0.5·√(3·2²⁰).
        let values = Tensor(shape: [3 << 20], repeating: 0.5)
        let norm = GradientClipping.globalNorm(UnsafeBufferPointer(values.buffer))
        #expect(abs(norm - 0.5 * Double(3 << 20).squareRoot()) < 1e-9)
        // A non-finite gradient is reported, and nothing is scaled.
        values.pointer[17] = .nan
        #expect(GradientClipping.clipByGlobalNorm(values.buffer, maxNorm: 1).isNaN)
        #expect(values.pointer[0] == 0.5)
    }

    @Test("learning-rate schedules match diffusers' get_scheduler at every step",
          arguments: ["constant", "constant_with_warmup", "linear", "linear_no_warmup", "cosine",
                      "cosine_with_restarts", "polynomial", "polynomial_squared"])
    func schedule(name: String) throws {
        let spec = try #require(Self.cases["lr"]?.first { $0["name"] as? String == name })
        let kindName = try #require(spec["scheduler"] as? String)
        let kind = try #require(LearningRateSchedule.Kind(rawValue: kindName))
        let cycles = try #require(spec["cycles"] as? Int)
        let schedule = LearningRateSchedule(
            kind: kind, baseLearningRate: 5e-6, warmupSteps: try #require(spec["warmup"] as? Int),
            totalSteps: try #require(spec["total"] as? Int), cycles: Double(cycles),
            power: try #require(spec["power"] as? Double))
        let expected = Self.fixtures["lr.\(name)"].scalars
        for (step, value) in expected.enumerated() {
            // The fixture holds fp32 multipliers; ours are doubles.
            #expect(abs(schedule.multiplier(atStep: step) - Double(value)) <= 1e-6, "step \(step)")
        }
    }
}
