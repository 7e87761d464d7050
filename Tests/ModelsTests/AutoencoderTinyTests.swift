// TAESD (diffusers' AutoencoderTiny) against diffusers on random weights of the SD 1.x layout at
// width 8 (fixture: Tests/Fixtures/make_taesd_fixtures.py): decode and encode from the diffusers
// folder and from the original single files, whose layout is read from their tensors. Bound: the
// model parity tolerance, 2e-5 relative to the tensor's scale.
import Foundation
import Models
import Tensor
import Testing
import TestSupport
import Weights

@Suite("AutoencoderTiny (TAESD) parity")
struct AutoencoderTinyTests {
    private let tolerance: Float = 2e-5
    private let io = try! Fixtures.open("taesd")

    @Test("the diffusers folder decodes and encodes as diffusers does")
    func folder() throws {
        let checkpoint = try TinyAutoencoderCheckpoint.open(Fixtures.modelCase("taesd_tiny"))
        #expect(checkpoint.configuration.decoderBlockOutChannels == [8, 8, 8, 8] && checkpoint.configuration.downsamplingFactor == 8)
        let taesd = try AutoencoderTiny(checkpoint: checkpoint)
        let decoder = try #require(taesd.decoder)
        let decoded = decoder(io["decode.latents"])
        #expect(decoded.shape == [2, 3, 64, 64])
        #expect(difference(decoded, io["decode.images"]).relativeToScale < tolerance, "decode: \(difference(decoded, io["decode.images"]))")
        let encoder = try #require(taesd.encoder)
        let encoded = encoder(io["encode.images"])
        #expect(encoded.shape == [1, 4, 8, 8])
        #expect(difference(encoded, io["encode.latents"]).relativeToScale < tolerance, "encode: \(difference(encoded, io["encode.latents"]))")
        #expect(checkpoint.source.unusedKeys.isEmpty, "every stored tensor is a parameter: \(checkpoint.source.unusedKeys)")
    }

    @Test("the original taesd_decoder and taesd_encoder files load with their layout inferred")
    func originalFiles() throws {
        let folder = Fixtures.modelCase("taesd_tiny_original")
        let decoderFile = try TinyAutoencoderCheckpoint.open(folder.appendingPathComponent("taesd_decoder.safetensors"))
        #expect(decoderFile.hasDecoder && !decoderFile.hasEncoder)
        #expect(decoderFile.configuration.numDecoderBlocks == [3, 3, 3, 1] && decoderFile.configuration.decoderBlockOutChannels == [8, 8, 8, 8])
        let tinyDecoder = try AutoencoderTiny(checkpoint: decoderFile).decoder
        let decoder = try #require(tinyDecoder)
        #expect(difference(decoder(io["decode.latents"]), io["decode.images"]).relativeToScale < tolerance)

        let encoderFile = try TinyAutoencoderCheckpoint.open(folder.appendingPathComponent("taesd_encoder.safetensors"))
        #expect(encoderFile.hasEncoder && !encoderFile.hasDecoder && encoderFile.configuration.numEncoderBlocks == [1, 3, 3, 3])
        let taesd = try AutoencoderTiny(checkpoint: encoderFile)
        #expect(taesd.decoder == nil)
        let encoder = try #require(taesd.encoder)
        #expect(difference(encoder(io["encode.images"]), io["encode.latents"]).relativeToScale < tolerance)
    }

    @Test("a file that is not TAESD is refused, naming the file and why")
    func notTAESD() throws {
        // A UNet file: neither diffusers' TAESD keys nor the original N.… keys.
        let unet = Fixtures.modelCase("unet_a").appendingPathComponent("weights.safetensors")
        do {
            _ = try TinyAutoencoderCheckpoint.open(unet)
            Issue.record("a UNet file opened as TAESD")
        } catch {
            #expect("\(error)".contains("weights.safetensors") && "\(error)".contains("TAESD"), "\(error)")
        }
        #expect(throws: (any Error).self) { try TinyAutoencoderCheckpoint.open(URL(fileURLWithPath: "/nonexistent/taesd")) }
    }
}
