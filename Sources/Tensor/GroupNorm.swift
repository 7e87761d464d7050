// Group normalisation over [N, C, ...] (torch.nn.functional.group_norm), optionally fused with the
// SiLU that follows it in diffusers' ResnetBlock2D (norm1 → nonlinearity), forward and backward.
// Also owns `Moments.of`, the accurate mean/variance that LayerNorm uses too.
//
// Backward follows the usual derivation (as llm.c's layernorm_backward, per group): with
// x̂ = (x − μ)·rstd, y = x̂·w + b, z = act(y) and dy = dz·act′(y),
//   dw[c] += Σ dy·x̂,   db[c] += Σ dy,   dx = rstd·(dy·w − mean(dy·w) − x̂·mean(dy·w·x̂)),
// the means taken over the group. Only μ and rstd [N, G] are saved; x̂ and y are recomputed.
import Foundation

/// Accurate mean and variance of a run of floats.
enum Moments {
    /// Mean and biased variance of `count` floats at `p`, in Double.
    ///
    /// Why not Σx and Σx² in Float: a UNet group holds up to 32·64·64·10 values, and with a large mean
    /// (activations around 100) Σx² − n·μ² cancels almost every digit. Instead the data are shifted
    /// by K, the mean of the first few values (so |μ − K| is a fraction of σ), Σd and Σd² of d = x − K
    /// are summed in Float over short blocks (each block's sum is small and accurate), and the block
    /// sums are added in Double. The result is accurate to ~1e-7 relative to σ.
    static func of(_ p: UnsafePointer<Float>, count: Int) -> (mean: Double, variance: Double) {
        guard count > 0 else { return (0, 0) }
        var shiftSum = 0.0
        for i in 0..<min(count, 8) { shiftSum += Double(p[i]) }
        let shift = Float(shiftSum / Double(min(count, 8)))
        let k = SIMD8<Float>(repeating: shift)
        var sum = 0.0, squares = 0.0
        let blockLength = 512  // 64 vectors: short enough that Float block sums lose nothing visible
        var i = 0
        while i + 8 <= count {
            let end = min(i + blockLength, count)
            // Two accumulator pairs so that consecutive FMAs do not wait on each other.
            var s0 = SIMD8<Float>(), s1 = SIMD8<Float>(), q0 = SIMD8<Float>(), q1 = SIMD8<Float>()
            while i + 16 <= end {
                let d0 = load8(p + i) - k, d1 = load8(p + i + 8) - k
                s0 += d0; q0 = q0.addingProduct(d0, d0)
                s1 += d1; q1 = q1.addingProduct(d1, d1)
                i += 16
            }
            if i + 8 <= end {
                let d0 = load8(p + i) - k
                s0 += d0; q0 = q0.addingProduct(d0, d0)
                i += 8
            }
            sum += Double((s0 + s1).sum())
            squares += Double((q0 + q1).sum())
        }
        while i < count {
            let d = Double(p[i] - shift)
            sum += d; squares += d * d
            i += 1
        }
        let n = Double(count)
        let meanShift = sum / n
        return (Double(shift) + meanShift, max(squares / n - meanShift * meanShift, 0))
    }
}

/// GroupNorm over [N, C, ...]: channels split into `groups` consecutive groups, each normalised over
/// its channels and all positions, then an optional per-channel affine and an optional SiLU.
public enum GroupNorm {
    /// What is applied after the affine transform.
    public enum Activation: Sendable {
        case none
        /// SiLU fused in: saves one pass over the activations (ResnetBlock2D's norm → SiLU).
        case silu
    }

    /// What backward needs from forward.
    public struct Cache: Sendable {
        /// Group means, [N, G].
        public let mean: Tensor
        /// 1/√(variance + eps) per group, [N, G].
        public let rstd: Tensor
        /// The activation forward applied.
        public let activation: Activation
    }

