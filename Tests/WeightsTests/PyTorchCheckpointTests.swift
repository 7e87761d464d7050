// Reading real torch.save output (Tests/Fixtures/checkpoints/, written by make_checkpoint_fixtures.py):
// a PyTorch Lightning checkpoint with every tensor layout the reader must handle, the same file
// repacked as ZIP64, plain and wrapped state dicts, and the tiny SD model saved as a `.ckpt`, which
// must load exactly as its safetensors twin does.
import Foundation
import Testing
import Tensor
import TestSupport
import Weights

@Suite("PyTorch checkpoints written by torch.save")
struct PyTorchCheckpointTests {
    static let directory = Fixtures.directory.appendingPathComponent("checkpoints")

    static func open(_ name: String) throws -> TorchCheckpointFile {
        try TorchCheckpointFile(contentsOf: directory.appendingPathComponent(name))
    }

    static func expected(_ name: String) throws -> SafetensorsFile {
        try SafetensorsFile(contentsOf: directory.appendingPathComponent(name))
    }

    /// Every state-dict tensor equals PyTorch's `.float()` of it, bit for bit: widening f16, bf16,
    /// f64 and int64 is exact (or rounds as `.float()` rounds), and views are copied, not computed.
    func expectSameTensors(_ file: TorchCheckpointFile, _ expected: SafetensorsFile) throws {
        #expect(file.tensorNames == expected.tensorNames)
        for name in expected.tensorNames {
            let read = try file.tensor(name), reference = try expected.tensor(name)
            #expect(read.shape == reference.shape, "\(name)")
            #expect(file.shape(of: name) == reference.shape, "\(name)")
            #expect(read.scalars.map(\.bitPattern) == reference.scalars.map(\.bitPattern), "\(name)")
        }
    }

    @Test("a Lightning checkpoint: every dtype and view, callbacks and hyper-parameters ignored")
    func lightningCheckpoint() throws {
        let file = try Self.open("lightning.ckpt")
        try expectSameTensors(file, try Self.expected("lightning_expected.safetensors"))
        // Only the state dict is served: the optimizer's and callbacks' tensors are not.
        #expect(!file.tensorNames.contains { $0.contains("exp_avg") || $0.contains("best_model_score") })
        #expect(file.skippedEntries == ["num_updates"])
        #expect(file.tensorNames.contains("nested.inner.bias"))
    }

    @Test("contiguous fp32 tensors borrow the mapping; views of one storage share its memory")
    func zeroCopy() throws {
        let file = try Self.open("lightning.ckpt")
        let weight = try file.tensor("model.diffusion_model.conv.weight")
        #expect(weight.storage.isBorrowed && file.isZeroCopy("model.diffusion_model.conv.weight"))
        let a = try file.tensor("shared_a"), b = try file.tensor("shared_b")
        #expect(a.storage.isBorrowed && b.storage.isBorrowed)
        #expect(b.pointer == a.pointer + 4, "shared_b starts 4 elements into the storage shared_a starts")
        // Conversions and gathers make new memory.
        for name in ["half", "bfloat", "token_ids", "transposed"] {
            #expect(try !file.tensor(name).storage.isBorrowed, "\(name)")
            #expect(!file.isZeroCopy(name), "\(name)")
        }
    }

    @Test("a transposed tensor is gathered into row-major order")
    func nonContiguous() throws {
        let t = try Self.open("lightning.ckpt").tensor("transposed")
        let reference = try Self.expected("lightning_expected.safetensors").tensor("transposed")
        #expect(t.shape == [3, 4])
        #expect(t.scalars == reference.scalars)
    }

    @Test("the same checkpoint with every ZIP64 field in use reads the same")
    func zip64() throws {
        try expectSameTensors(try Self.open("zip64.ckpt"), try Self.expected("lightning_expected.safetensors"))
    }

    @Test("a top-level state dict (.bin) and one under \"model\" (.pt)", arguments: ["plain.bin", "model_wrapped.pt"])
    func unwrappedAndWrapped(_ name: String) throws {
        try expectSameTensors(try Self.open(name), try Self.expected("plain_expected.safetensors"))
    }

    @Test("compressed entries are refused, naming the entry")
    func deflated() throws {
        let path = Self.directory.appendingPathComponent("deflated.ckpt").path
        let error = weightsError { _ = try Self.open("deflated.ckpt") }
        guard case .unsupportedArchiveEntry(path, "lightning/data.pkl", let reason) = error else {
            Issue.record("expected unsupportedArchiveEntry for data.pkl, got \(String(describing: error))")
            return
        }
        #expect(reason.contains("compressed"))
    }

    @Test("the pre-1.6 format is recognised and refused with advice")
    func legacy() throws {
        let path = Self.directory.appendingPathComponent("legacy.ckpt").path
        let error = weightsError { _ = try Self.open("legacy.ckpt") }
        #expect(error == .legacyTorchFormat(file: path))
        #expect(error?.description.contains("torch >= 1.6") == true)
    }

    // MARK: The tiny SD model as a .ckpt

    static let layouts = Fixtures.modelCase("tiny_layouts")

    @Test("ModelCheckpoint.open of single_file.ckpt serves what single_file.safetensors serves")
    func singleFileCheckpoint() throws {
        let folder = try ModelCheckpoint.open(Self.layouts.appendingPathComponent("diffusers"))
        let ckpt = try ModelCheckpoint.open(Self.layouts.appendingPathComponent("single_file.ckpt"),
                                            configurations: folder.configurations)
        let safetensors = try ModelCheckpoint.open(Self.layouts.appendingPathComponent("single_file.safetensors"),
                                                   configurations: folder.configurations)
        #expect(ckpt.layout == .singleFileCheckpoint)
        #expect(ckpt.skippedKeys == safetensors.skippedKeys)
        let layout = CheckpointLayout(unet: folder.configurations.unet, vae: folder.configurations.vae)
        let stored = try SafetensorsFile(contentsOf: Self.layouts.appendingPathComponent("single_file.safetensors"))
        for component in ModelComponent.allCases {
            // Before any parameter is asked for, `unusedKeys` lists every key of the component.
            let keys = ckpt.source(component).unusedKeys
            #expect(!keys.isEmpty)
            #expect(keys == safetensors.source(component).unusedKeys, "\(component)")
            // Every third key's values (all of them would be slow in debug builds).
            for key in keys.enumerated().filter({ $0.offset % 3 == 0 }).map(\.element) {
                let original = try #require(layout.originalKey(forDiffusers: key, component: component))
                let shape = try #require(stored.entries[original]?.shape)
                let read = try ckpt.source(component).parameter(key, shape: shape, initializer: .zeros)
                let expected = try safetensors.source(component).parameter(key, shape: shape, initializer: .zeros)
                #expect(read.scalars == expected.scalars, "\(component) \(key)")
            }
        }
    }
}
