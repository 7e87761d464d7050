// Renders with LoRAs applied beside the base weights (RowAdapters), against diffusers (fixtures:
// Tests/Fixtures/make_lora_fixtures.py): a UNet + text-encoder LoRA in peft's and in kohya's layout
// renders the image of the same LoRA merged into the weights; the UNet part at weight 0.8 renders the
// image of diffusers' own load_lora_weights + set_adapters. Bound as in PipelineTests: PSNR ≥ 40 dB or
// every channel within 2/255. And rows of different LoRAs in one batch give each request's image alone,
// to the byte.
import Foundation
import ImageIO
import Sampling
import Tensor
import Testing
import TestSupport
import Weights

@Suite("LoRA renders: unmerged, per request, equal to diffusers")
struct LoRARenderTests {
    static let directory = Fixtures.directory.appendingPathComponent("lora")
    static let pipeline = try! StableDiffusionPipeline.load(Fixtures.packageRoot.appendingPathComponent("models/tiny"))
    static let renders = try! SafetensorsFile(contentsOf: directory.appendingPathComponent("renders.safetensors"))

    static func request(_ loras: [LoRAUse] = []) -> RenderRequest {
        let metadata = renders.metadata
        var request = RenderRequest(prompt: metadata["prompt"]!, seed: UInt64(metadata["seed"]!)!)
        request.sampler = "euler"
        request.steps = Int(metadata["steps"]!)!
        request.width = 64
        request.height = 64
        request.loras = loras
        return request
    }

    static func lora(_ file: String, weight: Float = 1) throws -> LoRAUse {
        LoRAUse(name: file, weights: try LoRAWeights.load(directory.appendingPathComponent("\(file).safetensors"), targets: pipeline.loraTargets),
                weight: weight)
    }

    static func expectMatches(_ image: RGBImage, _ key: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let agreement = ImageAgreement(image.pixels, try renders.tensor(key).scalars)
        #expect(agreement.matchesReference, "\(key): \(agreement)", sourceLocation: sourceLocation)
    }

    @Test("without a LoRA the image is diffusers' plain one (the baseline the others differ from)")
    func plain() throws {
        try Self.expectMatches(try Self.pipeline.render(Self.request())[0].image, "plain.image")
    }

    @Test("a UNet + text-encoder LoRA, peft or kohya layout, renders the merged weights' image", arguments: ["sks-peft", "sks-kohya"])
    func unmergedEqualsMerged(_ file: String) throws {
        let image = try Self.pipeline.render(Self.request([try Self.lora(file)]))[0].image
        try Self.expectMatches(image, "merged.image")
        // Not the plain image: the LoRA changed it (by ~17 levels on average).
        let plain = try Self.renders.tensor("plain.image").scalars
        let change = zip(image.pixels.map(Float.init), plain).reduce(0) { $0 + abs($1.0 - $1.1) } / Float(plain.count)
        #expect(change > 5, "mean change \(change)")
    }

    @Test("the UNet part at weight 0.8 renders diffusers' load_lora_weights + set_adapters image")
    func diffusersAdapterWeight() throws {
        let weight = Float(Self.renders.metadata["unet_only_weight"]!)!
        try Self.expectMatches(try Self.pipeline.render(Self.request([try Self.lora("unet-only", weight: weight)]))[0].image, "unet_only.image")
    }

    @Test("requests with different LoRAs, or none, share UNet calls and each gets its own image, byte for byte")
    func mixedBatch() throws {
        let pipeline = Self.pipeline
        let withLoRA = Self.request([try Self.lora("sks-kohya")])
        var half = Self.request([try Self.lora("unet-only", weight: 0.5)])
        half.seed = 9
        let plain = Self.request()
        let alone = try [withLoRA, half, plain].map { try pipeline.render($0)[0].image }
        let jobs = try [withLoRA, half, plain].map { try pipeline.makeJobs(for: $0)[0] }
        while !jobs.allSatisfy(\.isFinished) { pipeline.denoiser.step(jobs) }
        let batched = jobs.map { pipeline.decode($0.latents) }
        #expect(batched.map(\.pixels) == alone.map(\.pixels))
        #expect(alone[0].pixels != alone[2].pixels && alone[1].pixels != alone[2].pixels)
    }

    @Test("an LCM-LoRA-style LoRA (3×3 resnet and resampler convolutions too) renders diffusers' image with lcm, 4 steps, guidance 1")
    func convolutionLoRA() throws {
        let renders = try SafetensorsFile(contentsOf: Self.directory.appendingPathComponent("conv-renders.safetensors"))
        let weights = try LoRAWeights.load(Self.directory.appendingPathComponent("conv.safetensors"), targets: Self.pipeline.loraTargets)
        #expect(weights.moduleCount == Int(renders.metadata["modules"]!)!)
        #expect(weights.updates[.unet]?["down_blocks.0.resnets.0.conv1"]?.kernel == 3)
        var request = RenderRequest(prompt: renders.metadata["prompt"]!, seed: UInt64(renders.metadata["seed"]!)!)
        request.sampler = "lcm"
        request.steps = Int(renders.metadata["steps"]!)!
        request.guidanceScale = 1
        request.width = 64
        request.height = 64
        for (key, loras) in [("plain.image", [LoRAUse]()), ("lora.image", [LoRAUse(name: "lcm-style", weights: weights, weight: 1)])] {
            request.loras = loras
            let agreement = ImageAgreement(try Self.pipeline.render(request)[0].image.pixels, try renders.tensor(key).scalars)
            #expect(agreement.matchesReference, "\(key): \(agreement)")
        }
    }
}
