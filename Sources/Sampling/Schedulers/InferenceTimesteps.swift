// The inference timesteps of a scheduler: which training timesteps `steps` denoising steps visit,
// for each `timestep_spacing` ("leading", "trailing", "linspace"; see Table 2 of Lin et al. 2023,
// "Common Diffusion Noise Schedules and Sample Steps Are Flawed"). diffusers builds them with NumPy
// in double precision; `NumPyArithmetic` reproduces the NumPy functions involved exactly (its
// `linspace`, `arange` and round-half-to-even), because the timesteps must match bit for bit.
import Foundation

/// NumPy's `linspace`, `arange`, `round` and `interp`, with NumPy's own arithmetic.
enum NumPyArithmetic {
    /// `np.linspace(start, stop, count)`: i·step + start, and exactly `stop` last.
    static func linspace(_ start: Double, _ stop: Double, count: Int) -> [Double] {
        guard count > 1 else { return count == 1 ? [start] : [] }
        let step = (stop - start) / Double(count - 1)
        var values = (0..<count).map { Double($0) * step + start }
        values[count - 1] = stop
        return values
    }

    /// `np.arange(start, stop, step)` for doubles: ⌈(stop − start)/step⌉ values; NumPy fills them as
    /// start + i·δ with δ = (start + step) − start, which can differ from `step` in the last bit.
    static func arange(_ start: Double, _ stop: Double, step: Double) -> [Double] {
        let length = max(0, Int(((stop - start) / step).rounded(.up)))
        let delta = (start + step) - start
        return (0..<length).map { i in i == 0 ? start : start + Double(i) * delta }
    }

    /// `np.round`: to the nearest integer, ties to even (499.5 → 500, 0.5 → 0).
    static func round(_ x: Double) -> Double { x.rounded(.toNearestOrEven) }

    /// `np.interp(x, arange(len(values)), values)` for x inside [0, len − 1].
    static func interp(_ x: Double, _ values: [Double]) -> Double {
        let last = values.count - 1
        if x >= Double(last) { return values[last] }
        if x <= 0 { return values[0] }
        let j = Int(x.rounded(.down))
        if Double(j) == x { return values[j] }
        // NumPy divides the rise by the run, which is exactly 1 here.
        let slope = values[j + 1] - values[j]
        return slope * (x - Double(j)) + values[j]
    }
}

/// Inference timesteps per spacing, in the order the denoising loop visits them (descending).
enum InferenceTimesteps {
    /// The timesteps of DDIM, PNDM and the Euler/Heun/LMS classes.
    ///
    /// - Parameter integral: DDIM and PNDM round "linspace" timesteps to integers; the Euler-family
    ///   classes keep them fractional, as fp32.
    static func standard(_ spacing: TimestepSpacing, steps: Int, trainSteps: Int, offset: Int,
                         integral: Bool) -> [Double] {
        switch spacing {
        case .linspace:
            let values = NumPyArithmetic.linspace(0, Double(trainSteps - 1), count: steps).reversed()
            return values.map { integral ? NumPyArithmetic.round($0) : Double(Float($0)) }
        case .leading:
            let ratio = trainSteps / steps
            return (0..<steps).reversed().map { Double($0 * ratio + offset) }
        case .trailing:
            let ratio = Double(trainSteps) / Double(steps)
            return NumPyArithmetic.arange(Double(trainSteps), 0, step: -ratio).map { NumPyArithmetic.round($0) - 1 }
        }
    }

    /// The timesteps of DPMSolverMultistepScheduler: it spaces `steps + 1` points and drops the last
    /// (t = 0) for "linspace" and "leading", and stops at `lastTimestep` (from `lambda_min_clipped`).
    static func dpmSolver(_ spacing: TimestepSpacing, steps: Int, trainSteps: Int, lastTimestep: Int,
                          offset: Int) -> [Double] {
        switch spacing {
        case .linspace:
            let values = NumPyArithmetic.linspace(0, Double(lastTimestep - 1), count: steps + 1)
            return values.reversed().dropLast().map(NumPyArithmetic.round)
        case .leading:
            let ratio = lastTimestep / (steps + 1)
            return (0...steps).reversed().dropLast().map { Double($0 * ratio + offset) }
        case .trailing:
            let ratio = Double(trainSteps) / Double(steps)
            return NumPyArithmetic.arange(Double(lastTimestep), 0, step: -ratio).map { NumPyArithmetic.round($0) - 1 }
        }
    }
}
