// A1111's "Original" emphasis arithmetic against A1111's own EmphasisOriginal (fixture:
// make_emphasis_weighting_fixtures.py) on seeded encoder outputs: weighted tokens, nested and negative
// weights, and a uniform weight that the mean restoration undoes. Bound: 2e-6 relative to each
// value's magnitude (plus 1e-7 absolute) — torch sums float32 means in its own order, we in double;
// a missing mean restoration is off by tens of percent.
import Foundation
import Tensor
import Testing
import TestSupport
@testable import Sampling

private let fixture = try! Fixtures.open("emphasis_weighting")

@Suite("Prompt syntax: A1111 emphasis weighting")
struct EmphasisWeightingTests {
    @Test("weighting a chunk equals A1111's EmphasisOriginal", arguments: ["weighted", "nested", "uniform"])
    func matchesA1111(_ name: String) {
        let hidden = fixture["\(name).z"].copy()
        let multipliers = fixture["\(name).multipliers"].scalars.map(Double.init)
        EmphasisWeighting.applyOriginal(to: hidden, multipliers: multipliers)
        let expected = fixture["\(name).weighted"].scalars
        var worst = 0.0
        for (ours, theirs) in zip(hidden.scalars, expected) {
            worst = max(worst, Double(abs(ours - theirs)) / (Double(abs(theirs)) * 2e-6 + 1e-7))
        }
        #expect(worst <= 1, "\(name): worst error \(worst) × the bound")
        // The mean over the chunk is the one before weighting.
        let before = fixture["\(name).z"].scalars.reduce(0.0) { $0 + Double($1) }, after = hidden.scalars.reduce(0.0) { $0 + Double($1) }
        #expect(abs(before - after) <= 1e-4 * abs(before))
    }

    @Test("weights act relative to each other: a weighted token grows against the rest")
    func relativeWeights() {
        var random = TestRandom(seed: 3)
        let hidden = random.tensor([1, 77, 8])
        for i in 0..<hidden.count { hidden.pointer[i] += 1 }
        let original = hidden.copy()
        var multipliers = [Double](repeating: 1, count: 77)
        multipliers[5] = 1.5
        EmphasisWeighting.applyOriginal(to: hidden, multipliers: multipliers)
        let ratio = Double(hidden[0][5].scalars[0] / original[0][5].scalars[0]) / Double(hidden[0][6].scalars[0] / original[0][6].scalars[0])
        #expect(abs(ratio - 1.5) < 1e-5, "token 5 against token 6: \(ratio)")
    }
}
