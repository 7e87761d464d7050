// Hand-assembled PyTorch checkpoints for the malformed-input tests: a pickle assembler that writes
// opcodes byte by byte (so a test shows exactly what the hostile program is), and a minimal writer of
// stored zip archives laid out as torch.save lays them out (`<prefix>/data.pkl`, `<prefix>/data/<key>`).

/// Builds a pickle program opcode by opcode (byte values: CPython's Lib/pickletools.py).
struct PickleAssembler {
    private(set) var bytes: [UInt8] = [0x80, 0x02]  // PROTO 2, as torch.save writes

    mutating func raw(_ more: [UInt8]) { bytes += more }
    mutating func mark() { bytes.append(0x28) }
    mutating func stop() { bytes.append(0x2E) }
    mutating func emptyDict() { bytes.append(0x7D) }
    mutating func emptyList() { bytes.append(0x5D) }
    mutating func emptyTuple() { bytes.append(0x29) }
    mutating func tuple() { bytes.append(0x74) }
    mutating func tuple1() { bytes.append(0x85) }
    mutating func setItem() { bytes.append(0x73) }
    mutating func setItems() { bytes.append(0x75) }
    mutating func append() { bytes.append(0x61) }
    mutating func reduce() { bytes.append(0x52) }
    mutating func binPersId() { bytes.append(0x51) }
    mutating func newFalse() { bytes.append(0x89) }
    mutating func binPut(_ index: UInt8) { bytes += [0x71, index] }
    mutating func longBinPut(_ index: UInt32) { bytes.append(0x72); bytes += le(index) }
    mutating func binGet(_ index: UInt8) { bytes += [0x68, index] }

    mutating func string(_ s: String) {
        bytes.append(0x58)  // BINUNICODE
        bytes += le(UInt32(s.utf8.count))
        bytes += Array(s.utf8)
    }

    mutating func int(_ i: Int32) { bytes.append(0x4A); bytes += le(i) }

    /// GLOBAL "module\nname\n".
    mutating func global(_ module: String, _ name: String) {
        bytes.append(0x63)
        bytes += Array("\(module)\n\(name)\n".utf8)
    }

    /// STACK_GLOBAL with both names pushed as strings.
    mutating func stackGlobal(_ module: String, _ name: String) {
        string(module)
        string(name)
        bytes.append(0x93)
    }

    /// A tuple of ints.
    mutating func intTuple(_ values: [Int]) {
        mark()
        for v in values { int(Int32(v)) }
        tuple()
    }

    /// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())` over the
    /// persistent reference `("storage", torch.<storageType>, key, "cpu", numel)`, as torch writes it.
    mutating func tensor(storageType: String = "FloatStorage", key: String, numel: Int, offset: Int = 0,
                         size: [Int], stride: [Int]? = nil) {
        global("torch._utils", "_rebuild_tensor_v2")
        mark()
        mark()
        string("storage")
        global("torch", storageType)
        string(key)
        string("cpu")
        int(Int32(numel))
        tuple()
        binPersId()
        int(Int32(offset))
        intTuple(size)
        intTuple(stride ?? Self.rowMajorStrides(size))
        newFalse()
        global("collections", "OrderedDict")
        emptyTuple()
        reduce()
        tuple()
        reduce()
    }

    /// `{"state_dict": {name: value, …}}`, each value written by its closure; ends with STOP.
    static func stateDict(_ entries: [(String, (inout PickleAssembler) -> Void)]) -> [UInt8] {
        var p = PickleAssembler()
        p.emptyDict()
        p.string("state_dict")
        p.emptyDict()
        p.mark()
        for (name, write) in entries {
            p.string(name)
            write(&p)
        }
        p.setItems()
        p.setItem()
        p.stop()
        return p.bytes
    }

    static func rowMajorStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        for i in stride(from: shape.count - 2, through: 0, by: -1) { strides[i] = strides[i + 1] * shape[i + 1] }
        return strides
    }
}

/// Little-endian bytes of an integer.
func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}

/// A stored (uncompressed) zip archive of `entries`, in order, without ZIP64 and with zero CRCs
/// (the reader does not check CRCs). `centralDirectoryOffset` overrides the offset the end record
/// declares, for the test of a directory that lies past the end of the file.
func storedZip(_ entries: [(name: String, data: [UInt8])], centralDirectoryOffset: UInt32? = nil) -> [UInt8] {
    var out: [UInt8] = []
    var central: [UInt8] = []
    for (name, data) in entries {
        let encodedName = Array(name.utf8)
        let offset = UInt32(out.count)
        out += le(UInt32(0x0403_4B50)) + le(UInt16(20)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt32(0))
        out += le(UInt32(0)) + le(UInt32(data.count)) + le(UInt32(data.count))
        out += le(UInt16(encodedName.count)) + le(UInt16(0)) + encodedName + data
        central += le(UInt32(0x0201_4B50)) + le(UInt16(20)) + le(UInt16(20)) + le(UInt16(0)) + le(UInt16(0))
        central += le(UInt32(0)) + le(UInt32(0)) + le(UInt32(data.count)) + le(UInt32(data.count))
        central += le(UInt16(encodedName.count)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(0))
        central += le(UInt32(0)) + le(offset) + encodedName
    }
    let directoryOffset = UInt32(out.count)
    out += central
    out += le(UInt32(0x0605_4B50)) + le(UInt16(0)) + le(UInt16(0)) + le(UInt16(entries.count)) + le(UInt16(entries.count))
    out += le(UInt32(central.count)) + le(centralDirectoryOffset ?? directoryOffset) + le(UInt16(0))
    return out
}

/// A torch-style checkpoint archive: `archive/data.pkl` holding `pickle`, then `archive/data/<key>`
/// for each storage.
func torchArchive(pickle: [UInt8], storages: [(key: String, bytes: [UInt8])] = [], extra: [(name: String, data: [UInt8])] = []) -> [UInt8] {
    storedZip([("archive/data.pkl", pickle)] + storages.map { ("archive/data/\($0.key)", $0.bytes) } + extra)
}
