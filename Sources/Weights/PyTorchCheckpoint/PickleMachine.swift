// A restricted pickle virtual machine: it runs the data-building opcodes of a pickle program and
// *records* the calls the program asks for (REDUCE, NEWOBJ, BUILD, BINPERSID) instead of making them.
// The semantics follow CPython's `pickle._Unpickler` (Lib/pickle.py) — the stack, the mark stack
// ("metastack") and the memo — minus everything that imports, constructs or calls.
//
// The program is untrusted: every length is checked against the bytes left, every pop against the
// current mark, and the stack, mark depth and program size are capped (see `Limits`), so a hostile
// pickle ends in a typed error, never a crash, a hang or unbounded memory.

/// Runs pickle programs without executing any code.
struct PickleMachine {
    /// Caps that no real checkpoint comes near.
    struct Limits {
        /// Largest pickle program, in bytes. The pickle of an SD checkpoint with optimizer state is a
        /// few MB; tensors live outside it.
        var programBytes = 256 << 20
        /// Deepest MARK nesting. Python's own pickler recurses once per nesting level and stops at its
        /// recursion limit (1000), so real pickles stay below that.
        var markDepth = 1000
        /// Most values on the stack at once (a dict of N entries puts 2N values there before SETITEMS).
        var stackDepth = 1 << 22
    }

    let file: String
    var limits = Limits()

    init(file: String, limits: Limits = Limits()) {
        self.file = file
        self.limits = limits
    }

    /// Runs `program` to its STOP opcode and returns what it built.
    func run(_ program: UnsafeRawBufferPointer) throws(WeightsError) -> PickleGraph {
        guard program.count <= limits.programBytes else {
            throw .pickleLimitExceeded(file: file, limit: "the pickle is \(program.count) bytes (limit \(limits.programBytes))")
        }
        let interpreter = Interpreter(program: program, file: file, limits: limits)
        do {
            let root = try interpreter.execute()
            return PickleGraph(root: root, nodes: interpreter.nodes)
        } catch {
            // Break whatever the partial program built (cycles, deep nesting) before it is freed.
            PickleGraph.release(interpreter.nodes)
            throw error
        }
    }
}

/// One run of a program: CPython's unpickler state, restricted.
private final class Interpreter {
    private let program: UnsafeRawBufferPointer
    private let file: String
    private let limits: PickleMachine.Limits
    private var position = 0
    /// Offset of the opcode being executed, for errors.
    private var opcodeOffset = 0
    private var stack: [PickleValue] = []
    /// Stack heights at each open MARK (CPython keeps whole stacks in its metastack; heights suffice).
    private var marks: [Int] = []
    private var memo: [UInt32: PickleValue] = [:]
    /// Every container made, for `PickleGraph`.
    private(set) var nodes: [PickleNode] = []

    init(program: UnsafeRawBufferPointer, file: String, limits: PickleMachine.Limits) {
        self.program = program
        self.file = file
        self.limits = limits
    }

    func execute() throws(WeightsError) -> PickleValue {
        while true {
            opcodeOffset = position
            let byte = try readByte()
            guard let opcode = PickleOpcode(rawValue: byte) else {
                throw .forbiddenPickleOpcode(file: file, offset: opcodeOffset, opcode: byte)
            }
            if opcode == .stop { return try pop() }
            try perform(opcode)
        }
    }

    // MARK: Opcodes

