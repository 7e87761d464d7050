// A PyTorch checkpoint (`.ckpt`, `.bin`, `.pt`, `.pth` written by torch.save ≥ 1.6) opened as a
// `TensorArchive`: the file is mapped, its zip directory read (ZipArchive), `<archive>/data.pkl` run
// by the restricted pickle machine (PickleMachine, which never executes code), the state dict found
// and flattened (TorchStateDict), and every tensor's storage checked against `<archive>/data/<key>`.
// Tensor bytes are read only when a tensor is asked for, straight from the mapping.
import Foundation
import Tensor

/// A PyTorch zip checkpoint opened for reading, without running any of its pickled code.
///
/// Opening validates the whole structure — zip directory, pickle, every tensor's storage and view —
/// so that a damaged or hostile file fails here with a `WeightsError` naming the file (and the
/// tensor), never later and never by crashing. Objects other than tensors and dicts (Lightning's
/// callbacks and hyper-parameters) are kept as inert placeholders and ignored; names that exist
/// only to run code (`os.system`, `builtins.eval`, …) make the file be refused.
public final class TorchCheckpointFile: TensorArchive, @unchecked Sendable {
    /// Where the file was opened from.
    public let url: URL
    /// The mapping; owner of every zero-copy tensor's memory.
    private let mapping: MappedFile
    /// Tensor name → view and storage.
    private let records: [String: TorchTensorRecord]
    /// Storage key → its bytes' range in the file.
    private let storageRanges: [String: Range<Int>]

    /// The file, as opened (for error messages).
    public var path: String { url.path }
    /// Names of all tensors of the state dict, sorted.
    public let tensorNames: [String]
    /// Entries of the state dict that are not tensors (counters, placeholders of unknown objects), sorted.
    public let skippedEntries: [String]

    /// The first bytes of a legacy (pre-zip) torch file: PROTO 2, then LONG1 of the 10-byte magic
    /// number 0x1950a86a20f9469cfc6c (torch/serialization.py `MAGIC_NUMBER`).
    private static let legacyMagic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]

    /// Opens, maps and validates the checkpoint at `url`.
    public init(contentsOf url: URL) throws(WeightsError) {
        self.url = url
        let file = url.path
        mapping = try MappedFile(path: file)
        let bytes = mapping.bytes
        if bytes.starts(with: Self.legacyMagic) { throw .legacyTorchFormat(file: file) }

        let zip = try ZipArchive(bytes: bytes, fileName: file)
        let prefix = try Self.archivePrefix(zip, file: file)
        if let order = zip["\(prefix)byteorder"] {
            // Written by torch ≥ 2.1; older files are little-endian by construction (x86, ARM).
            let text = String(decoding: bytes.slice(order.dataRange)!, as: UTF8.self)
            guard text == "little" else {
                throw .unsupportedArchiveEntry(file: file, entry: order.name, reason: "byte order '\(text)' (only little-endian data is supported)")
            }
        }
        let program = zip["\(prefix)data.pkl"]!  // archivePrefix found it
        let graph = try PickleMachine(file: file).run(bytes.slice(program.dataRange)!)
        let stateDict = try TorchStateDict(root: graph.root, file: file)

        var storageRanges: [String: Range<Int>] = [:]
        for (name, record) in stateDict.records {
            guard let entry = zip["\(prefix)data/\(record.storageKey)"] else {
                throw .missingStorage(file: file, tensor: name, key: record.storageKey)
            }
            // torch reads exactly numel × element size bytes (serialization.py `load_tensor`).
            guard entry.dataRange.count == record.storageByteCount else {
                throw .storageOutOfBounds(
                    file: file, tensor: name,
                    reason: "storage '\(record.storageKey)' declares \(record.storageByteCount) bytes, its archive entry holds \(entry.dataRange.count)")
            }
            storageRanges[record.storageKey] = entry.dataRange
        }
        records = stateDict.records
        self.storageRanges = storageRanges
        tensorNames = stateDict.records.keys.sorted()
        skippedEntries = stateDict.skippedEntries
    }

    /// The directory that holds `data.pkl` ("archive/" in torch < 2.0, the file's stem since),
    /// with its trailing slash.
    private static func archivePrefix(_ zip: ZipArchive, file: String) throws(WeightsError) -> String {
        for entry in zip.entries where entry.name.hasSuffix("/data.pkl") {
            let prefix = entry.name.dropLast("data.pkl".count)
            if prefix.dropLast().contains("/") { continue }  // torch puts data.pkl one level down, no deeper
            return String(prefix)
        }
        throw .missingArchiveEntry(file: file, entry: "<archive>/data.pkl")
    }

    /// The stored shape of `name`.
    public func shape(of name: String) -> [Int]? { records[name]?.shape }

    /// The named tensor as fp32.
    ///
    /// Contiguous F32 tensors come back without a copy, borrowing the mapping (`storage.isBorrowed`);
    /// two tensors that are views of one storage then share memory, as they did in PyTorch. Half,
    /// bfloat16 and integer tensors are widened, and non-contiguous views gathered, into new tensors.
    public func tensor(_ name: String) throws(WeightsError) -> Tensor {
        guard let record = records[name], let range = storageRanges[record.storageKey] else {
            throw .missingTensor(file: path, name: name)
        }
        // `base` is non-nil: a zip with a data.pkl entry is not empty.
        return try record.materialize(storage: mapping.base! + range.lowerBound, owner: mapping, name: name, file: path)
    }

    /// True when `tensor(name)` returns memory borrowed from the mapping rather than a copy.
    public func isZeroCopy(_ name: String) -> Bool {
        guard let record = records[name], let range = storageRanges[record.storageKey], let base = mapping.base else { return false }
        return record.isZeroCopy(storage: base + range.lowerBound)
    }
}
