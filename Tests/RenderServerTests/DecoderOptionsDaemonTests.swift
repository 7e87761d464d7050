// The decoder options through dbrenderd as users meet them. TAESD: the real daemon on models/tiny with --taesd (the random
// TAESD of Tests/Fixtures/make_taesd_fixtures.py, as a diffusers folder and as the original
// taesd_decoder file). A render with "decoder": "taesd" equals diffusers' StableDiffusionPipeline with
// that AutoencoderTiny as its vae (bound: ImageAgreement); live previews become full-size TAESD
// images; without --taesd the field is a 400 that says how to get one; a --taesd that is not TAESD
// stops the daemon before it serves, naming the file. "vae_tiling": true renders diffusers' image with
// `vae.enable_tiling()` (Tests/Fixtures/make_tiled_vae_fixtures.py) and is echoed in the parameters.
import Foundation
import ImageIO
import RenderAPI
import Testing
import TestSupport
import Weights

@Suite("dbrenderd decoder options: TAESD and VAE tiling", .serialized)
struct DecoderOptionsDaemonTests {
    static let fixture = try! Fixtures.open("taesd")

    /// The fixture's pipeline render, with `extra` fields.
    private func renderBody(_ extra: [String: Any] = [:]) -> String {
        let c = Self.fixture["pipeline.config"].scalars  // steps, guidance, seed
        let fields: [String: Any] = ["prompt": "a photo of sks dog", "negative_prompt": "blurry, low quality", "steps": Int(c[0]),
                                     "guidance_scale": Double(c[1]), "seed": Int(c[2]), "sampler": "euler", "width": 64, "height": 64]
        return String(decoding: try! JSONSerialization.data(withJSONObject: fields.merging(extra) { $1 }), as: UTF8.self)
    }