    private func perform(_ opcode: PickleOpcode) throws(WeightsError) {
        switch opcode {
        case .proto:
            let version = try readByte()
            guard version <= 5 else { throw corrupt("unknown pickle protocol \(version)") }
        case .frame:
            // A frame only says how many bytes follow together; it still must not claim more than exist.
            let length = try readInteger(UInt64.self)
            guard length <= UInt64(program.count - position) else { throw corrupt("frame of \(length) bytes runs past the end") }
        case .stop:
            preconditionFailure("STOP is handled by execute()")

        case .mark:
            guard marks.count < limits.markDepth else {
                throw .pickleLimitExceeded(file: file, limit: "MARK nesting deeper than \(limits.markDepth)")
            }
            marks.append(stack.count)
        case .pop:
            // As CPython: with the current mark's frame empty, POP discards the mark instead.
            if stack.count > (marks.last ?? 0) { _ = try pop() } else { _ = try popMark() }
        case .popMark:
            _ = try popMark()
        case .dup:
            try push(try top())

        case .none: try push(.none)
        case .newTrue: try push(.bool(true))
        case .newFalse: try push(.bool(false))
        case .binInt: try push(.int(Int64(try readInteger(Int32.self))))
        case .binInt1: try push(.int(Int64(try readByte())))
        case .binInt2: try push(.int(Int64(try readInteger(UInt16.self))))
        case .long1: try push(decodeLong(try read(Int(try readByte()))))
        case .long4:
            let length = try readInteger(Int32.self)
            guard length >= 0 else { throw corrupt("LONG4 with negative length \(length)") }
            try push(decodeLong(try read(Int(length))))
        case .binFloat:
            // Stored big-endian, unlike every other argument.
            try push(.float(Double(bitPattern: try readInteger(UInt64.self).byteSwapped)))

        case .binUnicode: try push(.string(try readUTF8(length: UInt64(try readInteger(UInt32.self)))))
        case .shortBinUnicode: try push(.string(try readUTF8(length: UInt64(try readByte()))))
        case .binUnicode8: try push(.string(try readUTF8(length: try readInteger(UInt64.self))))
        case .binString, .shortBinString:
            // A Python 2 str; torch.load decodes these as UTF-8, and so does this reader (bytes if not).
            let length = opcode == .binString ? Int64(try readInteger(Int32.self)) : Int64(try readByte())
            guard length >= 0 else { throw corrupt("BINSTRING with negative length \(length)") }
            let raw = try read(UInt64(length))
            try push(String(validating: raw, as: UTF8.self).map(PickleValue.string) ?? .bytes(Array(raw)))
        case .binBytes: try push(.bytes(Array(try read(UInt64(try readInteger(UInt32.self))))))
        case .shortBinBytes: try push(.bytes(Array(try read(UInt64(try readByte())))))
        case .binBytes8, .byteArray8: try push(.bytes(Array(try read(try readInteger(UInt64.self)))))

        case .emptyDict: try push(.dict(make(PickleDict())))
        case .emptyList: try push(.sequence(make(PickleSequence(.list, []))))
        case .emptyTuple: try push(.sequence(make(PickleSequence(.tuple, []))))
        case .emptySet: try push(.sequence(make(PickleSequence(.set, []))))
        case .list: try push(.sequence(make(PickleSequence(.list, try popMark()))))
        case .tuple: try push(.sequence(make(PickleSequence(.tuple, try popMark()))))
        case .frozenSet: try push(.sequence(make(PickleSequence(.frozenset, try popMark()))))
        case .tuple1, .tuple2, .tuple3:
            let count = Int(opcode.rawValue - PickleOpcode.tuple1.rawValue) + 1
            var items: [PickleValue] = []
            for _ in 0..<count { items.append(try pop()) }
            try push(.sequence(make(PickleSequence(.tuple, items.reversed()))))
        case .dict:
            let dict = make(PickleDict())
            try insertPairs(try popMark(), into: .dict(dict))
            try push(.dict(dict))
        case .append:
            let item = try pop()
            try appendItems([item], to: try top())
        case .appends, .addItems:
            let items = try popMark()
            try appendItems(items, to: try top())
        case .setItem:
            let value = try pop(), key = try pop()
            try insertPairs([key, value], into: try top())
        case .setItems:
            let items = try popMark()
            try insertPairs(items, into: try top())

        case .binPut: memo[UInt32(try readByte())] = try top()
        case .longBinPut: memo[try readInteger(UInt32.self)] = try top()
        case .memoize:
            guard memo.count < UInt32.max else { throw .pickleLimitExceeded(file: file, limit: "memo full") }
            memo[UInt32(memo.count)] = try top()
        case .binGet: try push(try memoValue(UInt32(try readByte())))
        case .longBinGet: try push(try memoValue(try readInteger(UInt32.self)))

        case .global:
            let module = try readLine(), name = try readLine()
            try push(.global(try PickleGlobal(module: module, name: name, file: file)))
        case .stackGlobal:
            let name = try pop(), module = try pop()
            guard let moduleName = module.string, let globalName = name.string else {
                throw corrupt("STACK_GLOBAL needs two strings, found \(module.kindDescription) and \(name.kindDescription)")
            }
            try push(.global(try PickleGlobal(module: moduleName, name: globalName, file: file)))
        case .reduce:
            let arguments = try pop(), callee = try pop()
            try push(try call(callee, arguments: arguments))
        case .newObj, .newObjEx:
            // Keyword arguments (NEWOBJ_EX) are kept as a trailing dict; nothing reads them.
            let keywords: PickleValue? = opcode == .newObjEx ? try pop() : nil
            let arguments = try pop(), callee = try pop()
            guard case .global = callee, var items = arguments.items else {
                throw corrupt("NEWOBJ needs a class and an argument tuple, found \(callee.kindDescription) and \(arguments.kindDescription)")
            }
            if let keywords { items.append(keywords) }
            try push(.call(make(PickleCall(.newObject, callee: callee, arguments: items))))
        case .build:
            let state = try pop()
            // BUILD would call __setstate__ or update __dict__: on a recorded call the state is kept
            // as data; on a plain container (an OrderedDict's `_metadata` attribute) it is dropped.
            if case .call(let object) = try top() { object.state = state }
        case .binPersId:
            let id = try pop()
            try push(.call(make(PickleCall(.persistentLoad, callee: .none, arguments: [id]))))
        }
    }

