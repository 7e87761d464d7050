// The values a restricted pickle program builds: plain data, containers, names of globals, and
// *records* of calls that were never made. Nothing here refers to executable code.
//
// Containers are reference types because pickle's are: a list is memoised when empty and filled
// afterwards, and a later BINGET must see the filled list. Reference types allow cycles and deep
// nesting, so every container is registered in a `PickleGraph`, which empties them all when it goes
// away: that breaks cycles (no leak) and keeps a million-deep nesting from being torn down by a
// million-deep recursion of deinitialisers (no stack overflow).

/// One value on the pickle machine's stack or in its memo.
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int64)
    /// An integer beyond 64 bits (LONG1/LONG4); its value is never needed, so it is not kept.
    case bigInt
    case float(Double)
    case string(String)
    case bytes([UInt8])
    /// A list, tuple, set or frozenset.
    case sequence(PickleSequence)
    /// A dict or `collections.OrderedDict`.
    case dict(PickleDict)
    /// A global name (GLOBAL / STACK_GLOBAL), resolved to nothing but its classification.
    case global(PickleGlobal)
    /// What REDUCE, NEWOBJ or BINPERSID would have produced, recorded instead of performed.
    case call(PickleCall)

    /// The string, if this is one.
    var string: String? { if case .string(let s) = self { s } else { nil } }
    /// The integer, if this is one (bools are not integers here, unlike in Python).
    var int: Int64? { if case .int(let i) = self { i } else { nil } }
    /// The items of a tuple or list.
    var items: [PickleValue]? { if case .sequence(let s) = self { s.items } else { nil } }

    /// A short description for error messages ("a tuple", "a call of os.system").
    var kindDescription: String {
        switch self {
        case .none: "None"
        case .bool: "a bool"
        case .int, .bigInt: "an int"
        case .float: "a float"
        case .string: "a string"
        case .bytes: "bytes"
        case .sequence(let s): "a \(s.kind)"
        case .dict: "a dict"
        case .global(let g): "the global \(g.qualifiedName)"
        case .call(let c): c.description
        }
    }
}

/// A container that a `PickleGraph` can empty.
protocol PickleNode: AnyObject {
    /// Drops every reference this node holds to other values.
    func dropChildren()
}

/// A list, tuple, set or frozenset.
final class PickleSequence: PickleNode {
    enum Kind: String { case list, tuple, set, frozenset }
    let kind: Kind
    var items: [PickleValue]
    init(_ kind: Kind, _ items: [PickleValue]) { self.kind = kind; self.items = items }
    func dropChildren() { items = [] }
}

/// A dict, in insertion order. Keys may be any value (Lightning uses callback *classes* as keys),
/// so this is a list of pairs; lookup by string key is what readers need.
final class PickleDict: PickleNode {
    var entries: [(key: PickleValue, value: PickleValue)] = []
    /// The value of the first entry whose key is the string `key`.
    subscript(key: String) -> PickleValue? {
        entries.first { $0.key.string == key }?.value
    }
    func dropChildren() { entries = [] }
}

/// A call the pickle asked for and the machine recorded without performing it.
///
/// Interpretation happens later and only for callees on the allow-list (`_rebuild_tensor_v2` and
/// friends), by reading `arguments` as data. Any other callee leaves an opaque record that nobody
/// reads: that is the "placeholder" an unknown object becomes.
final class PickleCall: PickleNode, CustomStringConvertible {
    enum Kind {
        /// REDUCE: `callee(*arguments)`.
        case reduce
        /// NEWOBJ / NEWOBJ_EX: `callee.__new__(callee, *arguments)`.
        case newObject
        /// BINPERSID: the unpickler's `persistent_load(arguments[0])` — torch's storage references.
        case persistentLoad
    }
    let kind: Kind
    let callee: PickleValue
    var arguments: [PickleValue]
    /// What BUILD would have passed to `__setstate__`, kept as data.
    var state: PickleValue?
    /// What APPENDS / SETITEMS would have added to the object (dict and list subclasses), kept as data.
    var appended: [PickleValue] = []

    init(_ kind: Kind, callee: PickleValue, arguments: [PickleValue]) {
        self.kind = kind; self.callee = callee; self.arguments = arguments
    }

    /// The global being called, if the callee is one.
    var global: PickleGlobal? { if case .global(let g) = callee { g } else { nil } }

    var description: String {
        switch kind {
        case .persistentLoad: "a persistent reference"
        case .reduce, .newObject: "a call of \(global?.qualifiedName ?? "a computed value")"
        }
    }

    func dropChildren() { arguments = []; state = nil; appended = [] }
}

/// Owns every container a pickle program made, and empties them all on deinit (see the file header).
final class PickleGraph {
    /// The value STOP returned.
    let root: PickleValue
    private var nodes: [PickleNode]

    init(root: PickleValue, nodes: [PickleNode]) { self.root = root; self.nodes = nodes }

    /// Number of containers the program made.
    var nodeCount: Int { nodes.count }

    deinit { Self.release(nodes) }

    /// Empties `nodes` one by one, so that releasing them afterwards never recurses.
    static func release(_ nodes: [PickleNode]) {
        for node in nodes { node.dropChildren() }
    }
}
