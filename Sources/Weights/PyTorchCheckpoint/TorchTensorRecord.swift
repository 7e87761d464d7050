// A tensor of a PyTorch checkpoint as torch pickles it: a view (storage offset, sizes, strides) of a
// storage, written as a call of `torch._utils._rebuild_tensor_v2` whose first argument is a persistent
// reference `("storage", torch.HalfStorage, key, location, numel)` (torch/_tensor.py
// `_reduce_ex_internal`, torch/serialization.py `_save` / `persistent_load`). This file reads that
// recorded call as data, checks the view against the storage, and turns it into an fp32 `Tensor`.
import Tensor

/// Where one tensor's elements are, and of what type.
struct TorchTensorRecord {
    /// The storage's name in the archive (`<archive>/data/<key>`).
    let storageKey: String
    /// The tensor's element type.
    let dtype: SafetensorsDType
    /// Bytes the storage declares (numel × element size, or numel bytes for an untyped storage).
    let storageByteCount: Int
    /// First element of the view, counted in elements of `dtype`.
    let offset: Int
    let shape: [Int]
    let strides: [Int]

    /// Number of elements of the view.
    var elementCount: Int { shape.reduce(1, *) }  // checked not to overflow when the record was made

    /// True when the view's elements are consecutive in row-major order (dimensions of size 1 may
    /// carry any stride, as in PyTorch's own `is_contiguous`).
    var isContiguous: Bool {
        var expected = 1
        for (size, stride) in zip(shape, strides).reversed() where size != 1 {
            // Partial products can overflow when another dimension is 0 (the total is then 0).
            guard stride == expected, let next = checkedProduct(expected, size) else { return false }
            expected = next
        }
        return true
    }

    // MARK: Reading the rebuild call

    /// Reads `value` as a tensor. Returns nil for values that are no tensor at all (numbers,
    /// strings, placeholders of unknown objects); throws when a tensor rebuild call is malformed.
    static func interpret(_ value: PickleValue, name: String, file: String) throws(WeightsError) -> TorchTensorRecord? {
        try interpret(value, name: name, file: file, unwrapping: 2)
    }

    /// `unwrapping` bounds how many wrappers (`_rebuild_parameter`, `_rebuild_from_type_v2`) may
    /// enclose the rebuild call: torch writes at most two, and a hostile chain must not recurse deeply.
    private static func interpret(
        _ value: PickleValue, name: String, file: String, unwrapping: Int
    ) throws(WeightsError) -> TorchTensorRecord? {
        guard case .call(let call) = value, call.kind == .reduce, let role = call.global?.role else { return nil }
        return try interpret(role: role, arguments: call.arguments, name: name, file: file, unwrapping: unwrapping)
    }

    private static func interpret(
        role: PickleGlobal.Role, arguments: [PickleValue], name: String, file: String, unwrapping: Int
    ) throws(WeightsError) -> TorchTensorRecord? {
        func invalid(_ reason: String) -> WeightsError { .invalidTensorRecord(file: file, tensor: name, reason: reason) }
        switch role {
        case .rebuildTensor, .rebuildTensorV2, .rebuildTensorV3:
            let minimum = role == .rebuildTensor ? 4 : role == .rebuildTensorV2 ? 6 : 7
            guard arguments.count >= minimum, arguments.count <= minimum + 1 else {
                throw invalid("tensor rebuild call has \(arguments.count) arguments")
            }
            var explicitType: SafetensorsDType?
            if role == .rebuildTensorV3 {
                guard case .global(let global) = arguments[6], case .dtype(let type) = global.role else {
                    throw invalid("_rebuild_tensor_v3 needs a torch dtype, found \(arguments[6].kindDescription)")
                }
                explicitType = type
            }
            return try TorchTensorRecord(storage: arguments[0], offset: arguments[1], size: arguments[2],
                                         stride: arguments[3], explicitType: explicitType, name: name, file: file)
        case .rebuildParameter:
            guard unwrapping > 0, let data = arguments.first,
                  let record = try interpret(data, name: name, file: file, unwrapping: unwrapping - 1) else {
                throw invalid("parameter rebuild call does not wrap a tensor")
            }
            return record
        case .rebuildFromType:
            // (func, type, args, state): a tensor subclass, or a tensor with Python attributes. The
            // type is never instantiated; the inner call is read as if it stood alone.
            guard unwrapping > 0, arguments.count == 4, case .global(let inner) = arguments[0],
                  let innerArguments = arguments[2].items,
                  let record = try interpret(role: inner.role, arguments: innerArguments, name: name, file: file,
                                             unwrapping: unwrapping - 1) else {
                throw invalid("_rebuild_from_type_v2 does not wrap a tensor rebuild")
            }
            return record
        case .orderedDict, .storageType, .untypedStorage, .dtype, .opaque:
            return nil
        }
    }