    /// REDUCE: an empty `OrderedDict()` becomes a dict (its items arrive by SETITEMS); any other
    /// call of a global, or of a recorded call's result, is recorded.
    private func call(_ callee: PickleValue, arguments: PickleValue) throws(WeightsError) -> PickleValue {
        guard let items = arguments.items else {
            throw corrupt("REDUCE needs an argument tuple, found \(arguments.kindDescription)")
        }
        switch callee {
        case .global(let global) where global.role == .orderedDict && items.isEmpty:
            return .dict(make(PickleDict()))
        case .global, .call:
            return .call(make(PickleCall(.reduce, callee: callee, arguments: items)))
        default:
            throw corrupt("REDUCE of \(callee.kindDescription), which is not callable")
        }
    }

    /// APPEND(S) / ADDITEMS onto a list or set; onto a recorded object (a list subclass) they are kept.
    private func appendItems(_ items: [PickleValue], to target: PickleValue) throws(WeightsError) {
        switch target {
        case .sequence(let sequence) where sequence.kind == .list || sequence.kind == .set:
            sequence.items.append(contentsOf: items)
        case .call(let object):
            object.appended.append(contentsOf: items)
        default:
            throw corrupt("cannot append to \(target.kindDescription)")
        }
    }

    /// SETITEM(S) / DICT: `items` alternate keys and values.
    private func insertPairs(_ items: [PickleValue], into target: PickleValue) throws(WeightsError) {
        guard items.count % 2 == 0 else { throw corrupt("odd number of items for a dict (\(items.count))") }
        switch target {
        case .dict(let dict):
            dict.entries.reserveCapacity(dict.entries.count + items.count / 2)
            for i in stride(from: 0, to: items.count, by: 2) { dict.entries.append((items[i], items[i + 1])) }
        case .call(let object):
            object.appended.append(contentsOf: items)
        default:
            throw corrupt("cannot set items of \(target.kindDescription)")
        }
    }

