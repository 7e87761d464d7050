// The request the render fixtures were made with (Tests/Fixtures/make_*_fixtures.py all render the
// same prompt pair at 64×64): one definition, so that a parity test cannot drift from its fixture.
import Sampling

extension RenderRequest {
    /// "a photo of sks dog" against "blurry, low quality", 64×64, with the fixture's own numbers.
    static func fixture(sampler: String = "euler", steps: Float, guidance: Float, seed: Float, count: Int = 1) -> RenderRequest {
        var r = RenderRequest(prompt: "a photo of sks dog", seed: UInt64(seed))
        r.negativePrompt = "blurry, low quality"
        r.sampler = sampler
        r.count = count
        r.steps = Int(steps)
        r.guidanceScale = guidance
        r.width = 64
        r.height = 64
        return r
    }
}