    /// Checks the arguments of a rebuild call: storage reference, offset, sizes, strides.
    private init(
        storage: PickleValue, offset: PickleValue, size: PickleValue, stride: PickleValue,
        explicitType: SafetensorsDType?, name: String, file: String
    ) throws(WeightsError) {
        func invalid(_ reason: String) -> WeightsError { .invalidTensorRecord(file: file, tensor: name, reason: reason) }
        // ("storage", storage type, key, location, numel) — see torch.serialization.persistent_load.
        guard case .call(let reference) = storage, reference.kind == .persistentLoad,
              let id = reference.arguments.first?.items, id.count == 5, id[0].string == "storage" else {
            throw invalid("its storage is \(storage.kindDescription), not a persistent storage reference")
        }
        guard case .global(let storageType) = id[1] else {
            throw invalid("storage type is \(id[1].kindDescription)")
        }
        guard let key = id[2].string, let numel = id[4].int.flatMap(Int.init(exactly:)), numel >= 0 else {
            throw invalid("storage reference has no string key or no element count")
        }
        let storageElementSize: Int
        switch storageType.role {
        case .storageType(let type):
            storageElementSize = type.byteSize
            dtype = explicitType ?? type
        case .untypedStorage:
            guard let explicitType else { throw invalid("an untyped storage without a dtype") }
            storageElementSize = 1
            dtype = explicitType
        default:
            throw invalid("storage type \(storageType.qualifiedName) holds no tensor elements this reader knows")
        }
        guard let bytes = checkedProduct(numel, storageElementSize) else { throw invalid("storage size overflows") }

        guard let offsetValue = offset.int.flatMap(Int.init(exactly:)), offsetValue >= 0 else {
            throw invalid("storage offset is \(offset.kindDescription), not a non-negative int")
        }
        func integers(_ value: PickleValue, _ what: String) throws(WeightsError) -> [Int] {
            guard let items = value.items else { throw invalid("\(what) is \(value.kindDescription), not a tuple") }
            var result: [Int] = []
            result.reserveCapacity(items.count)
            for item in items {
                guard let number = item.int.flatMap(Int.init(exactly:)), number >= 0 else {
                    throw invalid("\(what) holds \(item.kindDescription) that is not a non-negative int")
                }
                result.append(number)
            }
            return result
        }
        let shape = try integers(size, "size")
        let strides = try integers(stride, "stride")
        guard shape.count == strides.count else { throw invalid("\(shape.count) sizes but \(strides.count) strides") }
        var count = 1
        for extent in shape {
            guard let product = checkedProduct(count, extent) else { throw invalid("shape \(shape) overflows") }
            count = product
        }

        self.storageKey = key
        self.storageByteCount = bytes
        self.offset = offsetValue
        self.shape = shape
        self.strides = strides
        try checkBounds(name: name, file: file)
    }

    /// The view must lie inside the storage: its last element is offset + Σ (size−1)·stride.
    private func checkBounds(name: String, file: String) throws(WeightsError) {
        guard elementCount > 0 else { return }  // an empty view reads nothing
        let outside = WeightsError.storageOutOfBounds(
            file: file, tensor: name,
            reason: "view (offset \(offset), shape \(shape), strides \(strides)) of \(dtype.rawValue) elements reaches past its \(storageByteCount)-byte storage")
        var last = offset
        for (size, stride) in zip(shape, strides) {
            guard let step = checkedProduct(size - 1, stride), let sum = checkedSum(last, step) else { throw outside }
            last = sum
        }
        guard let end = checkedSum(last, 1).flatMap({ checkedProduct($0, dtype.byteSize) }), end <= storageByteCount else {
            throw outside
        }
    }
}

extension TorchTensorRecord {
    // MARK: Materialising

    /// The tensor as fp32, reading the storage bytes at `storage`; `owner` keeps that memory alive
    /// when the result borrows it.
    ///
    /// A contiguous fp32 view on 4-byte-aligned memory is borrowed without a copy; other element
    /// types are widened, and non-contiguous views (a saved transpose) are gathered first.
    func materialize(storage: UnsafeRawPointer, owner: AnyObject, name: String, file: String) throws(WeightsError) -> Tensor {
        guard dtype.convertsToFloat else {
            throw .unsupportedDType(file: file, tensor: name, dtype: dtype.rawValue)
        }
        let count = elementCount
        guard count > 0 else { return Tensor(zeros: shape) }
        let first = storage + offset * dtype.byteSize
        if isContiguous {
            if isZeroCopy(storage: storage) {
                let floats = UnsafeMutableRawPointer(mutating: first).bindMemory(to: Float.self, capacity: count)
                return Tensor(storage: TensorStorage(borrowing: floats, count: count, owner: owner), shape: shape)
            }
            let out = Tensor(uninitialized: shape)
            dtype.widen(first, into: out.pointer, count: count)
            return out
        }
        let gathered = UnsafeMutableRawPointer.allocate(byteCount: count * dtype.byteSize, alignment: 8)
        defer { gathered.deallocate() }
        gather(from: first, into: gathered)
        let out = Tensor(uninitialized: shape)
        dtype.widen(gathered, into: out.pointer, count: count)
        return out
    }

    /// True when `materialize` would borrow the storage memory at `storage`.
    func isZeroCopy(storage: UnsafeRawPointer) -> Bool {
        dtype == .f32 && elementCount > 0 && isContiguous
            && Int(bitPattern: storage + offset * 4) % MemoryLayout<Float>.alignment == 0
    }

    /// Copies the view's elements, in row-major order, to `destination`: an odometer over the
    /// dimensions larger than 1 (at most 63 of them, since the element count fits in an Int).
    private func gather(from first: UnsafeRawPointer, into destination: UnsafeMutableRawPointer) {
        let size = dtype.byteSize
        let dims = zip(shape, strides).filter { $0.0 > 1 }
        var index = [Int](repeating: 0, count: dims.count)
        var source = 0  // element offset from `first`
        var written = 0
        let count = elementCount
        while written < count {
            (destination + written * size).copyMemory(from: first + source * size, byteCount: size)
            written += 1
            // Advance the last dimension, carrying into earlier ones.
            var d = dims.count - 1
            while d >= 0 {
                index[d] += 1
                source += dims[d].1
                if index[d] < dims[d].0 { break }
                source -= dims[d].1 * dims[d].0
                index[d] = 0
                d -= 1
            }
        }
    }
}