    private func firstImage(_ response: DaemonProcess.Response) throws -> (RGBImage, RenderParameters) {
        #expect(response.status == 200, "\(response.text)")
        let answer = try response.decode(RenderResponseBody.self)
        return (try ImageFile.decode(try #require(Data(base64Encoded: answer.images[0].data))).image, answer.parameters)
    }

    @Test("\"decoder\": \"taesd\" renders diffusers' image from the folder and from the original file; previews are TAESD images")
    func renders() throws {
        let reference = Self.fixture["pipeline.image"].scalars
        for weights in ["taesd_tiny", "taesd_tiny_original/taesd_decoder.safetensors"] {
            let daemon = try DaemonProcess(arguments: ["--taesd", Fixtures.modelCase(weights).path])
            defer { daemon.stop() }
            let (image, parameters) = try firstImage(try daemon.request("POST", "/v1/renders", json: renderBody(["decoder": "taesd"])))
            let agreement = ImageAgreement(image.pixels, reference)
            #expect(agreement.matchesReference, "\(weights): \(agreement)")
            #expect(parameters.decoder == "taesd")
            // A1111 clients see TAESD as the live-preview method.
            let options = try JSONSerialization.jsonObject(with: try daemon.request("GET", "/sdapi/v1/options").body) as? [String: Any]
            #expect(options?["show_progress_type"] as? String == "TAESD")
            // The default stays the model's VAE.
            let (vae, vaeParameters) = try firstImage(try daemon.request("POST", "/v1/renders", json: renderBody()))
            #expect(vae.pixels != image.pixels && vaeParameters.decoder == nil)

            // Previews: the denoised estimate through TAESD, at the render's size (not the latent size).
            let events = try daemon.request("POST", "/v1/renders", json: renderBody(["preview_every": 2]),
                                            headers: ["Accept: application/x-ndjson"]).events
            let previews = events.compactMap { $0.event == "progress" ? $0.preview : nil }
            #expect(previews.count == 2, "\(events.map(\.event))")
            for preview in previews {
                let png = try ImageFile.decode(try #require(Data(base64Encoded: preview.data))).image
                #expect(png.width == 64 && png.height == 64)
            }
        }
    }

    @Test("without --taesd the field is a 400 naming the flag; a bad value or a bad --taesd is refused by name")
    func refusals() throws {
        let daemon = try DaemonProcess()
        defer { daemon.stop() }
        let missing = try daemon.request("POST", "/v1/renders", json: renderBody(["decoder": "taesd"]))
        #expect(missing.status == 400 && missing.errorBody?.error.code == "no_taesd" && missing.errorBody?.error.field == "decoder", "\(missing.text)")
        #expect(missing.errorBody?.error.message.contains("--taesd PATH") == true, "\(missing.text)")
        let unknown = try daemon.request("POST", "/v1/renders", json: renderBody(["decoder": "fast"]))
        #expect(unknown.status == 400 && unknown.errorBody?.error.field == "decoder", "\(unknown.text)")
        #expect(unknown.errorBody?.error.message.contains("\"vae\" or \"taesd\"") == true, "\(unknown.text)")
        #expect(daemon.process.isRunning)

        // A UNet file given as TAESD: the daemon exits non-zero before serving, naming the file.
        let wrong = Fixtures.modelCase("unet_a").appendingPathComponent("weights.safetensors")
        #expect(throws: (any Error).self) { _ = try DaemonProcess(arguments: ["--taesd", wrong.path]) }
        let process = Process()
        process.executableURL = DaemonProcess.binary
        process.arguments = ["--model", Fixtures.packageRoot.appendingPathComponent("models/tiny").path,
                             "--socket", FileManager.default.temporaryDirectory.appendingPathComponent("taesd-\(UUID().uuidString.prefix(8)).sock").path,
                             "--taesd", wrong.path]
        let output = Pipe()
        process.standardError = output
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        #expect(text.contains("cannot load TAESD \(wrong.path)") && text.contains("TAESD"), "\(text)")
    }

    @Test("\"vae_tiling\": true renders diffusers' tiled-VAE image and says so in the parameters")
    func vaeTiling() throws {
        let tiled = try Fixtures.open("tiled_vae")
        let c = tiled["pipeline.config"].scalars  // steps, guidance, seed, width, height
        let fields: [String: Any] = ["prompt": "a photo of sks dog", "negative_prompt": "blurry, low quality", "steps": Int(c[0]),
                                     "guidance_scale": Double(c[1]), "seed": Int(c[2]), "sampler": "euler", "width": Int(c[3]),
                                     "height": Int(c[4]), "vae_tiling": true]
        let daemon = try DaemonProcess()
        defer { daemon.stop() }
        let json = String(decoding: try JSONSerialization.data(withJSONObject: fields), as: UTF8.self)
        let (image, parameters) = try firstImage(try daemon.request("POST", "/v1/renders", json: json))
        let agreement = ImageAgreement(image.pixels, tiled["pipeline.image"].scalars)
        #expect(agreement.matchesReference, "\(agreement)")
        #expect(parameters.vaeTiling == true)
        let wrongType = try daemon.request("POST", "/v1/renders", json: #"{"prompt": "x", "vae_tiling": "yes"}"#)
        #expect(wrongType.status == 400 && wrongType.errorBody?.error.field == "vae_tiling", "\(wrongType.text)")
    }

    @Test("a tiny memory budget: one UNet row per call and a tiled decode, the same images as the reference")
    func memoryBudget() throws {
        let tiled = try Fixtures.open("tiled_vae")
        let c = tiled["pipeline.config"].scalars  // steps, guidance, seed, width, height
        var fields: [String: Any] = ["prompt": "a photo of sks dog", "negative_prompt": "blurry, low quality", "steps": Int(c[0]),
                                     "guidance_scale": Double(c[1]), "seed": Int(c[2]), "sampler": "euler", "width": Int(c[3]),
                                     "height": Int(c[4])]
        let daemon = try DaemonProcess(configuration: #"{"memory_budget_bytes": 1}"#)
        defer { daemon.stop() }
        #expect(daemon.log.contains("memory_budget_mb=0"), "\(daemon.log)")
        // Past the budget the VAE tiles by itself, and says so: diffusers' enable_tiling() image.
        let json = String(decoding: try JSONSerialization.data(withJSONObject: fields), as: UTF8.self)
        let (image, parameters) = try firstImage(try daemon.request("POST", "/v1/renders", json: json))
        #expect(parameters.vaeTiling == true)
        let agreement = ImageAgreement(image.pixels, tiled["pipeline.image"].scalars)
        #expect(agreement.matchesReference, "\(agreement)")
        // Two images, one UNet row per call: each is the image it is alone (seed + i) under the default budget.
        fields["count"] = 2
        fields["vae_tiling"] = false  // an explicit false is honoured: the small VAE fits anyway
        let pair = try daemon.request("POST", "/v1/renders", json: String(decoding: try JSONSerialization.data(withJSONObject: fields), as: UTF8.self))
        #expect(pair.status == 200, "\(pair.text)")
        let roomy = try DaemonProcess()
        defer { roomy.stop() }
        let reference = try roomy.request("POST", "/v1/renders", json: String(decoding: try JSONSerialization.data(withJSONObject: fields), as: UTF8.self))
        #expect(try pair.decode(RenderResponseBody.self).images == reference.decode(RenderResponseBody.self).images)
    }
}
