// Byte-level BPE: one pre-tokenized word → vocabulary ids, and ids → bytes for decoding.
//
// Reference: `tokenizers` (the Rust library behind transformers 5) — `models/bpe/word.rs` `merge_all` and
// `pre_tokenizers/byte_level.rs` — configured as CLIP is: end-of-word suffix "</w>", no continuing-subword
// prefix, no dropout, unknown symbols to the unk token without fusing. The byte ↔ character table is GPT-2's
// `bytes_to_unicode`.

/// GPT-2's reversible map between bytes and the characters BPE symbols are written in: printable Latin-1
/// bytes stand for themselves, the other 68 (controls, space, soft hyphen…) for U+0100 onward, so that no
/// symbol in vocab.json is whitespace or a control character.
enum ByteLevel {
    /// `characters[b]` is the character that stands for byte `b`.
    static let characters: [Unicode.Scalar] = {
        func printable(_ b: Int) -> Bool { (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) }
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var extra: UInt32 = 0
        for b in 0..<256 {
            if printable(b) {
                table[b] = Unicode.Scalar(UInt32(b))!
            } else {
                table[b] = Unicode.Scalar(256 + extra)!
                extra += 1
            }
        }
        return table
    }()

    /// The inverse of `characters`.
    static let bytes: [Unicode.Scalar: UInt8] = {
        var inverse: [Unicode.Scalar: UInt8] = [:]
        for (b, c) in characters.enumerated() { inverse[c] = UInt8(b) }
        return inverse
    }()

    /// The bytes a vocabulary token stands for. A token with any character outside the table (an added
    /// token such as "<sks>" can be anything) stands for its own UTF-8, as `tokenizers`' ByteLevel decoder has it.
    static func decode(token: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(token.unicodeScalars.count)
        for scalar in token.unicodeScalars {
            guard let b = bytes[scalar] else { return Array(token.utf8) }
            out.append(b)
        }
        return out
    }
}

/// The merge table and the byte symbols of a BPE vocabulary, and the merge loop.
struct ByteLevelBPE: Sendable {
    /// For the merge of symbol pair (left, right), keyed `left << 32 | right`: its rank (lower merges first)
    /// and the id of the merged symbol.
    private let merges: [UInt64: (rank: Int32, merged: Int32)]
    /// Id of the symbol for each byte inside a word, and at its end (with the suffix "</w>").
    private let byteSymbol: [Int32]
    private let finalByteSymbol: [Int32]

    /// - Parameters:
    ///   - vocabulary: token → id.
    ///   - merges: the merge rules in rank order; their tokens must be in `vocabulary`.
    ///   - endOfWordSuffix: appended to the last symbol of a word ("</w>" for CLIP).
    ///   - unknownID: id for a byte symbol missing from the vocabulary (never with CLIP's).
    /// - Throws: the offending rule's index when a merge names a token missing from the vocabulary.
    init(vocabulary: [String: Int], merges rules: [(String, String)], endOfWordSuffix: String,
         unknownID: Int) throws(MergeRuleError) {
        var table: [UInt64: (rank: Int32, merged: Int32)] = [:]
        table.reserveCapacity(rules.count)
        for (rank, (left, right)) in rules.enumerated() {
            guard let l = vocabulary[left], let r = vocabulary[right] else {
                throw MergeRuleError(index: rank, reason: "'\(left)' or '\(right)' is not in the vocabulary")
            }
            guard let m = vocabulary[left + right] else {
                throw MergeRuleError(index: rank, reason: "the merged token '\(left + right)' is not in the vocabulary")
            }
            let key = UInt64(UInt32(l)) << 32 | UInt64(UInt32(r))
            // A repeated rule keeps its first (lowest) rank.
            if table[key] == nil { table[key] = (Int32(rank), Int32(m)) }
        }
        self.merges = table
        self.byteSymbol = ByteLevel.characters.map { Int32(vocabulary[String($0)] ?? unknownID) }
        self.finalByteSymbol = ByteLevel.characters.map {
            Int32(vocabulary[String($0) + endOfWordSuffix] ?? unknownID)
        }
    }

    /// The ids of one pre-tokenized word, given as its UTF-8 bytes.
    func encode(word: [UInt8]) -> [Int32] {
        guard let last = word.last else { return [] }
        var symbols = word.dropLast().map { byteSymbol[Int($0)] }
        symbols.append(finalByteSymbol[Int(last)])
        if symbols.count > 1 { merge(&symbols) }
        return symbols
    }

    private func lookup(_ left: Int32, _ right: Int32) -> (rank: Int32, merged: Int32)? {
        merges[UInt64(UInt32(left)) << 32 | UInt64(UInt32(right))]
    }

    /// Applies merges lowest rank first, leftmost first among equal ranks, as `tokenizers`' `merge_all`:
    /// a priority queue of candidate pairs over a linked list of symbols, so that a long word (a prompt
    /// may hold thousands of letters with no space) costs n log n rather than n².
    private func merge(_ symbols: inout [Int32]) {
        let n = symbols.count
        var next = Array(1...n)           // index of the following live symbol; n = none
        var previous = Array(-1..<(n - 1)) // index of the preceding live symbol; -1 = none
        var queue = MinHeap()
        for i in 0..<(n - 1) {
            if let m = lookup(symbols[i], symbols[i + 1]) { queue.push(rank: m.rank, position: i) }
        }
        while let (rank, i) = queue.pop() {
            // Entries go stale when a neighbour merges first; a rank names one pair, so re-checking the
            // pair's rank is enough to tell.
            guard symbols[i] >= 0, next[i] < n else { continue }
            let j = next[i]
            guard let m = lookup(symbols[i], symbols[j]), m.rank == rank else { continue }
            symbols[i] = m.merged
            symbols[j] = -1
            next[i] = next[j]
            if next[j] < n { previous[next[j]] = i }
            if previous[i] >= 0, let left = lookup(symbols[previous[i]], symbols[i]) {
                queue.push(rank: left.rank, position: previous[i])
            }
            if next[i] < n, let right = lookup(symbols[i], symbols[next[i]]) {
                queue.push(rank: right.rank, position: i)
            }
        }
        symbols.removeAll { $0 < 0 }
    }
}

/// A merge rule that does not fit the vocabulary (reported with its file by the loader).
struct MergeRuleError: Error {
    /// Index of the rule in rank order (0-based).
    let index: Int
    let reason: String
}

/// A binary min-heap of (rank, position) pairs, packed into one integer so that comparing is one instruction.
private struct MinHeap {
    private var items: [UInt64] = []

    mutating func push(rank: Int32, position: Int) {
        items.append(UInt64(UInt32(rank)) << 32 | UInt64(UInt32(position)))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child] < items[parent] else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (rank: Int32, position: Int)? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < items.count && items[left] < items[smallest] { smallest = left }
                if right < items.count && items[right] < items[smallest] { smallest = right }
                if smallest == parent { break }
                items.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return (Int32(truncatingIfNeeded: top >> 32), Int(UInt32(truncatingIfNeeded: top)))
    }
}
