// The whole pipeline against diffusers on the model that ships in models/tiny, for every sampler
// (fixtures: Tests/Fixtures/make_pipeline_fixtures.py). Bound: PSNR ≥ 40 dB against diffusers'
// 8-bit image, or every channel within 2/255 — fp32 differences of ~1e-6 in the networks move a
// few pixels across a rounding boundary, never more.
import Foundation
import ImageIO
import Testing
import Sampling
import Tensor
import TestSupport

private let fixture = try! Fixtures.open("pipeline")
private let pipeline = try! StableDiffusionPipeline.load(
    Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("models/tiny"))

private func expectMatches(_ images: [RenderedImage], _ name: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let expected = fixture["\(name).image"]  // [N, H, W, 3]
    #expect(images.count == expected.shape[0], sourceLocation: sourceLocation)
    let plane = expected.count / expected.shape[0]
    for (i, rendered) in images.enumerated() {
        let agreement = ImageAgreement(rendered.image.pixels, Array(expected.buffer[(i * plane)..<((i + 1) * plane)]))
        #expect(agreement.matchesReference, "\(name) image \(i): \(agreement)", sourceLocation: sourceLocation)
    }
}

private func request(_ name: String, sampler: String) -> RenderRequest {
    let c = fixture["\(name).config"].scalars  // count, steps, guidance, seed
    return .fixture(sampler: sampler, steps: c[1], guidance: c[2], seed: c[3], count: Int(c[0]))
}

@Suite("Pipeline parity with diffusers")
struct PipelineTests {
    @Test("text-to-image matches StableDiffusionPipeline", arguments: ["ddim", "pndm", "euler", "euler_a", "dpmpp_2m", "dpmpp_2m_karras", "heun", "lms", "lcm"])
    func textToImage(_ sampler: String) throws {
        expectMatches(try pipeline.render(request(sampler, sampler: sampler)), sampler)
    }

    @Test("two images of one request use seeds seed and seed + 1, batched in one UNet call")
    func countTwo() throws {
        let images = try pipeline.render(request("euler_a_count2", sampler: "euler_a"))
        #expect(images.map(\.seed) == [1234, 1235])
        expectMatches(images, "euler_a_count2")
    }

    @Test("guidance scale 1 skips the unconditional pass and still matches")
    func noGuidance() throws {
        expectMatches(try pipeline.render(request("dpmpp_2m_noguidance", sampler: "dpmpp_2m")), "dpmpp_2m_noguidance")
    }

    @Test("LCM in 4 steps at guidance 1 (an LCM-LoRA's recipe): one row per image, two images, and it matches")
    func lcmFewSteps() throws {
        let images = try pipeline.render(request("lcm_guidance1", sampler: "lcm"))
        #expect(images.map(\.seed) == [21, 22])
        expectMatches(images, "lcm_guidance1")
    }

    @Test("image-to-image matches StableDiffusionImg2ImgPipeline (strength 0.6)", arguments: ["ddim", "euler_a", "dpmpp_2m", "lcm"])
    func imageToImage(_ sampler: String) throws {
        var r = request("img2img_\(sampler)", sampler: sampler)
        let initPixels = fixture["init_image"].scalars.map { UInt8($0) }
        r.initImage = RGBImage(width: 64, height: 64, pixels: initPixels)
        r.strength = 0.6
        expectMatches(try pipeline.render(r), "img2img_\(sampler)")
    }

    @Test("progress is reported after every step; cancellation stops between steps")
    func progressAndCancellation() throws {
        var r = request("euler", sampler: "euler")
        var seen: [RenderProgress] = []
        _ = try pipeline.render(r, progress: { seen.append($0) })
        #expect(seen.map(\.step) == Array(1...r.steps) && seen.allSatisfy { $0.steps == r.steps })
        r.steps = 20
        var calls = 0
        #expect(throws: RenderError.cancelled) {
            _ = try pipeline.render(r, progress: { _ in }, isCancelled: { calls += 1; return calls > 3 })
        }
        #expect(calls == 4)
    }

    @Test("invalid requests name the field")
    func invalidRequests() throws {
        var r = request("euler", sampler: "nonsense")
        #expect(throws: RenderError.self) { _ = try pipeline.render(r) }
        do { _ = try pipeline.render(r) } catch let RenderError.invalidRequest(field, message) {
            #expect(field == "sampler" && message.contains("euler_a"))
        }
        r = request("euler", sampler: "euler")
        r.width = 60
        do { _ = try pipeline.render(r); Issue.record("width 60 accepted") } catch let RenderError.invalidRequest(field, _) {
            #expect(field == "width")
        }
        r.width = 64
        r.strength = 0.05
        r.initImage = RGBImage(width: 64, height: 64, pixels: [UInt8](repeating: 128, count: 64 * 64 * 3))
        do { _ = try pipeline.render(r); Issue.record("strength 0.05 with 8 steps accepted") } catch let RenderError.invalidRequest(field, _) {
            #expect(field == "strength")
        }
    }
}