    /// Normalises `x` [N, C, ...] over groups of C/`groups` channels. `weight` and `bias` are [C] (nil
    /// means 1 and 0). Returns the output (x's shape) and the statistics for backward.
    public static func forward(
        _ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5, activation: Activation = .none
    ) -> (output: Tensor, cache: Cache) {
        let g = Geometry(x.shape, groups: groups, weight: weight, bias: bias)
        let output = Tensor(uninitialized: x.shape)  // [N, C, ...]
        let mean = Tensor(uninitialized: [g.batch, groups])  // [N, G]
        let rstd = Tensor(uninitialized: [g.batch, groups])  // [N, G]
        let xp = x.pointer, yp = output.pointer, mp = mean.pointer, rp = rstd.pointer
        let wp = weight?.pointer, bp = bias?.pointer
        let silu = activation == .silu
        ThreadPool.shared.parallelFor(g.batch * groups, grain: max(1, pointwiseGrain / max(g.groupSize, 1))) { tasks in
            for task in tasks {
                let first = task * g.groupSize  // the group's values are contiguous
                let (mu, variance) = Moments.of(xp + first, count: g.groupSize)
                let r = Float(1 / (variance + Double(eps)).squareRoot())
                mp[task] = Float(mu)
                rp[task] = r
                // μ split in two floats: (x − μhi) − μlo keeps the digits that x − Float(μ) would lose
                // when |μ| ≫ σ.
                let muHi = Float(mu), muLo = Float(mu - Double(muHi))
                for c in (task % groups) * g.channelsPerGroup ..< (task % groups + 1) * g.channelsPerGroup {
                    let scale = SIMD8<Float>(repeating: r * (wp?[c] ?? 1))
                    let shift = SIMD8<Float>(repeating: bp?[c] ?? 0)
                    let row = (task / groups * g.channels + c) * g.spatial
                    @inline(__always) func normalise(_ v: SIMD8<Float>) -> SIMD8<Float> {
                        let y = ((v - muHi) - muLo) * scale + shift
                        return silu ? SiLU.value(y) : y
                    }
                    var i = 0
                    while i + 8 <= g.spatial {
                        store8(normalise(load8(xp + row + i)), yp + row + i)
                        i += 8
                    }
                    if i < g.spatial {
                        let n = g.spatial - i
                        storePartial(normalise(loadPartial(xp + row + i, n)), yp + row + i, n)
                    }
                }
            }
        }
        return (output, Cache(mean: mean, rstd: rstd, activation: activation))
    }

