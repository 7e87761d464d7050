// Tiled VAE decode and encode against diffusers' `vae.enable_tiling()` (fixture:
// Tests/Fixtures/make_tiled_vae_fixtures.py) on models/tiny's VAE, whose 64 px / 8-latent tiles make
// small tensors span several tiles and edge tiles. Bounds: the model parity tolerance (2e-5 relative to
// scale) for the tensors, ImageAgreement for the render.
import Foundation
import Models
import Sampling
import Tensor
import Testing
import TestSupport
import Weights

@Suite("Tiled VAE (diffusers' enable_tiling)")
struct TiledVAETests {
    private let tolerance: Float = 2e-5
    private let fixture = try! Fixtures.open("tiled_vae")
    private let model = Fixtures.packageRoot.appendingPathComponent("models/tiny")

    @Test("tiled decode and encode equal diffusers', and differ from the untiled ones")
    func components() throws {
        let vae = try StableDiffusionPipeline.load(model).vae
        #expect(vae.latentTileSize == 8)
        let decoded = vae.decodeTiled(fixture["decode.latents"])
        #expect(decoded.shape == [1, 3, 160, 112])
        let d = difference(decoded, fixture["decode.images"])
        #expect(d.relativeToScale < tolerance, "tiled decode: \(d)")
        // Tiling is not a no-op: the plain decode is diffusers' plain decode, and far from the tiled one.
        let plain = vae.decode(fixture["decode.latents"])
        #expect(difference(plain, fixture["plain.images"]).relativeToScale < tolerance)
        #expect(difference(plain, decoded).relativeToScale > 100 * tolerance)

        let (mean, logVariance) = vae.encodeTiled(fixture["encode.images"])
        #expect(mean.shape == [1, 4, 19, 13])
        #expect(difference(mean, fixture["encode.mean"]).relativeToScale < tolerance, "mean: \(difference(mean, fixture["encode.mean"]))")
        #expect(difference(logVariance, fixture["encode.logvar"]).relativeToScale < tolerance, "logvar: \(difference(logVariance, fixture["encode.logvar"]))")
    }

    @Test("a render with vaeTiling equals diffusers' pipeline with enable_tiling()")
    func render() throws {
        let c = fixture["pipeline.config"].scalars  // steps, guidance, seed, width, height
        var request = RenderRequest.fixture(steps: c[0], guidance: c[1], seed: c[2])
        request.width = Int(c[3])
        request.height = Int(c[4])
        request.vaeTiling = true
        let image = try StableDiffusionPipeline.load(model).render(request)[0].image
        #expect(image.width == 128 && image.height == 96)
        let agreement = ImageAgreement(image.pixels, fixture["pipeline.image"].scalars)
        #expect(agreement.matchesReference, "\(agreement)")
    }
}
