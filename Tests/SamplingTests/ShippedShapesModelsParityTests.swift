// The trained models that ship in models/ (models/shapes: trained by dbtrain, its UNet and text encoder
// in fp16, its VAE in fp32) render in dbrender the image diffusers renders from the same folders (issue 10,
// item 4). The cases — model, prompt, seed — and the sampling settings are read from the fixture's
// metadata, written by Tests/Fixtures/make_shapes_models_fixtures.py. Bound: the usual render parity (ImageAgreement:
// PSNR ≥ 40 dB or every channel within 2/255), stricter than the 35 dB.
import Foundation
import ImageIO
import Sampling
import Testing
import TestSupport

/// One fixture case: a prompt at a seed through one of the shipped models.
private struct ShippedModelCase: Decodable, CustomTestStringConvertible, Sendable {
    let key: String
    let model: String
    let prompt: String
    let seed: UInt64
    var testDescription: String { "\(model): \"\(prompt)\" seed \(seed)" }
}

/// The sampling settings every case was rendered with.
private struct FixtureSettings: Decodable, Sendable {
    let steps: Int
    let guidance: Float
    let size: Int
    let sampler: String
}

private let fixture = try! Fixtures.open("shapes_models")

private func metadata<T: Decodable>(_ name: String, as type: T.Type) -> T {
    guard let json = fixture.file.metadata[name], let value = try? JSONDecoder().decode(T.self, from: Data(json.utf8)) else {
        fatalError("shapes_models.safetensors has no readable '\(name)' metadata")
    }
    return value
}

private let cases = metadata("cases", as: [ShippedModelCase].self)
private let settings = metadata("settings", as: FixtureSettings.self)

@Suite("Shipped shapes models: parity with diffusers")
struct ShippedShapesModelsParityTests {
    @Test("the fixture covers every trained model that ships")
    func coverage() {
        #expect(Set(cases.map(\.model)) == ["shapes"] && cases.count >= 3)
    }

    @Test("renders equal diffusers' from_pretrained on the same folder", arguments: cases)
    fileprivate func parity(_ c: ShippedModelCase) throws {
        let pipeline = try StableDiffusionPipeline.load(Fixtures.packageRoot.appendingPathComponent("models/\(c.model)"))
        var request = RenderRequest(prompt: c.prompt, seed: c.seed)
        request.sampler = settings.sampler
        request.steps = settings.steps
        request.guidanceScale = settings.guidance
        request.width = settings.size
        request.height = settings.size
        let image = try pipeline.render(request)[0].image
        let agreement = ImageAgreement(image.pixels, fixture["\(c.key).image"].scalars)
        #expect(agreement.matchesReference, "\(c.testDescription): \(agreement)")
    }
}
