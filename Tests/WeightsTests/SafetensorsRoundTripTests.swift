// Writer → reader round trips (f32 exact, f16 / bf16 within their rounding), zero-copy reading,
// metadata, and the writer's byte layout checked against the reference's own known answers.
import Foundation
import Testing
import Tensor
@testable import Weights

/// Values that exercise signs, magnitudes and subnormals, deterministic across runs.
private func sampleValues(_ count: Int) -> [Float] {
    var state: UInt32 = 12345
    return (0..<count).map { i in
        state = state &* 1_664_525 &+ 1_013_904_223
        let unit = Float(state >> 8) / Float(1 << 24) - 0.5  // [-0.5, 0.5)
        return unit * Float(1 << (i % 12))                   // magnitudes up to ~1000
    }
}

@Suite("Safetensors round trips")
struct SafetensorsRoundTripTests {
    @Test func float32RoundTripIsExactAndZeroCopy() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let weight = Tensor(shape: [3, 4, 5], values: sampleValues(60))
        let special = Tensor(shape: [6], values: [0, -0.0, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude])
        let url = scratch.url.appendingPathComponent("f32.safetensors")
        try SafetensorsWriter.write([("weight", weight), ("special", special)], to: url)

        let file = try SafetensorsFile(contentsOf: url)
        #expect(file.tensorNames == ["special", "weight"])
        for (name, expected) in [("weight", weight), ("special", special)] {
            let read = try file.tensor(name)
            #expect(read.shape == expected.shape)
            #expect(read.scalars.map(\.bitPattern) == expected.scalars.map(\.bitPattern), "\(name)")
            #expect(read.storage.isBorrowed, "\(name) should borrow the mapping")
            #expect(file.isZeroCopy(name))
            #expect(file.entries[name]?.dtype == .f32)
        }
    }

    @Test func float16RoundTripIsWithinHalfRounding() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let values = sampleValues(257) + [0, -0.0, 65504, 6e-8, -1e-5]
        let original = Tensor(shape: [values.count], values: values)
        let url = scratch.url.appendingPathComponent("f16.safetensors")
        try SafetensorsWriter.write([("x", original)], to: url, dtype: .f16)

        let file = try SafetensorsFile(contentsOf: url)
        #expect(file.entries["x"]?.dtype == .f16)
        let read = try file.tensor("x")
        #expect(!read.storage.isBorrowed)
        // Round to nearest: at most half a unit in the last place, 2^-11 relative for normal halves,
        // and half the subnormal spacing (2^-25) near zero.
        for (r, v) in zip(read.scalars, values) {
            #expect(abs(r - v) <= max(abs(v) * 0x1p-11, 0x1p-25), "\(v) read back as \(r)")
        }
    }

    @Test func bfloat16RoundTripIsWithinBFloatRounding() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let values = sampleValues(300) + [3e38, -1e-30]
        let original = Tensor(shape: [values.count], values: values)
        let url = scratch.url.appendingPathComponent("bf16.safetensors")
        try SafetensorsWriter.write([("x", original)], to: url, dtype: .bf16)

        let read = try SafetensorsFile(contentsOf: url).tensor("x")
        // bf16 keeps 8 significant bits: half a unit in the last place is at most 2^-8 relative.
        for (r, v) in zip(read.scalars, values) {
            #expect(abs(r - v) <= abs(v) * 0x1p-8, "\(v) read back as \(r)")
        }
    }

    @Test func metadataRoundTrips() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let metadata = ["format": "pt", "prompt": "a \"photo\" of sks dog\n\tü ✓ \\ \u{01}", "": "empty key"]
        let url = scratch.url.appendingPathComponent("meta.safetensors")
        try SafetensorsWriter.write([("a", Tensor(shape: [1], values: [1]))], metadata: metadata, to: url)
        #expect(try SafetensorsFile(contentsOf: url).metadata == metadata)
    }

    @Test func namesNeedingEscapesRoundTrip() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let names = ["down_blocks.0.attentions.0.proj_in.weight", "quote\"d", "back\\slash", "new\nline", "ünï", ""]
        let tensors = names.enumerated().map { (name: $0.element, tensor: Tensor(shape: [2], values: [Float($0.offset), 1])) }
        let url = scratch.url.appendingPathComponent("names.safetensors")
        try SafetensorsWriter.write(tensors, to: url)
        let file = try SafetensorsFile(contentsOf: url)
        #expect(Set(file.tensorNames) == Set(names))
        for (i, name) in names.enumerated() {
            #expect(try file.tensor(name).scalars == [Float(i), 1])
        }
    }

    @Test func emptyAndScalarTensorsRoundTrip() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let url = scratch.url.appendingPathComponent("edge.safetensors")
        try SafetensorsWriter.write([("empty", Tensor(zeros: [0, 3])), ("scalar", Tensor(shape: [], values: [2.5]))], to: url)
        let file = try SafetensorsFile(contentsOf: url)
        #expect(try file.tensor("empty").shape == [0, 3])
        #expect(try file.tensor("scalar").scalars == [2.5])
    }

    /// A writable private mapping: writing into a borrowed tensor never changes the file.
    @Test func writesToZeroCopyTensorsNeverReachTheFile() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let url = scratch.url.appendingPathComponent("cow.safetensors")
        try SafetensorsWriter.write([("w", Tensor(shape: [4], values: [1, 2, 3, 4]))], to: url)
        let before = try Data(contentsOf: url)

        let borrowed = try SafetensorsFile(contentsOf: url).tensor("w")
        #expect(borrowed.storage.isBorrowed)
        borrowed.pointer[0] = 42  // would crash on a read-only mapping
        #expect(borrowed.scalars == [42, 2, 3, 4])

        #expect(try Data(contentsOf: url) == before)
        #expect(try SafetensorsFile(contentsOf: url).tensor("w").scalars == [1, 2, 3, 4])
    }

    /// The tensor's storage owns the mapping: it stays valid after the file object is gone.
    @Test func zeroCopyTensorOutlivesTheFileObject() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let url = scratch.url.appendingPathComponent("owner.safetensors")
        try SafetensorsWriter.write([("w", Tensor(shape: [3], values: [7, 8, 9]))], to: url)
        let tensor = try { () throws -> Tensor in try SafetensorsFile(contentsOf: url).tensor("w") }()
        #expect(tensor.scalars == [7, 8, 9])
    }

    /// F32 data at an address that is not 4-byte aligned is copied, with the same values.
    @Test func misalignedFloat32IsCopied() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        // A 1-byte U8 tensor first pushes the F32 tensor to an odd offset.
        let header = "{\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
            + "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1,9]}}"
        let url = try scratch.file("odd.safetensors", bytes: safetensorsBytes(header: header, data: [200] + bytes(of: [1.5, -2])))
        let file = try SafetensorsFile(contentsOf: url)
        #expect(!file.isZeroCopy("w"))
        let w = try file.tensor("w")
        #expect(!w.storage.isBorrowed)
        #expect(w.scalars == [1.5, -2])
        #expect(try file.tensor("b").scalars == [200])
    }

    @Test func writerReplacesAtomicallyAndLeavesNoTemporaryFiles() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let url = scratch.url.appendingPathComponent("model.safetensors")
        try SafetensorsWriter.write([("w", Tensor(shape: [1], values: [1]))], to: url)
        try SafetensorsWriter.write([("w", Tensor(shape: [2], values: [2, 3]))], to: url)
        #expect(try SafetensorsFile(contentsOf: url).tensor("w").scalars == [2, 3])
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path) == ["model.safetensors"])
    }

    @Test func writerRejectsDuplicateAndReservedNames() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let url = scratch.url.appendingPathComponent("bad.safetensors")
        let t = Tensor(shape: [1], values: [1])
        #expect(weightsError { try SafetensorsWriter.write([("a", t), ("a", t)], to: url) }
                == .invalidTensorName(file: url.path, name: "a", reason: "the name is given twice"))
        #expect(weightsError { try SafetensorsWriter.write([("__metadata__", t)], to: url) }
                == .invalidTensorName(file: url.path, name: "__metadata__", reason: "the name is reserved for metadata"))
        #expect(!FileManager.default.fileExists(atPath: url.path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path).isEmpty)
    }

    @Test func writerReportsUnwritableDirectory() {
        let url = URL(fileURLWithPath: "/nonexistent/dir/out.safetensors")
        let error = weightsError { try SafetensorsWriter.write([], to: url) }
        guard case .unwritableFile(url.path, let reason)? = error else {
            Issue.record("expected unwritableFile, got \(String(describing: error))")
            return
        }
        #expect(reason.contains("No such file or directory"))
    }
}

