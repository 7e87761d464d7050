// A render decoded by TAESD (`decoder: .taesd`) equals diffusers' StableDiffusionPipeline with the same
// AutoencoderTiny as its vae (fixture: Tests/Fixtures/make_taesd_fixtures.py; bound: ImageAgreement,
// as every render parity test). A TAESD that does not fit the model, or a request for TAESD where none
// is attached, is refused by name.
import Foundation
import Models
import Sampling
import Testing
import TestSupport
import Weights

@Suite("Pipeline: TAESD as the final decoder")
struct TinyAutoencoderRenderTests {
    /// The fixture's config: steps, guidance, seed.
    private func request(_ c: [Float]) -> RenderRequest {
        .fixture(steps: c[0], guidance: c[1], seed: c[2])
    }

    @Test("models/tiny with TAESD renders diffusers' image")
    func parity() throws {
        let fixture = try Fixtures.open("taesd")
        let taesd = try AutoencoderTiny(checkpoint: try TinyAutoencoderCheckpoint.open(Fixtures.modelCase("taesd_tiny")))
        let pipeline = try StableDiffusionPipeline.load(Fixtures.packageRoot.appendingPathComponent("models/tiny"))
            .attachingTinyAutoencoder(taesd)
        var r = request(fixture["pipeline.config"].scalars)
        r.decoder = .taesd
        let image = try pipeline.render(r)[0].image
        let agreement = ImageAgreement(image.pixels, fixture["pipeline.image"].scalars)
        #expect(agreement.matchesReference, "\(agreement)")
        // The same latents through the model's VAE give another image: the choice is honoured.
        r.decoder = .vae
        #expect(try pipeline.render(r)[0].image.pixels != image.pixels)
    }

    @Test("asking for TAESD without one, or attaching one of the wrong factor, names the problem")
    func refusals() throws {
        let pipeline = try StableDiffusionPipeline.load(Fixtures.packageRoot.appendingPathComponent("models/tiny"))
        var r = request([2, 7.5, 0])
        r.decoder = .taesd
        #expect(throws: RenderError.invalidRequest(field: "decoder", message: "no TAESD decoder is loaded (dbrenderd --taesd PATH)")) {
            try pipeline.makeJobs(for: r)
        }
        // A 3-stage TAESD decodes at 4 px per latent pixel; models/tiny's VAE at 8.
        var c = TinyAutoencoderConfiguration()
        c.decoderBlockOutChannels = [8, 8, 8]
        c.numDecoderBlocks = [1, 1, 1]
        c.encoderBlockOutChannels = [8]
        c.numEncoderBlocks = [1]
        let small = try AutoencoderTiny(configuration: c, parameters: RandomParameterSource(seed: 1), encoder: false)
        do {
            _ = try pipeline.attachingTinyAutoencoder(small)
            Issue.record("a factor-4 TAESD attached to a factor-8 model")
        } catch let RenderError.invalidRequest(field, message) {
            #expect(field == "taesd" && message.contains("at 4 px per latent pixel") && message.contains("at 8"), "\(message)")
        }
    }
}
