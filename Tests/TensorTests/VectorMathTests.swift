// Accuracy of the vectorised elementary functions against libm in Double precision.
import Foundation
import Testing
import Tensor

@Suite("VectorMath")
struct VectorMathTests {
    @Test("exp is within 2e-7 relative error of libm over its whole range")
    func expAccuracy() {
        var worst = 0.0
        var x: Float = -87.3
        while x < 88.7 {
            let lanes = SIMD8<Float>((0..<8).map { x + Float($0) * 0.0013 })
            let e = VectorMath.exp(lanes)
            for i in 0..<8 {
                let reference = Foundation.exp(Double(lanes[i]))
                worst = max(worst, abs(Double(e[i]) - reference) / reference)
            }
            x += 0.0173
        }
        #expect(worst < 2e-7, "worst relative error \(worst)")
    }

    @Test("exp handles the edges: −inf → 0, overflow → inf, NaN → NaN, 0 → 1")
    func expEdges() {
        let e = VectorMath.exp(SIMD8<Float>(-.infinity, -200, 200, .infinity, .nan, 0, 1, -1))
        #expect(e[0] == 0 && e[1] == 0)
        #expect(e[2] == .infinity && e[3] == .infinity)
        #expect(e[4].isNaN)
        #expect(e[5] == 1)
        #expect(abs(e[6] - Float(M_E)) < 1e-6 && abs(e[7] - Float(1 / M_E)) < 1e-7)
    }
}