@Suite("Safetensors writer layout")
struct SafetensorsWriterLayoutTests {
    /// Known answers from the reference crate's own tests (`test_empty`, `test_serialization`).
    @Test func headerBytesMatchTheReference() {
        #expect(SafetensorsWriter.headerBytes([], metadata: [:], dtype: .f32) == Array("{}      ".utf8))
        #expect(SafetensorsWriter.headerBytes([], metadata: ["framework": "pt"], dtype: .f32)
                == Array("{\"__metadata__\":{\"framework\":\"pt\"}}     ".utf8))
        let header = SafetensorsWriter.headerBytes([("attn.0", [1, 2, 3])], metadata: [:], dtype: .f32)
        #expect(header == Array("{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}".utf8))
    }

    /// Sorted by name bytes (as the reference sorts), packed, and 8-byte aligned after the header.
    @Test func fileIsSortedPackedAndAligned() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let url = scratch.url.appendingPathComponent("order.safetensors")
        let names = ["b", "Z", "a", "é", "a.b"]
        try SafetensorsWriter.write(names.map { ($0, Tensor(shape: [3], values: [1, 2, 3])) }, to: url)
        let file = try SafetensorsFile(contentsOf: url)
        #expect(file.header.headerLength % 8 == 0)
        let byOffset = file.entries.values.sorted { $0.dataOffsets.lowerBound < $1.dataOffsets.lowerBound }.map(\.name)
        #expect(byOffset == ["Z", "a", "a.b", "b", "é"])
        #expect(file.entries["Z"]?.dataOffsets == 0..<12)
    }

    @Test func jsonEscapingMatchesSerde() {
        #expect(SafetensorsWriter.quoted("a\"b\\c\n\u{01}\u{1F}/é") == "\"a\\\"b\\\\c\\n\\u0001\\u001f/é\"")
    }
}