    /// Adds the gradients of `forward` into `gradInput` (x's shape), `gradWeight` and `gradBias` ([C]);
    /// any may be nil. `input`, `weight`, `bias` and `cache` are those of the forward call.
    public static func backward(
        gradOutput: Tensor, input: Tensor, weight: Tensor?, bias: Tensor?, cache: Cache,
        gradInput: Tensor?, gradWeight: Tensor?, gradBias: Tensor?
    ) {
        precondition(cache.mean.rank == 2, "group_norm backward: cache mean \(cache.mean.shape) is not [N, G]")
        let groups = cache.mean.shape[1]
        let g = Geometry(input.shape, groups: groups, weight: weight, bias: bias)
        precondition(cache.mean.shape[0] == g.batch, "group_norm backward: cache \(cache.mean.shape) for input \(input.shape)")
        checkSameCount("group_norm backward", gradOutput, input, "gradOutput", "input")
        if let gradInput { checkSameCount("group_norm backward", gradInput, input, "gradInput", "input") }
        if let gradWeight { precondition(gradWeight.count == g.channels, "group_norm backward: gradWeight \(gradWeight.shape) for \(g.channels) channels") }
        if let gradBias { precondition(gradBias.count == g.channels, "group_norm backward: gradBias \(gradBias.shape) for \(g.channels) channels") }

        // Per (n, c): Σ dy and Σ dy·x̂. Each task writes only its own rows, so tasks of different
        // samples never race on the same channel; the sum over n for dw and db comes at the end.
        let sumDy = UnsafeMutablePointer<Double>.allocate(capacity: g.batch * g.channels)  // [N, C]
        let sumDyXhat = UnsafeMutablePointer<Double>.allocate(capacity: g.batch * g.channels)  // [N, C]
        defer { sumDy.deallocate(); sumDyXhat.deallocate() }

        let xp = input.pointer, gp = gradOutput.pointer, gxp = gradInput?.pointer
        let mp = cache.mean.pointer, rp = cache.rstd.pointer
        let wp = weight?.pointer, bp = bias?.pointer
        let silu = cache.activation == .silu

        ThreadPool.shared.parallelFor(g.batch * groups, grain: max(1, pointwiseGrain / max(g.groupSize, 1))) { tasks in
            for task in tasks {
                let mu = SIMD8<Float>(repeating: mp[task]), r = SIMD8<Float>(repeating: rp[task])
                let channels = (task % groups) * g.channelsPerGroup ..< (task % groups + 1) * g.channelsPerGroup
                let sampleRow = task / groups * g.channels

                // (dy, x̂) for 8 values of channel c: dy is the gradient at the affine output y.
                @inline(__always) func gradAtAffine(_ x: SIMD8<Float>, _ dz: SIMD8<Float>, _ w: SIMD8<Float>, _ b: SIMD8<Float>)
                    -> (dy: SIMD8<Float>, xhat: SIMD8<Float>) {
                    let xhat = (x - mu) * r
                    return (silu ? dz * SiLU.derivative(xhat * w + b) : dz, xhat)
                }

                // Pass 1: per-channel sums. Padded tail lanes have dz = 0, hence dy = 0: they add nothing.
                var groupDx = 0.0, groupDxXhat = 0.0  // Σ dy·w and Σ dy·w·x̂ over the group
                for c in channels {
                    let w = SIMD8<Float>(repeating: wp?[c] ?? 1), b = SIMD8<Float>(repeating: bp?[c] ?? 0)
                    let row = (sampleRow + c) * g.spatial
                    var s = SIMD8<Float>(), sx = SIMD8<Float>()
                    var i = 0
                    while i < g.spatial {
                        let n = min(8, g.spatial - i)
                        let x = n == 8 ? load8(xp + row + i) : loadPartial(xp + row + i, n)
                        let dz = n == 8 ? load8(gp + row + i) : loadPartial(gp + row + i, n)
                        let (dy, xhat) = gradAtAffine(x, dz, w, b)
                        s += dy
                        sx = sx.addingProduct(dy, xhat)
                        i += 8
                    }
                    let sDouble = Double(s.sum()), sxDouble = Double(sx.sum())
                    sumDy[sampleRow + c] = sDouble
                    sumDyXhat[sampleRow + c] = sxDouble
                    groupDx += Double(w[0]) * sDouble
                    groupDxXhat += Double(w[0]) * sxDouble
                }
                guard let gxp else { continue }

                // Pass 2: dx = rstd·(dy·w − mean(dy·w) − x̂·mean(dy·w·x̂)).
                let meanDx = SIMD8<Float>(repeating: Float(groupDx / Double(g.groupSize)))
                let meanDxXhat = SIMD8<Float>(repeating: Float(groupDxXhat / Double(g.groupSize)))
                for c in channels {
                    let w = SIMD8<Float>(repeating: wp?[c] ?? 1), b = SIMD8<Float>(repeating: bp?[c] ?? 0)
                    let row = (sampleRow + c) * g.spatial
                    @inline(__always) func dx(_ x: SIMD8<Float>, _ dz: SIMD8<Float>) -> SIMD8<Float> {
                        let (dy, xhat) = gradAtAffine(x, dz, w, b)
                        return r * (dy * w - meanDx - xhat * meanDxXhat)
                    }
                    var i = 0
                    while i + 8 <= g.spatial {
                        let at = row + i
                        store8(load8(gxp + at) + dx(load8(xp + at), load8(gp + at)), gxp + at)
                        i += 8
                    }
                    if i < g.spatial {
                        let at = row + i, n = g.spatial - i
                        storePartial(loadPartial(gxp + at, n) + dx(loadPartial(xp + at, n), loadPartial(gp + at, n)), gxp + at, n)
                    }
                }
            }
        }

        for c in 0..<g.channels {
            var db = 0.0, dw = 0.0
            for n in 0..<g.batch {
                db += sumDy[n * g.channels + c]
                dw += sumDyXhat[n * g.channels + c]
            }
            gradBias?.pointer[c] += Float(db)
            gradWeight?.pointer[c] += Float(dw)
        }
    }

    /// Sizes of one group-norm call, validated.
    private struct Geometry {
        let batch: Int, channels: Int, spatial: Int, channelsPerGroup: Int
        /// Values per group: C/G channels × all positions.
        var groupSize: Int { channelsPerGroup * spatial }

        init(_ shape: [Int], groups: Int, weight: Tensor?, bias: Tensor?) {
            precondition(shape.count >= 2, "group_norm: input \(shape) is not [N, C, ...]")
            batch = shape[0]; channels = shape[1]
            spatial = shape.dropFirst(2).reduce(1, *)
            precondition(groups > 0 && channels % groups == 0,
                         "group_norm: \(channels) channels of input \(shape) do not split into \(groups) groups")
            channelsPerGroup = channels / groups
            if let weight { precondition(weight.count == channels, "group_norm: weight \(weight.shape) for input \(shape)") }
            if let bias { precondition(bias.count == channels, "group_norm: bias \(bias.shape) for input \(shape)") }
        }
    }
}
