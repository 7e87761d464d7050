// A structural pass over JSON text that builds no values: it measures nesting depth and counts object
// keys. Foundation's JSON parser recurses once per nesting level and silently keeps one value of a
// duplicated key; this pass lets the header parser refuse deep nesting before that parser runs, and
// detect duplicates afterwards by comparing key counts.
import Foundation

/// What one pass over (possibly malformed) JSON text found.
struct JSONStructureScan {
    /// Keys of all objects, counted in the text (duplicates included).
    private(set) var keyCount = 0

    /// Deepest nesting seen (1 for `{}`), up to the point where scanning stopped.
    private(set) var maximumDepth = 0

    private enum Container { case object, array }

    /// Scans `text`, stopping early once nesting exceeds `depthLimit`.
    ///
    /// Malformed text gives meaningless counts but never a crash: the caller parses the text for
    /// real afterwards, and trusts the counts only if that succeeds.
    init(_ text: UnsafeRawBufferPointer, depthLimit: Int) {
        forEachKey(in: text, depthLimit: depthLimit) { _, _ in }
    }

    /// Calls `body(objectIndex, keyRange)` for every key, `objectIndex` numbering objects in the
    /// order they open, `keyRange` covering the key's quotes. Returns early past `depthLimit`.
    private mutating func forEachKey(
        in text: UnsafeRawBufferPointer, depthLimit: Int, _ body: (Int, Range<Int>) -> Void
    ) {
        var stack: [(container: Container, index: Int)] = []
        var objectsOpened = 0
        var expectingKey = false
        var i = 0
        while i < text.count {
            switch text[i] {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let isObject = text[i] == UInt8(ascii: "{")
                stack.append((isObject ? .object : .array, objectsOpened))
                if isObject { objectsOpened += 1 }
                maximumDepth = max(maximumDepth, stack.count)
                if stack.count > depthLimit { return }
                expectingKey = isObject
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                _ = stack.popLast()
                expectingKey = false
            case UInt8(ascii: ","):
                expectingKey = stack.last?.container == .object
            case UInt8(ascii: "\""):
                let start = i
                i += 1
                // Skip to the closing quote; a backslash always escapes the byte after it.
                while i < text.count, text[i] != UInt8(ascii: "\"") {
                    i += text[i] == UInt8(ascii: "\\") ? 2 : 1
                }
                if expectingKey, let top = stack.last, top.container == .object {
                    keyCount += 1
                    body(top.index, start..<min(i + 1, text.count))
                }
                expectingKey = false
            default:
                break
            }
            i += 1
        }
    }

    /// The first key that occurs twice in the same object, decoded; nil if there is none.
    ///
    /// Only called once a duplicate is known to exist (the slow path), so it may allocate freely.
    static func firstDuplicateKey(in text: UnsafeRawBufferPointer, depthLimit: Int) -> String? {
        var keysByObject: [Int: Set<String>] = [:]
        var duplicate: String?
        var scan = JSONStructureScan()
        scan.forEachKey(in: text, depthLimit: depthLimit) { object, range in
            guard duplicate == nil else { return }
            // Decode the key so that "a" and "\u0061" compare equal, as the parser sees them.
            let raw = Data(text[range])
            let key = (try? JSONSerialization.jsonObject(with: raw, options: .fragmentsAllowed) as? String)
                ?? String(decoding: raw, as: UTF8.self)
            if !keysByObject[object, default: []].insert(key).inserted { duplicate = key }
        }
        return duplicate
    }

    private init() {}
}
