// The pipeline follows the VAE's downsampling factor (2^(blocks − 1)) instead of assuming SD's 8:
// a model whose VAE has three blocks works on 4× smaller latents, and renders diffusers' image
// (fixture: Tests/Fixtures/make_vae_factor_fixtures.py; bound as in PipelineTests).
import Foundation
import ImageIO
import Testing
import Sampling
import Tensor
import TestSupport
import Weights

@Suite("Pipeline: the VAE's downsampling factor")
struct VAEScaleFactorTests {
    @Test("a 3-block VAE gives 4× latents, the native size follows, and the image equals diffusers'")
    func factorFour() throws {
        let fixture = try Fixtures.open("vae_factor_pipeline")
        let pipeline = try StableDiffusionPipeline.load(Fixtures.modelCase("tiny_vae4"))
        #expect(pipeline.vaeScaleFactor == 4 && pipeline.nativeSize == 8 * 4, "UNet sample_size 8 × VAE factor 4")
        let c = fixture["config"].scalars  // steps, guidance, seed
        let request = RenderRequest.fixture(steps: c[0], guidance: c[1], seed: c[2])
        let jobs = try pipeline.makeJobs(for: request)
        #expect(jobs[0].latents.shape == [1, 4, 16, 16])
        let image = try pipeline.render(request)[0].image
        #expect(image.width == 64 && image.height == 64)
        let agreement = ImageAgreement(image.pixels, fixture["euler.image"].scalars)
        #expect(agreement.matchesReference, "\(agreement)")
    }
}
