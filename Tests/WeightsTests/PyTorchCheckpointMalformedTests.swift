// Hostile and damaged PyTorch checkpoints, each hand-assembled (TorchCheckpointTestFiles.swift): the
// reader must answer each with its own `WeightsError` naming the file (and tensor), never crash, hang
// or run anything. The first test checks "never run" directly: its payload would create a file.
import Foundation
import Testing
import Tensor
import TestSupport
import Weights

@Suite("PyTorch checkpoints: malicious and malformed input")
struct PyTorchCheckpointMalformedTests {
    /// Writes `bytes` as `name` in a fresh directory and opens it; returns the error and the path.
    func open(_ bytes: [UInt8], name: String = "model.ckpt") throws -> (error: WeightsError?, path: String) {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let url = try scratch.file(name, bytes: bytes)
        return (weightsError { _ = try TorchCheckpointFile(contentsOf: url) }, url.path)
    }

    /// Opens a checkpoint that must be valid, for tests of what is tolerated. (The mapping outlives
    /// the removal of its file.)
    func openValid(_ bytes: [UInt8]) throws -> TorchCheckpointFile {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        return try TorchCheckpointFile(contentsOf: try scratch.file("model.ckpt", bytes: bytes))
    }

    /// One float tensor "w" of 4 elements; the basis of the storage tests.
    static let oneTensor = PickleAssembler.stateDict([("w", { $0.tensor(key: "0", numel: 4, size: [4]) })])

    // MARK: Code execution

    @Test("GLOBAL os.system + REDUCE is refused, and nothing runs")
    func osSystem() throws {
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("dbrender-pwned-\(UUID().uuidString)")
        var p = PickleAssembler()
        p.global("os", "system")
        p.string("touch \(marker.path)")
        p.tuple1()
        p.reduce()
        p.stop()
        let (error, path) = try open(torchArchive(pickle: p.bytes))
        #expect(error == .forbiddenPickleGlobal(file: path, module: "os", name: "system"))
        #expect(!FileManager.default.fileExists(atPath: marker.path))
    }

    @Test("builtins.eval through STACK_GLOBAL, and __builtin__.getattr, are refused")
    func builtins() throws {
        var eval = PickleAssembler()
        eval.stackGlobal("builtins", "eval")
        eval.string("__import__('os').system('true')")
        eval.tuple1()
        eval.reduce()
        eval.stop()
        let (evalError, evalPath) = try open(torchArchive(pickle: eval.bytes))
        #expect(evalError == .forbiddenPickleGlobal(file: evalPath, module: "builtins", name: "eval"))

        // Hidden inside an otherwise ordinary state dict.
        let getattr = PickleAssembler.stateDict([
            ("w", { $0.tensor(key: "0", numel: 4, size: [4]) }),
            ("x", { $0.global("__builtin__", "getattr") }),
        ])
        let (getattrError, getattrPath) = try open(torchArchive(pickle: getattr, storages: [("0", bytes(of: [1, 2, 3, 4]))]))
        #expect(getattrError == .forbiddenPickleGlobal(file: getattrPath, module: "__builtin__", name: "getattr"))
    }

    @Test("opcodes outside the data-only subset are refused with their offset", arguments: [
        (UInt8(0x69), "INST"), (0x82, "EXT1"), (0x50, "PERSID"), (0x97, "NEXT_BUFFER"), (0xFF, "unassigned"),
    ])
    func forbiddenOpcode(_ opcode: UInt8, _ label: String) throws {
        var p = PickleAssembler()
        p.emptyDict()
        p.raw([opcode] + Array("os\nsystem\n".utf8))
        let (error, path) = try open(torchArchive(pickle: p.bytes))
        #expect(error == .forbiddenPickleOpcode(file: path, offset: 3, opcode: opcode), "\(label)")
    }

