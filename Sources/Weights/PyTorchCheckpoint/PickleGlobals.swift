// Which global names a checkpoint pickle may mention, and what each one means to this reader.
//
// Nothing a name refers to is ever imported, constructed or called: a global is only a label that
// later decides how a recorded call is *read*. Three classes of names:
//
// 1. Known names, interpreted as data: `collections.OrderedDict` (an ordinary dict here), torch's
//    tensor rebuild functions (`torch._utils._rebuild_tensor_v2` & co, read as "a view of this
//    storage"), torch's storage classes (`torch.FloatStorage` …, read as an element type) and dtype
//    objects (`torch.float16` …, which `_rebuild_tensor_v3` passes for newer dtypes).
// 2. Names whose only use in a pickle is to run code — `os.system`, `builtins.eval`,
//    `__builtin__.getattr`, `subprocess.*`, … The file is refused with `forbiddenPickleGlobal`.
//    Reading would be safe regardless (nothing is called); the refusal tells the user the file was
//    crafted to attack, instead of quietly serving its tensors.
// 3. Every other name becomes an opaque placeholder. PyTorch Lightning checkpoints — which users
//    have many of — carry callback classes (`pytorch_lightning.callbacks.model_checkpoint.
//    ModelCheckpoint`), hyper-parameter objects (`argparse.Namespace`, `AttributeDict`, OmegaConf
//    configs) and numpy scalars beside the weights. Refusing those files (torch's own `weights_only`
//    choice) would refuse most DreamBooth checkpoints; the placeholders are recorded and never read,
//    so the tensors load and the rest is ignored.

/// A global name found in a pickle, with its meaning to this reader.
struct PickleGlobal: Equatable {
    let module: String
    let name: String
    let role: Role

    /// What this reader makes of the name.
    enum Role: Equatable {
        /// `collections.OrderedDict`: calling it with no arguments makes an empty dict.
        case orderedDict
        /// `torch._utils._rebuild_tensor(storage, offset, size, stride)`.
        case rebuildTensor
        /// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])`.
        case rebuildTensorV2
        /// `torch._utils._rebuild_tensor_v3(storage, offset, size, stride, requires_grad, hooks, dtype[, metadata])`.
        case rebuildTensorV3
        /// `torch._utils._rebuild_parameter(data, requires_grad, hooks)` and `_rebuild_parameter_with_state`.
        case rebuildParameter
        /// `torch._tensor._rebuild_from_type_v2(func, type, args, state)` (tensor subclasses, tensors with attributes).
        case rebuildFromType
        /// A typed storage class (`torch.HalfStorage`): the element type of its bytes.
        case storageType(SafetensorsDType)
        /// `torch.UntypedStorage`: raw bytes whose element type the rebuild call states.
        case untypedStorage
        /// A dtype object (`torch.float8_e4m3fn`).
        case dtype(SafetensorsDType)
        /// Anything else that is not forbidden: a placeholder that is never interpreted.
        case opaque
    }

    /// `module.name`.
    var qualifiedName: String { "\(module).\(name)" }

    /// Classifies `module.name`; throws for names that exist to run code.
    init(module: String, name: String, file: String) throws(WeightsError) {
        if Self.isForbidden(module: module, name: name) {
            throw .forbiddenPickleGlobal(file: file, module: module, name: name)
        }
        self.module = module
        self.name = name
        role = Self.knownRoles["\(module).\(name)"] ?? .opaque
    }

    // MARK: Known names

    private static let storageTypes: [String: SafetensorsDType] = [
        "DoubleStorage": .f64, "FloatStorage": .f32, "HalfStorage": .f16, "BFloat16Storage": .bf16,
        "LongStorage": .i64, "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8,
        "ByteStorage": .u8, "BoolStorage": .bool, "ComplexFloatStorage": .c64,
    ]

    /// torch dtype names, with their aliases (`torch.float` and `torch.float32` are one object,
    /// pickled under whichever name `dtype.__reduce__` gives, which is the canonical one).
    private static let dtypes: [String: SafetensorsDType] = [
        "float64": .f64, "double": .f64, "float32": .f32, "float": .f32, "float16": .f16, "half": .f16,
        "bfloat16": .bf16, "int64": .i64, "long": .i64, "int32": .i32, "int": .i32, "int16": .i16,
        "short": .i16, "int8": .i8, "uint8": .u8, "uint16": .u16, "uint32": .u32, "uint64": .u64,
        "bool": .bool, "float8_e4m3fn": .f8e4m3, "float8_e5m2": .f8e5m2, "complex64": .c64, "cfloat": .c64,
    ]

    private static let knownRoles: [String: Role] = {
        var roles: [String: Role] = [
            "collections.OrderedDict": .orderedDict,
            "torch._utils._rebuild_tensor": .rebuildTensor,
            "torch._utils._rebuild_tensor_v2": .rebuildTensorV2,
            "torch._utils._rebuild_tensor_v3": .rebuildTensorV3,
            "torch._utils._rebuild_parameter": .rebuildParameter,
            "torch._utils._rebuild_parameter_with_state": .rebuildParameter,
            "torch._tensor._rebuild_from_type_v2": .rebuildFromType,
            "torch.UntypedStorage": .untypedStorage,
        ]
        for (name, type) in storageTypes { roles["torch.\(name)"] = .storageType(type) }
        for (name, type) in dtypes { roles["torch.\(name)"] = .dtype(type) }
        return roles
    }()

    // MARK: Forbidden names

    /// Top-level modules whose members, in a pickle, serve to execute code, spawn processes, touch
    /// files or the network, or reach arbitrary attributes. (`builtins` is handled separately.)
    private static let forbiddenModules: Set<String> = [
        "os", "posix", "nt", "subprocess", "sys", "importlib", "imp", "runpy", "pty", "shutil", "socket",
        "ctypes", "code", "codeop", "marshal", "pickle", "_pickle", "cPickle", "dill", "types", "operator",
        "_operator", "functools", "webbrowser", "multiprocessing", "signal", "commands", "popen2",
        "platform", "pdb", "bdb", "timeit", "trace", "profile", "cProfile", "asyncio", "threading",
        "_thread", "thread", "io", "_io", "tempfile", "urllib", "urllib2", "http", "httplib", "ftplib",
        "smtplib", "telnetlib", "requests", "glob", "pathlib", "inspect", "gc", "sysconfig", "site",
        "_posixsubprocess",
    ]

    /// Builtins that are inert types: Lightning hyper-parameters may hold sets or slices, which
    /// pickle protocol 2 writes as `__builtin__.set` called with a list. Every other builtin
    /// (`eval`, `exec`, `getattr`, `__import__`, `open`, `compile`, …) is forbidden.
    private static let inertBuiltins: Set<String> = [
        "set", "frozenset", "list", "dict", "tuple", "slice", "range", "complex", "bytearray", "bytes",
        "str", "int", "float", "bool", "object",
    ]

    private static func isForbidden(module: String, name: String) -> Bool {
        let root = module.split(separator: ".", maxSplits: 1).first.map(String.init) ?? module
        if root == "builtins" || root == "__builtin__" { return !inertBuiltins.contains(name) }
        return forbiddenModules.contains(root)
    }
}
