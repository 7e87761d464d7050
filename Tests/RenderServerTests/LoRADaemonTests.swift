// LoRAs through dbrenderd as users meet them: the real daemon with --lora-dir on models/tiny, a LoRA
// named in the `loras` field or as A1111's <lora:name:weight> in the prompt, GET /v1/loras, files added
// while the daemon runs, the text-embedding cache keeping LoRA and plain embeddings apart, A1111's
// "Lora hashes" field, and every bad choice answered with a 400 naming it while the daemon keeps
// serving. Images are compared with diffusers' (Tests/Fixtures/make_lora_fixtures.py), bound as in
// PipelineTests.
import Foundation
import ImageIO
import RenderAPI
import Testing
import TestSupport
import Weights

@Suite("dbrenderd with LoRAs", .serialized)
struct LoRADaemonTests {
    static let fixtures = Fixtures.directory.appendingPathComponent("lora")
    static let renders = try! SafetensorsFile(contentsOf: fixtures.appendingPathComponent("renders.safetensors"))

    private func body(_ fields: [String: Any]) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: fields), as: UTF8.self)
    }

    /// The fixture's render settings, with `extra` fields.
    private func renderBody(_ extra: [String: Any] = [:], prompt: String? = nil) -> String {
        let m = Self.renders.metadata
        return body(["prompt": prompt ?? m["prompt"]!, "seed": Int(m["seed"]!)!, "steps": Int(m["steps"]!)!, "sampler": "euler",
                     "width": 64, "height": 64].merging(extra) { $1 })
    }

    /// A daemon whose LoRA folder holds the kohya file as "sks" and the UNet part as "unet-part".
    private func daemonWithLoRAs() throws -> (DaemonProcess, URL) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("loras-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent("sks-kohya.safetensors"), to: folder.appendingPathComponent("sks.safetensors"))
        try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent("unet-only.safetensors"), to: folder.appendingPathComponent("unet-part.safetensors"))
        return (try DaemonProcess(arguments: ["--lora-dir", folder.path]), folder)
    }

    private func image(_ response: DaemonProcess.Response) throws -> (image: RGBImage, parameters: String?) {
        #expect(response.status == 200, "\(response.text)")
        let answer = try response.decode(RenderResponseBody.self)
        let decoded = try ImageFile.decode(try #require(Data(base64Encoded: answer.images[0].data)))
        return (decoded.image, decoded.parameters)
    }

    private func expectMatches(_ image: RGBImage, _ key: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let agreement = ImageAgreement(image.pixels, try Self.renders.tensor(key).scalars)
        #expect(agreement.matchesReference, "\(key): \(agreement)", sourceLocation: sourceLocation)
    }

    @Test("a LoRA by field or by prompt tag renders diffusers' image, plain renders stay plain, images carry Lora hashes")
    func renders() throws {
        let (daemon, folder) = try daemonWithLoRAs()
        defer { daemon.stop(); try? FileManager.default.removeItem(at: folder) }
        let listed = try daemon.request("GET", "/v1/loras").decode(LoRAsBody.self)
        #expect(listed.loras.map(\.name) == ["sks", "unet-part"])

        let byField = try image(try daemon.request("POST", "/v1/renders", json: renderBody(["loras": [["name": "sks"]]])))
        try expectMatches(byField.image, "merged.image")
        let prompt = Self.renders.metadata["prompt"]!
        let byTag = try image(try daemon.request("POST", "/v1/renders", json: renderBody(prompt: "\(prompt) <lora:sks:1>")))
        #expect(byTag.image.pixels == byField.image.pixels)
        // The infotext keeps the tag in the prompt, and names the file's addnet hash.
        let file = try Data(contentsOf: folder.appendingPathComponent("sks.safetensors"))
        let headerLength = Int(file.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        var sha = SHA256()
        sha.update(file.dropFirst(8 + headerLength))
        let hash = String(sha.finalizeHex().prefix(12))
        #expect(byTag.parameters?.hasPrefix("\(prompt) <lora:sks:1>\n") == true, "\(byTag.parameters ?? "")")
        #expect(byTag.parameters?.contains("Lora hashes: \"sks: \(hash)\"") == true, "\(byTag.parameters ?? "")")

        // The same prompt without the LoRA: the cache must not hand back the LoRA's text embedding.
        let plain = try image(try daemon.request("POST", "/v1/renders", json: renderBody()))
        try expectMatches(plain.image, "plain.image")
        #expect(plain.parameters?.contains("Lora hashes") == false)
        let weighted = try image(try daemon.request("POST", "/v1/renders", json: renderBody(["loras": [["name": "unet-part", "weight": 0.8]]])))
        try expectMatches(weighted.image, "unet_only.image")

        // Two renders with different LoRAs at once (batched together when they overlap) give their own images.
        let (_, first) = try daemon.start("POST", "/v1/renders", json: renderBody(["loras": [["name": "sks"]]]))
        let (_, second) = try daemon.start("POST", "/v1/renders", json: renderBody(["loras": [["name": "unet-part", "weight": 0.8]]]))
        #expect(try image(try first()).image.pixels == byField.image.pixels)
        #expect(try image(try second()).image.pixels == weighted.image.pixels)
    }

    @Test("bad LoRA choices get 400s naming them; files added later are found; the daemon keeps serving")
    func badChoices() throws {
        let (daemon, folder) = try daemonWithLoRAs()
        defer { daemon.stop(); try? FileManager.default.removeItem(at: folder) }
        // A corrupt file: half of the kohya file.
        let bytes = try Data(contentsOf: folder.appendingPathComponent("sks.safetensors"))
        try bytes.prefix(bytes.count / 2).write(to: folder.appendingPathComponent("broken.safetensors"))
        let cases: [(String, String, String, String)] = [  // body, code, field, part of the message
            (renderBody(["loras": [["name": "nope"]]]), "unknown_lora", "loras", "no LoRA named 'nope' in \(folder.path); available: broken, sks, unet-part"),
            (renderBody(prompt: "x <lora:nope:0.5>"), "unknown_lora", "prompt", "no LoRA named 'nope'"),
            (renderBody(prompt: "x <lora:sks:lots>"), "invalid_lora", "prompt", "cannot read the LoRA tag <lora:sks:lots>"),
            (renderBody(prompt: "x <lora:sks"), "invalid_lora", "prompt", "cannot read the LoRA tag <lora:sks"),
            (renderBody(["loras": [["name": "sks", "weight": 11]]]), "out_of_range", "loras", "weight must be a number from -10.0 to 10.0"),
            (renderBody(["loras": [["name": "broken"]]]), "invalid_lora", "loras", "LoRA 'broken' cannot be used with this model"),
            (renderBody(["loras": [["weight": 1]]]), "missing_field", "loras", "'loras' entries need a 'name'"),
        ]
        for (request, code, field, message) in cases {
            let response = try daemon.request("POST", "/v1/renders", json: request)
            #expect(response.status == 400, "\(request.prefix(80)): \(response.text)")
            #expect(response.errorBody?.error.code == code && response.errorBody?.error.field == field, "\(request.prefix(80)): \(response.text)")
            #expect(response.errorBody?.error.message.contains(message) == true, "\(response.text)")
        }
        // A file copied in while the daemon runs is listed and used at once.
        try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent("sks-peft.safetensors"), to: folder.appendingPathComponent("late.safetensors"))
        #expect(try daemon.request("GET", "/v1/loras").decode(LoRAsBody.self).loras.map(\.name) == ["broken", "late", "sks", "unet-part"])
        try expectMatches(try image(try daemon.request("POST", "/v1/renders", json: renderBody(["loras": [["name": "late"]]]))).image, "merged.image")
        #expect(daemon.process.isRunning)
    }

    @Test("without --lora-dir a LoRA request is a 400 that says how to give one, and /v1/loras is empty")
    func noFolder() throws {
        let daemon = try DaemonProcess()
        defer { daemon.stop() }
        let response = try daemon.request("POST", "/v1/renders", json: renderBody(prompt: "x <lora:sks:1>"))
        #expect(response.status == 400 && response.errorBody?.error.code == "unknown_lora", "\(response.text)")
        #expect(response.errorBody?.error.message.contains("start it with --lora-dir DIR") == true, "\(response.text)")
        #expect(try daemon.request("GET", "/v1/loras").decode(LoRAsBody.self).loras.isEmpty)
    }
}