    @Test("unknown, harmless-looking globals become placeholders: never called, tensors still read")
    func unknownGlobalsArePlaceholders() throws {
        var p = PickleAssembler()
        p.emptyDict()
        p.mark()
        p.string("callbacks")  // Lightning keys callback states by class
        p.emptyDict()
        p.global("pytorch_lightning.callbacks.model_checkpoint", "ModelCheckpoint")
        p.emptyDict()
        p.setItem()
        p.string("state_dict")
        p.emptyDict()
        p.mark()
        p.string("w")
        p.tensor(key: "0", numel: 4, size: [2, 2])
        p.string("config")
        p.global("mypackage.config", "TrainConfig")
        p.string("lr=1e-6")
        p.tuple1()
        p.reduce()
        p.setItems()
        p.setItems()
        p.stop()
        let file = try openValid(torchArchive(pickle: p.bytes, storages: [("0", bytes(of: [1, 2, 3, 4]))]))
        #expect(file.tensorNames == ["w"])
        #expect(file.skippedEntries == ["config"])
        #expect(try file.tensor("w").scalars == [1, 2, 3, 4])
    }

    // MARK: Resource exhaustion

    @Test("100 000 nested MARKs exceed the nesting limit")
    func deepMarks() throws {
        var p = PickleAssembler()
        p.raw([UInt8](repeating: 0x28, count: 100_000))
        p.stop()
        let (error, path) = try open(torchArchive(pickle: p.bytes))
        guard case .pickleLimitExceeded(path, let limit) = error else {
            Issue.record("expected pickleLimitExceeded, got \(String(describing: error))")
            return
        }
        #expect(limit.contains("MARK"))
    }

    @Test("a million nested tuples and lists are torn down without deep recursion")
    func deepNesting() throws {
        var p = PickleAssembler()
        p.emptyTuple()
        p.raw([UInt8](repeating: 0x85, count: 1_000_000))  // TUPLE1: ((((…),),),)
        p.raw([0x30])  // POP
        p.raw([UInt8](repeating: 0x5D, count: 200_000))  // EMPTY_LIST × n …
        p.raw([UInt8](repeating: 0x61, count: 199_999))  // … APPEND × (n−1): [[[…]]]
        p.stop()
        let (error, path) = try open(torchArchive(pickle: p.bytes))
        #expect(error == .noStateDict(file: path, reason: "the pickle holds a list, not a dict"))
    }

    @Test("a memo bomb (each dict holding the previous one twice) is stopped, not expanded 2^60 times")
    func memoBomb() throws {
        var p = PickleAssembler()
        p.emptyDict()
        p.string("state_dict")
        p.emptyDict()  // level 0: {"leaf": 1}
        p.string("leaf")
        p.int(1)
        p.setItem()
        p.longBinPut(0)
        p.raw([0x30])  // POP: each level lives in the memo only
        for level in 1...60 {
            p.emptyDict()
            p.mark()
            p.string("a")
            p.raw([0x6A] + le(UInt32(level - 1)))  // LONG_BINGET previous
            p.string("b")
            p.raw([0x6A] + le(UInt32(level - 1)))
            p.setItems()
            p.longBinPut(UInt32(level))
            p.raw([0x30])
        }
        p.raw([0x6A] + le(UInt32(60)))
        p.setItem()
        p.stop()
        let (error, path) = try open(torchArchive(pickle: p.bytes))
        #expect(error == .pickleLimitExceeded(file: path, limit: "more than 1048576 state dict entries (shared dicts)"))
    }

    @Test("a state dict that contains itself is refused, not walked forever")
    func cycle() throws {
        var p = PickleAssembler()
        p.emptyDict()
        p.string("state_dict")
        p.emptyDict()
        p.binPut(1)
        p.string("loop")
        p.binGet(1)
        p.setItem()
        p.setItem()
        p.stop()
        let (error, path) = try open(torchArchive(pickle: p.bytes))
        #expect(error == .pickleLimitExceeded(file: path, limit: "state dict nested deeper than 64 (or cyclic)"))
    }

    @Test("a sparse memo index costs nothing (the memo is a dictionary, not an array)")
    func sparseMemo() throws {
        var p = PickleAssembler()
        p.emptyDict()
        p.longBinPut(0xFFFF_FFFF)
        p.string("w")
        p.tensor(key: "0", numel: 4, size: [4])
        p.setItem()
        p.stop()
        let file = try openValid(torchArchive(pickle: p.bytes, storages: [("0", bytes(of: [1, 2, 3, 4]))]))
        #expect(file.tensorNames == ["w"])
    }

