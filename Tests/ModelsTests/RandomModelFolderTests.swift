// `dbtrain init`'s folder writer: what it writes loads back through the diffusers-folder path with
// every key used, initialisation follows PyTorch's rules, and seeds are reproducible.
import Foundation
import Testing
import Models
import Tensor
import TestSupport
import Weights

@Suite("Random model folder")
struct RandomModelFolderTests {
    private func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("dbrender-init-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test("a tiny folder loads back with every parameter used and the expected parameter counts")
    func roundTrip() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = root.appendingPathComponent("tiny")
        let summary = try RandomModelFolder.write(.tiny, seed: 3, to: folder)
        let checkpoint = try ModelCheckpoint.open(folder)
        #expect(checkpoint.layout == .diffusers)
        #expect(checkpoint.configurations == .tiny)
        #expect(checkpoint.tokenizerDirectory != nil && checkpoint.schedulerConfigURL != nil)
        _ = try UNet2DCondition(configuration: checkpoint.configurations.unet, parameters: checkpoint.source(.unet))
        _ = try AutoencoderKL(configuration: checkpoint.configurations.vae, parameters: checkpoint.source(.vae))
        _ = try CLIPTextEncoder(configuration: checkpoint.configurations.textEncoder, parameters: checkpoint.source(.textEncoder))
        for component in ModelComponent.allCases {
            #expect(checkpoint.source(component).unusedKeys.isEmpty, "\(component)")
            #expect(checkpoint.source(component).keyCount > 0)
        }
        // Text encoder: token 49408×32 + position 77×32 + 2 layers + final norm.
        let c = ModelConfigurations.tiny.textEncoder
        let layer = 4 * (c.hiddenSize * c.hiddenSize + c.hiddenSize) + 2 * 2 * c.hiddenSize
            + c.hiddenSize * c.intermediateSize + c.intermediateSize + c.intermediateSize * c.hiddenSize + c.hiddenSize
        #expect(summary.parameterCounts[.textEncoder] == 49408 * 32 + 77 * 32 + 2 * layer + 2 * 32)
        _ = try CLIPTokenizer(directory: checkpoint.tokenizerDirectory!)
    }

    @Test("initialisation follows PyTorch: conv weights within ±1/√fan-in, norms at 1 and 0")
    func initialisation() throws {
        let source = RandomParameterSource(seed: 9)
        let unet = try UNet2DCondition(configuration: .tiny, parameters: source)
        let conv = unet.convIn.weight  // fan-in 4·3·3 = 36
        let bound: Float = 1 / 6
        #expect(conv.scalars.allSatisfy { abs($0) <= bound })
        // A uniform distribution on ±b has standard deviation b/√3.
        let std = (conv.scalars.map { $0 * $0 }.reduce(0, +) / Float(conv.count)).squareRoot()
        #expect(abs(std - bound / Float(3).squareRoot()) < 0.1 * bound)
        #expect(unet.convNormOut.weight.scalars.allSatisfy { $0 == 1 })
        #expect(unet.convNormOut.bias.scalars.allSatisfy { $0 == 0 })
    }

    @Test("the same seed writes the same weights; another seed does not")
    func reproducible() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        for (name, seed) in [("a", 5), ("b", 5), ("c", 6)] {
            _ = try RandomModelFolder.write(.tiny, seed: UInt64(seed), to: root.appendingPathComponent(name))
        }
        let file = "unet/diffusion_pytorch_model.safetensors"
        let a = try Data(contentsOf: root.appendingPathComponent("a/\(file)"))
        let b = try Data(contentsOf: root.appendingPathComponent("b/\(file)"))
        let c = try Data(contentsOf: root.appendingPathComponent("c/\(file)"))
        #expect(a == b)
        #expect(a != c)
    }

    @Test("a folder that is not empty is not overwritten")
    func refusesNonEmpty() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try Data("keep".utf8).write(to: root.appendingPathComponent("precious.txt"))
        #expect(throws: (any Error).self) { _ = try RandomModelFolder.write(.tiny, seed: 1, to: root) }
        #expect(try String(contentsOf: root.appendingPathComponent("precious.txt"), encoding: .utf8) == "keep")
    }
}
