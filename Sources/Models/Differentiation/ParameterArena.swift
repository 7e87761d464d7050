// Training keeps every trained parameter in ONE contiguous buffer, with a gradient buffer of the same
// layout beside it (llm.c's ParameterTensors): the optimizer, gradient clipping and zeroing are then
// single loops over flat memory, and a checkpoint is two buffers. A model is built on the arena through
// a ParameterSource that copies each parameter from its checkpoint into the next slice, so the model
// code stays the same for inference (parameters mapped from the file) and training (parameters here).
//
// A layer finds a parameter's gradient by the parameter's own position: `gradient(of: weight)` is the
// slice of the gradient buffer at the same offset. Parameters not in the arena (a frozen model's, or
// none at all) have no gradient, and backward passes skip their weight gradients.
import Tensor
import Weights

/// Trained parameters and their gradients, each in one buffer.
public final class ParameterArena: @unchecked Sendable {
    /// Where each parameter lives: its key, first element and shape.
    public struct Entry: Sendable, Equatable {
        public let key: String
        public let offset: Int
        public let shape: [Int]
        public var count: Int { shape.reduce(1, *) }
    }

    /// Every parameter's values, back to back (each slice starts on a 64-byte boundary).
    public let values: TensorStorage
    /// The gradients, in the same layout as `values`.
    public let gradients: TensorStorage
    /// The parameters in the order the model asked for them.
    public private(set) var entries: [Entry] = []
    private var next = 0

    /// Slices start at multiples of 16 floats, so that SIMD loads of a parameter never split a line.
    static let alignment = 16

    init(capacity: Int) {
        values = TensorStorage(count: capacity)
        gradients = TensorStorage(count: capacity)
    }

    /// The gradient slice of a parameter that lives in this arena; nil for any other tensor.
    public func gradient(of parameter: Tensor) -> Tensor? {
        guard parameter.storage === values else { return nil }
        return Tensor(storage: gradients, offset: parameter.offset, shape: parameter.shape)
    }

    /// The values of one entry.
    public func value(_ entry: Entry) -> Tensor {
        Tensor(storage: values, offset: entry.offset, shape: entry.shape)
    }

    /// Every parameter by key, in the order the model asked for them (what a checkpoint file holds).
    public var namedValues: [(name: String, tensor: Tensor)] { entries.map { ($0.key, value($0)) } }

    /// The parameter `key` (its values), if the model asked for it.
    public func parameter(_ key: String) -> Tensor? {
        entries.first { $0.key == key }.map(value)
    }

    /// The gradient of the parameter `key`, if the model asked for it.
    public func gradient(_ key: String) -> Tensor? {
        entries.first { $0.key == key }.map { Tensor(storage: gradients, offset: $0.offset, shape: $0.shape) }
    }

    /// Sets every gradient to zero (backward passes add into them).
    public func zeroGradients() {
        gradients.base.update(repeating: 0, count: gradients.count)
    }

    /// Takes the next slice for `key`, filled from `tensor`.
    fileprivate func append(_ key: String, copying tensor: Tensor) -> Tensor {
        let view = Tensor(storage: values, offset: next, shape: tensor.shape)
        // Copying from a mapped checkpoint faults its pages in: split large tensors across the pool.
        let source = tensor.pointer, target = view.pointer
        ThreadPool.shared.parallelFor(tensor.count, grain: 1 << 20) { range in
            (target + range.lowerBound).update(from: source + range.lowerBound, count: range.count)
        }
        entries.append(Entry(key: key, offset: next, shape: tensor.shape))
        next += Self.rounded(tensor.count)
        return view
    }

    static func rounded(_ count: Int) -> Int { (count + alignment - 1) / alignment * alignment }

    /// Builds a model whose parameters live in a new arena, filled from `source`.
    ///
    /// `make` runs twice: once on `source` itself to learn the sizes (cheap for a memory-mapped
    /// checkpoint: nothing is copied), then on the arena. Its parameters must be asked for in the
    /// same order both times — true of any deterministic model constructor.
    public static func build<Model>(from source: ParameterSource,
                                    _ make: (ParameterSource) throws -> Model) throws -> (model: Model, arena: ParameterArena) {
        let sizing = SizingSource(source)
        _ = try make(sizing)
        let arena = ParameterArena(capacity: sizing.total)
        let model = try make(ArenaSource(source, arena))
        return (model, arena)
    }
}

/// Passes parameters through and adds up the space they will need in an arena.
private final class SizingSource: ParameterSource {
    let base: ParameterSource
    var total = 0
    init(_ base: ParameterSource) { self.base = base }
    func parameter(_ key: String, shape: [Int], initializer: ParameterInitializer) throws -> Tensor {
        let tensor = try base.parameter(key, shape: shape, initializer: initializer)
        total += ParameterArena.rounded(tensor.count)
        return tensor
    }
}

/// Copies each parameter from its source into the arena and hands out the arena's slice.
private final class ArenaSource: ParameterSource {
    let base: ParameterSource
    let arena: ParameterArena
    init(_ base: ParameterSource, _ arena: ParameterArena) { self.base = base; self.arena = arena }
    func parameter(_ key: String, shape: [Int], initializer: ParameterInitializer) throws -> Tensor {
        arena.append(key, copying: try base.parameter(key, shape: shape, initializer: initializer))
    }
}