    // MARK: Damaged pickles

    @Test("a truncated pickle, one without STOP, a huge string length and an unset memo entry are each corrupt")
    func damagedPickles() throws {
        let whole = Self.oneTensor
        let cases: [(String, [UInt8], String)] = [
            ("cut inside a string", Array(whole.prefix(10)), "truncated: 10 bytes needed, 2 left"),
            ("no STOP", Array(whole.dropLast()), "truncated: the program ends without STOP"),
            ("4 GiB string", [0x80, 0x02, 0x58, 0xFF, 0xFF, 0xFF, 0xFF, 0x2E], "truncated: 4294967295 bytes needed, 1 left"),
            ("unset memo", [0x80, 0x02, 0x68, 0x07, 0x2E], "memo entry 7 was never stored"),
            ("stack underflow", [0x80, 0x02, 0x73, 0x2E], "stack underflow"),
        ]
        for (label, pickle, reason) in cases {
            let (error, path) = try open(torchArchive(pickle: pickle))
            guard case .corruptPickle(path, _, let found) = error else {
                Issue.record("\(label): expected corruptPickle, got \(String(describing: error))")
                continue
            }
            #expect(found == reason, "\(label)")
        }
    }

    @Test("a malformed rebuild call names the tensor")
    func malformedTensorCall() throws {
        var p = PickleAssembler()
        p.emptyDict()
        p.string("w")
        p.global("torch._utils", "_rebuild_tensor_v2")
        p.mark()
        p.string("not a storage")
        p.int(0)
        p.intTuple([4])
        p.intTuple([1])
        p.newFalse()
        p.emptyDict()
        p.tuple()
        p.reduce()
        p.setItem()
        p.stop()
        let (error, path) = try open(torchArchive(pickle: p.bytes))
        #expect(error == .invalidTensorRecord(file: path, tensor: "w", reason: "its storage is a string, not a persistent storage reference"))
    }

    @Test("the root is not a dict")
    func noStateDict() throws {
        var p = PickleAssembler()
        p.emptyList()
        p.stop()
        let (error, path) = try open(torchArchive(pickle: p.bytes))
        #expect(error == .noStateDict(file: path, reason: "the pickle holds a list, not a dict"))
    }

    // MARK: Storages

    @Test("a storage key with no archive entry")
    func missingStorage() throws {
        let pickle = PickleAssembler.stateDict([("w", { $0.tensor(key: "7", numel: 4, size: [4]) })])
        let (error, path) = try open(torchArchive(pickle: pickle, storages: [("0", bytes(of: [1, 2, 3, 4]))]))
        #expect(error == .missingStorage(file: path, tensor: "w", key: "7"))
    }

