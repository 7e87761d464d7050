// The DreamBooth objective of diffusers' train_dreambooth.py: mean squared error between the UNet's
// prediction and its target (the noise, or the velocity for v-prediction models), optionally
// Min-SNR-γ weighted per sample (Hang et al. 2023: weight min(SNR, γ)/SNR, plus 1 for v-prediction),
// plus `prior_loss_weight` × the plain MSE on the class-image half of the batch (prior preservation).
//
// One deliberate difference: with prior preservation AND snr_gamma, diffusers computes the SNR weights
// for the whole batch and multiplies them into the instance half's losses, which only broadcasts for a
// batch of one (where each instance loss is weighted by both halves' weights). Here the instance half
// is weighted by its own samples' weights, as the method intends.
import Sampling
import Tensor

/// The loss and its gradient with respect to the UNet's prediction.
public struct DreamBoothLoss: Sendable {
    public var priorPreservation: Bool
    public var priorLossWeight: Double
    /// γ of Min-SNR weighting; nil for the plain mean.
    public var snrGamma: Double?
    public var predictionType: PredictionType

    public init(priorPreservation: Bool, priorLossWeight: Double = 1, snrGamma: Double? = nil,
                predictionType: PredictionType = .epsilon) {
        self.priorPreservation = priorPreservation; self.priorLossWeight = priorLossWeight
        self.snrGamma = snrGamma; self.predictionType = predictionType
    }

    public struct Value {
        /// What is optimised: instance loss + prior_loss_weight × prior loss.
        public let loss: Double
        /// The class-image MSE (nil without prior preservation).
        public let priorLoss: Double?
        /// ∂loss/∂prediction, the prediction's shape.
        public let gradient: Tensor
    }

    /// - Parameters:
    ///   - prediction, target: [N, C, H, W]; with prior preservation the first N/2 samples are the
    ///     instance images and the rest the class images.
    ///   - snr: each sample's signal-to-noise ratio (needed with `snrGamma`).
    public func evaluate(prediction: Tensor, target: Tensor, snr: [Float]) -> Value {
        precondition(prediction.shape == target.shape, "loss: prediction \(prediction.shape) vs target \(target.shape)")
        let samples = prediction.shape[0]
        precondition(!priorPreservation || samples % 2 == 0, "prior preservation needs instance and class halves")
        let instances = priorPreservation ? samples / 2 : samples
        let perSample = prediction.count / max(samples, 1)
        let gradient = Tensor(zeros: prediction.shape)
        let p = prediction.pointer, t = target.pointer, g = gradient.pointer

        /// Mean squared error of samples `range`, each scaled by `weight(n)`, averaged over the samples;
        /// writes its gradient (times `scale`) into `gradient`.
        func weightedMean(_ range: Range<Int>, scale: Double, weight: (Int) -> Double) -> Double {
            var total = 0.0
            for n in range {
                var squares = 0.0
                let w = weight(n)
                let factor = Float(scale * w * 2 / Double(perSample * range.count))
                for i in (n * perSample)..<((n + 1) * perSample) {
                    let d = p[i] - t[i]
                    squares += Double(d) * Double(d)
                    g[i] = factor * d
                }
                total += squares / Double(perSample) * w
            }
            return total / Double(range.count)
        }

        let instanceLoss: Double
        if let gamma = snrGamma {
            precondition(snr.count == samples, "loss: \(snr.count) SNR values for \(samples) samples")
            instanceLoss = weightedMean(0..<instances, scale: 1) { n in
                let s = Double(snr[n])
                let base = min(s, gamma) / s
                return predictionType == .vPrediction ? base + 1 : base
            }
        } else {
            instanceLoss = weightedMean(0..<instances, scale: 1) { _ in 1 }
        }
        guard priorPreservation else { return Value(loss: instanceLoss, priorLoss: nil, gradient: gradient) }
        let priorLoss = weightedMean(instances..<samples, scale: priorLossWeight) { _ in 1 }
        return Value(loss: instanceLoss + priorLossWeight * priorLoss, priorLoss: priorLoss, gradient: gradient)
    }
}
