// Interoperability with real PyTorch output: Tests/Fixtures/safetensors_interop.safetensors is written
// by `safetensors.torch.save_file` (see make_safetensors_fixtures.py beside it). Every tensor `<name>`
// there has a companion `<name>.expected`, PyTorch's own `.float()` of it, stored as F32.
import Foundation
import Testing
import Tensor
import TestSupport
import Weights

@Suite("Safetensors interop with PyTorch")
struct SafetensorsInteropTests {
    static let storedDTypes: [String: SafetensorsDType] = [
        "f32": .f32, "f16": .f16, "bf16": .bf16, "f64": .f64, "i64": .i64, "i32": .i32,
        "i16": .i16, "i8": .i8, "u8": .u8, "bool": .bool, "f8e4m3": .f8e4m3, "f8e5m2": .f8e5m2,
        "scalar": .f32, "empty": .f32,
    ]

    /// Widening is exact for every dtype here (I64 values beyond 2^24 round as `.float()` rounds),
    /// so values must agree bit for bit, infinities and signed zeros included; a NaN need only be
    /// a NaN (its payload and sign are not part of any format's meaning).
    @Test(arguments: storedDTypes.keys.sorted())
    func readsPyTorchTensorExactly(_ name: String) throws {
        let fixture = try Fixtures.open("safetensors_interop")
        let file = fixture.file
        #expect(file.entries[name]?.dtype == Self.storedDTypes[name])
        let read = try file.tensor(name)
        let expected = try file.tensor(name + ".expected")
        #expect(read.shape == expected.shape)
        let mismatches = zip(read.scalars, expected.scalars).enumerated().filter { _, pair in
            pair.0.bitPattern != pair.1.bitPattern && !(pair.0.isNaN && pair.1.isNaN)
        }
        #expect(mismatches.isEmpty, "\(name): first mismatches (index, (read, expected)) \(mismatches.prefix(4))")
    }

    @Test func readsTokenIDs() throws {
        let ids = try Fixtures.open("safetensors_interop").file.tensor("i64")
        #expect(ids.shape == [2, 7])
        #expect(ids[0].scalars == [49406, 320, 1125, 539, 48136, 1929, 49407])
    }

    @Test func readsMetadata() throws {
        let file = try Fixtures.open("safetensors_interop").file
        #expect(file.metadata == ["format": "pt", "producer": "make_safetensors_fixtures.py"])
    }

    /// PyTorch aligns its data section too, so its F32 tensors are borrowed, not copied.
    @Test func pytorchFloat32IsZeroCopy() throws {
        let file = try Fixtures.open("safetensors_interop").file
        #expect(try file.tensor("f32").storage.isBorrowed)
        #expect(try !file.tensor("f16").storage.isBorrowed)
    }
}