    @Test("a view whose offset reaches past the storage end")
    func offsetPastStorage() throws {
        let pickle = PickleAssembler.stateDict([("w", { $0.tensor(key: "0", numel: 4, offset: 2, size: [4]) })])
        let (error, path) = try open(torchArchive(pickle: pickle, storages: [("0", bytes(of: [1, 2, 3, 4]))]))
        #expect(error == .storageOutOfBounds(
            file: path, tensor: "w", reason: "view (offset 2, shape [4], strides [1]) of F32 elements reaches past its 16-byte storage"))
    }

    @Test("strides that overflow, and an element count that overflows, are errors, not traps")
    func overflowingViews() throws {
        let strides = PickleAssembler.stateDict([("w", { $0.tensor(key: "0", numel: 4, size: [2, 2], stride: [Int(Int32.max), Int(Int32.max)]) })])
        let (strideError, strideIn) = try open(torchArchive(pickle: strides, storages: [("0", bytes(of: [1, 2, 3, 4]))]))
        guard case .storageOutOfBounds(strideIn, "w", _) = strideError else {
            Issue.record("expected storageOutOfBounds, got \(String(describing: strideError))")
            return
        }
        let huge = Int(Int32.max)
        let count = PickleAssembler.stateDict([("w", { $0.tensor(key: "0", numel: 4, size: [huge, huge, huge], stride: [0, 0, 0]) })])
        let (countError, countIn) = try open(torchArchive(pickle: count, storages: [("0", bytes(of: [1, 2, 3, 4]))]))
        guard case .invalidTensorRecord(countIn, "w", _) = countError else {
            Issue.record("expected invalidTensorRecord, got \(String(describing: countError))")
            return
        }
    }

    @Test("a storage entry that holds fewer bytes than its record declares")
    func shortStorage() throws {
        let (error, path) = try open(torchArchive(pickle: Self.oneTensor, storages: [("0", bytes(of: [1, 2]))]))
        #expect(error == .storageOutOfBounds(file: path, tensor: "w", reason: "storage '0' declares 16 bytes, its archive entry holds 8"))
    }

    @Test("a valid hand-made archive reads (the baseline the other cases break)")
    func baseline() throws {
        let file = try openValid(torchArchive(pickle: Self.oneTensor, storages: [("0", bytes(of: [1, 2, 3, 4]))]))
        #expect(file.tensorNames == ["w"])
        #expect(try file.tensor("w").scalars == [1, 2, 3, 4])
        #expect(weightsError { _ = try file.tensor("v") } == .missingTensor(file: file.path, name: "v"))
    }

    @Test("big-endian data is refused")
    func bigEndian() throws {
        let archive = torchArchive(pickle: Self.oneTensor, storages: [("0", bytes(of: [1, 2, 3, 4]))],
                                   extra: [("archive/byteorder", Array("big".utf8))])
        let (error, path) = try open(archive)
        #expect(error == .unsupportedArchiveEntry(file: path, entry: "archive/byteorder", reason: "byte order 'big' (only little-endian data is supported)"))
    }

    // MARK: Damaged zips

    @Test("a central directory that points past the end of the file")
    func directoryPastEnd() throws {
        let archive = storedZip([("archive/data.pkl", Self.oneTensor)], centralDirectoryOffset: 1 << 30)
        let (error, path) = try open(archive)
        guard case .corruptArchive(path, let reason) = error else {
            Issue.record("expected corruptArchive, got \(String(describing: error))")
            return
        }
        #expect(reason.contains("outside the"))
    }

    @Test("a real torch file whose ZIP64 end record points past the end")
    func zip64DirectoryPastEnd() throws {
        var bytes = Array(try Data(contentsOf: PyTorchCheckpointTests.directory.appendingPathComponent("lightning.ckpt")))
        // torch always writes the ZIP64 end record; its directory offset is at byte 48 of it.
        let locator = bytes.count - 22 - 20
        let record = Int(bytes[locator + 8..<locator + 16].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        bytes.replaceSubrange(record + 48..<record + 56, with: le(UInt64(1) << 40))
        let (error, path) = try open(bytes)
        guard case .corruptArchive(path, let reason) = error else {
            Issue.record("expected corruptArchive, got \(String(describing: error))")
            return
        }
        #expect(reason.contains("outside the"))
    }

    @Test("not a zip, a truncated torch file, and duplicate entry names")
    func notZips() throws {
        let (garbage, garbagePath) = try open(Array(repeating: 0x41, count: 1000))
        #expect(garbage == .corruptArchive(file: garbagePath, reason: "no end-of-central-directory record (not a zip file, or truncated)"))

        let whole = Array(try Data(contentsOf: PyTorchCheckpointTests.directory.appendingPathComponent("lightning.ckpt")))
        let (truncated, truncatedPath) = try open(Array(whole.prefix(whole.count / 2)))
        guard case .corruptArchive(truncatedPath, _) = truncated else {
            Issue.record("expected corruptArchive, got \(String(describing: truncated))")
            return
        }

        let duplicate = storedZip([("archive/data.pkl", Self.oneTensor), ("archive/data.pkl", [])])
        let (duplicateError, duplicatePath) = try open(duplicate)
        #expect(duplicateError == .corruptArchive(file: duplicatePath, reason: "entry 'archive/data.pkl' appears twice"))
    }

    @Test("an entry whose data runs past the end of the file")
    func entryPastEnd() throws {
        var archive = torchArchive(pickle: Self.oneTensor, storages: [("0", bytes(of: [1, 2, 3, 4]))])
        // The first central header's uncompressed and compressed sizes (bytes 20 and 24 of it).
        let directory = Int(archive[archive.count - 6]) | Int(archive[archive.count - 5]) << 8
        archive.replaceSubrange(directory + 20..<directory + 28, with: le(UInt32(1 << 20)) + le(UInt32(1 << 20)))
        let (error, path) = try open(archive)
        guard case .corruptArchive(path, let reason) = error else {
            Issue.record("expected corruptArchive, got \(String(describing: error))")
            return
        }
        #expect(reason.contains("archive/data.pkl") && reason.contains("past the end"))
    }

    @Test("no data.pkl")
    func noProgram() throws {
        let (error, path) = try open(storedZip([("archive/data/0", bytes(of: [1]))]))
        #expect(error == .missingArchiveEntry(file: path, entry: "<archive>/data.pkl"))
    }

    // MARK: Random damage

    /// Opens `bytes`; any outcome but a crash or a non-`WeightsError` is acceptable, and when the
    /// file opens, every tensor must read (or fail with a `WeightsError`).
    func survives(_ bytes: [UInt8], in scratch: ScratchDirectory) throws {
        let url = try scratch.file("fuzzed.ckpt", bytes: bytes)
        _ = weightsError {
            let file = try TorchCheckpointFile(contentsOf: url)
            for name in file.tensorNames { _ = weightsError { _ = try file.tensor(name) } }
        }
    }

    @Test("random byte changes in a real torch file never crash the reader")
    func randomMutations() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let original = Array(try Data(contentsOf: PyTorchCheckpointTests.directory.appendingPathComponent("lightning.ckpt")))
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ bound: Int) -> Int {  // xorshift64: deterministic, so a failure reproduces
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Int(state % UInt64(bound))
        }
        // The pickle is data.pkl, the first entry: its bytes start after the 64-byte-aligned header.
        let pickleRange = 64..<2400  // data.pkl is 2365 bytes
        for round in 0..<400 {
            var bytes = original
            for _ in 0..<(1 + next(4)) {
                // Half the rounds hit the pickle, the rest anywhere (directory, headers, data).
                let index = round % 2 == 0 ? pickleRange.lowerBound + next(pickleRange.count) : next(bytes.count)
                bytes[index] = UInt8(truncatingIfNeeded: next(256))
            }
            try survives(bytes, in: scratch)
        }
    }

    @Test("every truncation of a real torch file is an error, never a crash")
    func truncations() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let original = Array(try Data(contentsOf: PyTorchCheckpointTests.directory.appendingPathComponent("lightning.ckpt")))
        for length in stride(from: 0, to: original.count, by: 5) {
            let url = try scratch.file("cut.ckpt", bytes: Array(original.prefix(length)))
            #expect(weightsError { _ = try TorchCheckpointFile(contentsOf: url) } != nil, "\(length) bytes")
        }
    }

    @Test("random programs over the supported opcodes never crash the machine")
    func randomPrograms() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        // Every supported opcode, plus short arguments, so that programs get past the first check.
        let alphabet: [UInt8] = [0x80, 0x95, 0x2E, 0x28, 0x30, 0x31, 0x32, 0x4E, 0x88, 0x89, 0x4A, 0x4B, 0x4D, 0x8A,
                                 0x8B, 0x47, 0x58, 0x8C, 0x8D, 0x54, 0x55, 0x42, 0x43, 0x8E, 0x96, 0x7D, 0x5D, 0x29,
                                 0x8F, 0x64, 0x6C, 0x74, 0x85, 0x86, 0x87, 0x91, 0x90, 0x61, 0x65, 0x73, 0x75, 0x71,
                                 0x72, 0x94, 0x68, 0x6A, 0x63, 0x93, 0x52, 0x62, 0x81, 0x92, 0x51, 0x00, 0x01, 0x0A]
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func next(_ bound: Int) -> Int {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Int(state % UInt64(bound))
        }
        for _ in 0..<500 {
            var program: [UInt8] = [0x80, 0x02]
            for _ in 0..<(1 + next(120)) { program.append(alphabet[next(alphabet.count)]) }
            program.append(0x2E)
            try survives(torchArchive(pickle: program, storages: [("0", bytes(of: [1, 2, 3, 4]))]), in: scratch)
        }
    }
}