    // MARK: Stack

    private func push(_ value: PickleValue) throws(WeightsError) {
        guard stack.count < limits.stackDepth else {
            throw .pickleLimitExceeded(file: file, limit: "more than \(limits.stackDepth) values on the stack")
        }
        stack.append(value)
    }

    /// Pops the top value of the current mark's frame.
    private func pop() throws(WeightsError) -> PickleValue {
        guard stack.count > (marks.last ?? 0) else { throw corrupt("stack underflow") }
        return stack.removeLast()
    }

    private func top() throws(WeightsError) -> PickleValue {
        guard stack.count > (marks.last ?? 0) else { throw corrupt("stack underflow") }
        return stack[stack.count - 1]
    }

    /// Removes and returns everything above the innermost MARK, and that MARK.
    private func popMark() throws(WeightsError) -> [PickleValue] {
        guard let mark = marks.popLast() else { throw corrupt("no MARK to pop to") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private func memoValue(_ index: UInt32) throws(WeightsError) -> PickleValue {
        guard let value = memo[index] else { throw corrupt("memo entry \(index) was never stored") }
        return value
    }

    private func make<Node: PickleNode>(_ node: Node) -> Node {
        nodes.append(node)
        return node
    }

    // MARK: Reading the program

    private func corrupt(_ reason: String) -> WeightsError {
        .corruptPickle(file: file, offset: opcodeOffset, reason: reason)
    }

    private func read(_ length: UInt64) throws(WeightsError) -> UnsafeRawBufferPointer {
        guard length <= UInt64(program.count - position) else {
            throw corrupt("truncated: \(length) bytes needed, \(program.count - position) left")
        }
        let bytes = program.slice(position..<position + Int(length))!
        position += Int(length)
        return bytes
    }

    private func read(_ length: Int) throws(WeightsError) -> UnsafeRawBufferPointer { try read(UInt64(length)) }

    private func readByte() throws(WeightsError) -> UInt8 {
        guard position < program.count else { throw corrupt("truncated: the program ends without STOP") }
        defer { position += 1 }
        return program[position]
    }

    private func readInteger<T: FixedWidthInteger>(_: T.Type) throws(WeightsError) -> T {
        guard let value = program.littleEndian(T.self, at: position) else {
            throw corrupt("truncated: \(MemoryLayout<T>.size)-byte argument past the end")
        }
        position += MemoryLayout<T>.size
        return value
    }

    private func readUTF8(length: UInt64) throws(WeightsError) -> String {
        let bytes = try read(length)
        guard let string = String(validating: bytes, as: UTF8.self) else { throw corrupt("string is not valid UTF-8") }
        return string
    }

    /// A newline-terminated text argument (GLOBAL's module and name).
    private func readLine() throws(WeightsError) -> String {
        guard let newline = program[position...].firstIndex(of: 0x0A) else { throw corrupt("truncated: GLOBAL name has no newline") }
        let line = try read(newline - position)
        position += 1
        guard let text = String(validating: line, as: UTF8.self) else { throw corrupt("GLOBAL name is not valid UTF-8") }
        return text
    }

    /// LONG1/LONG4 payload: little-endian two's complement. Values wider than 64 bits are kept as
    /// `.bigInt` (checkpoints never need them: sizes, strides and offsets fit in 64 bits).
    private func decodeLong(_ bytes: UnsafeRawBufferPointer) -> PickleValue {
        guard bytes.count <= 8 else { return .bigInt }
        guard let last = bytes.last else { return .int(0) }
        var bits: UInt64 = last & 0x80 != 0 ? ~0 : 0  // sign extension
        for (i, byte) in bytes.enumerated() {
            bits &= ~(0xFF << (8 * UInt64(i)))
            bits |= UInt64(byte) << (8 * UInt64(i))
        }
        return .int(Int64(bitPattern: bits))
    }
}
