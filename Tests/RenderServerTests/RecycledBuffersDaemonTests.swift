// Recycled tensor buffers hold the last user's values: nothing may read an output before writing it.
// The real daemon recycles every buffer (DBRENDER_BUFFER_CACHE_MIN_KB=1: models/tiny's tensors are
// small) and fills each reused, not-zeroed one with NaN first (DBRENDER_BUFFER_POISON=1); renders
// through the UNet, the VAE (tiled) and TAESD, each twice so that the second runs entirely on
// recycled buffers, still equal diffusers' images (fixtures: make_tiled_vae_fixtures.py,
// make_taesd_fixtures.py; bound: ImageAgreement).
import Foundation
import ImageIO
import RenderAPI
import Testing
import TestSupport

@Suite("dbrenderd on recycled, poisoned buffers", .serialized)
struct RecycledBuffersDaemonTests {
    private func render(_ daemon: DaemonProcess, _ fields: [String: Any]) throws -> RGBImage {
        let response = try daemon.request("POST", "/v1/renders", json: String(decoding: try JSONSerialization.data(withJSONObject: fields), as: UTF8.self))
        #expect(response.status == 200, "\(response.text)")
        let answer = try response.decode(RenderResponseBody.self)
        return try ImageFile.decode(try #require(Data(base64Encoded: answer.images[0].data))).image
    }

    @Test("UNet, tiled VAE and TAESD renders equal diffusers', twice")
    func poisonedBuffers() throws {
        let daemon = try DaemonProcess(arguments: ["--taesd", Fixtures.modelCase("taesd_tiny").path],
                                       environment: ["DBRENDER_BUFFER_CACHE_MIN_KB": "1", "DBRENDER_BUFFER_POISON": "1"])
        defer { daemon.stop() }
        let tiled = try Fixtures.open("tiled_vae"), taesd = try Fixtures.open("taesd")
        func fields(_ c: [Float], width: Int, height: Int) -> [String: Any] {
            ["prompt": "a photo of sks dog", "negative_prompt": "blurry, low quality", "steps": Int(c[0]), "guidance_scale": Double(c[1]),
             "seed": Int(c[2]), "sampler": "euler", "width": width, "height": height]
        }
        let t = tiled["pipeline.config"].scalars
        var tiledFields = fields(t, width: Int(t[3]), height: Int(t[4]))
        tiledFields["vae_tiling"] = true
        var taesdFields = fields(taesd["pipeline.config"].scalars, width: 64, height: 64)
        taesdFields["decoder"] = "taesd"
        for round in 0..<2 {
            let a = ImageAgreement(try render(daemon, tiledFields).pixels, tiled["pipeline.image"].scalars)
            #expect(a.matchesReference, "round \(round), tiled VAE: \(a)")
            let b = ImageAgreement(try render(daemon, taesdFields).pixels, taesd["pipeline.image"].scalars)
            #expect(b.matchesReference, "round \(round), TAESD: \(b)")
        }
    }
}
