// An exponential moving average of the trained UNet's weights (`use_ema`, as diffusers'
// train_text_to_image.py keeps one with its EMAModel): samples from a diffusion model trained from
// scratch are markedly better from the averaged weights than from the last step's, which carry the
// noise of the last few batches. The written model folder holds the average.
//
// The decay schedule is EMAModel's default (no warm-up, update_after_step 0): at optimizer step n
// (counted from 1), k = n − 1; decay = 0 for k = 0 (the average starts as the weights), else
// min((1 + k) / (10 + k), ema_decay). The update is EMAModel's:
//     shadow ← shadow − (1 − decay) · (shadow − weights)
// over one flat buffer in the arena's layout, so the average of every parameter is a slice of it.
import Foundation
import Models
import Tensor

public final class ExponentialMovingAverage {
    /// The largest decay (diffusers' default 0.9999).
    public let maximumDecay: Double
    /// Updates made so far (EMAModel's `optimization_step`).
    public private(set) var updateCount = 0
    /// The averaged weights, in the layout of the arena they follow.
    public let shadow: TensorStorage
    private let arena: ParameterArena

    /// An average of `arena`'s values, starting as a copy of them.
    public init(following arena: ParameterArena, maximumDecay: Double) {
        self.arena = arena
        self.maximumDecay = maximumDecay
        shadow = TensorStorage(count: arena.values.count)
        shadow.base.update(from: arena.values.base, count: arena.values.count)
    }

    /// The decay of update number `n` (from 1).
    public func decay(atUpdate n: Int) -> Double {
        let k = n - 1
        guard k > 0 else { return 0 }
        return min(Double(1 + k) / Double(10 + k), maximumDecay)
    }

    /// Moves the average towards the arena's current values (after an optimizer step).
    public func update() {
        updateCount += 1
        let rate = Float(1 - decay(atUpdate: updateCount))
        let s = shadow.base, w = arena.values.base
        for i in 0..<shadow.count { s[i] -= rate * (s[i] - w[i]) }
    }

    /// The averaged value of every parameter, named as the arena's.
    public var namedValues: [(name: String, tensor: Tensor)] {
        arena.entries.map { ($0.key, Tensor(storage: shadow, offset: $0.offset, shape: $0.shape)) }
    }

    /// Restores a saved state: the update count and the averaged values (flat, in the arena's layout).
    public func restore(updateCount: Int, values: Tensor) {
        precondition(values.count == shadow.count, "EMA state of \(values.count) values for \(shadow.count)")
        self.updateCount = updateCount
        for i in 0..<shadow.count { shadow.base[i] = values.pointer[i] }
    }
}
