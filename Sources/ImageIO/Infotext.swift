// Infotext: A1111's text format for generation parameters — the `parameters` PNG text chunk and the EXIF
// UserComment of its JPEG/WebP files. Rendering follows `create_infotext` (modules/processing.py) and
// `infotext_utils.quote`; parsing follows `parse_generation_parameters` (modules/infotext_utils.py),
// including its field regex, so that what A1111 writes we read the same way A1111 does, and vice versa.
//
//     a photo of sks dog
//     on the beach
//     Negative prompt: blurry, lowres
//     Steps: 30, Sampler: Euler a, CFG scale: 7.5, Seed: 42, Size: 512x512, Lora hashes: "a: 1, b: 2"

/// The three parts of an infotext: prompt, negative prompt, and the "Key: value" fields of its last line.
public struct Infotext: Sendable, Equatable {
    /// One "Key: value" field. Keys are A1111's (`Steps`, `CFG scale`, …): a word character, then word
    /// characters, spaces, `-` or `/`; values are any text (quoted when written, unquoted when read).
    public struct Field: Sendable, Hashable {
        /// The field name, e.g. "Denoising strength".
        public var key: String
        /// The unquoted value, e.g. "0.75".
        public var value: String
        /// A field `key: value`.
        public init(_ key: String, _ value: String) {
            self.key = key
            self.value = value
        }
    }

    /// The positive prompt (lines joined with "\n").
    public var prompt: String
    /// The negative prompt, or "" when there is none.
    public var negativePrompt: String
    /// The fields of the last line, in order of appearance.
    public var fields: [Field]

    /// An infotext with the given parts.
    public init(prompt: String, negativePrompt: String, fields: [Field]) {
        self.prompt = prompt
        self.negativePrompt = negativePrompt
        self.fields = fields
    }

    /// The text, as `create_infotext` writes it: prompt, "\nNegative prompt: …" if non-empty, "\n", the
    /// fields joined by ", ", the whole stripped of surrounding whitespace.
    public var text: String {
        let negative = negativePrompt.isEmpty ? "" : "\nNegative prompt: \(negativePrompt)"
        let line = fields.map { $0.key == $0.value ? $0.key : "\($0.key): \(Self.quote($0.value))" }
            .joined(separator: ", ")
        return "\(prompt)\(negative)\n\(line)".trimmingPythonWhitespace()
    }

    /// Splits `text` as A1111's `parse_generation_parameters` does: the last line holds the fields if at
    /// least three "Key: value" pairs are found in it (otherwise it is part of the prompt); the other lines
    /// are stripped, and a line starting with "Negative prompt:" starts the negative prompt, which runs to
    /// the field line. A field with an empty value is dropped, as A1111's parser drops it.
    public init(parsing text: String) {
        // Split on U+000A itself, as Python does: Swift's Character view would keep "\r\n" whole.
        var lines = text.trimmingPythonWhitespace().unicodeScalars
            .split(separator: "\n", omittingEmptySubsequences: false)
            .map { String(String.UnicodeScalarView($0)) }
        var lastLine = lines.removeLast()
        var fields = Self.scanFields(lastLine)
        if fields.count < 3 {
            lines.append(lastLine)
            lastLine = ""
            fields = []
        }

        var prompt = ""
        var negative = ""
        var inNegative = false
        for rawLine in lines {
            var line = rawLine.trimmingPythonWhitespace()
            if line.unicodeScalars.starts(with: "Negative prompt:".unicodeScalars) {
                inNegative = true
                line = String(String.UnicodeScalarView(line.unicodeScalars.dropFirst(16))).trimmingPythonWhitespace()
            }
            // A1111 appends "\n" + line unless the accumulated text is still empty, so leading blank lines
            // vanish while inner blank lines survive; we do the same to read its prompts identically.
            if inNegative {
                negative += (negative.isEmpty ? "" : "\n") + line
            } else {
                prompt += (prompt.isEmpty ? "" : "\n") + line
            }
        }

        self.init(prompt: prompt, negativePrompt: negative,
                  fields: fields.compactMap { key, rawValue in
                      guard !rawValue.isEmpty else { return nil }
                      let value = rawValue.count >= 2 && rawValue.hasPrefix("\"") && rawValue.hasSuffix("\"")
                          ? Self.unquote(rawValue) : rawValue
                      return Field(key, value)
                  })
    }

    // MARK: Quoting (infotext_utils.quote / unquote)

    /// A value containing ",", ":" or a newline is written as a JSON string (`json.dumps(v,
    /// ensure_ascii=False)`: only `"`, `\` and control characters are escaped); any other value verbatim.
    static func quote(_ value: String) -> String {
        guard value.unicodeScalars.contains(where: { $0 == "," || $0 == ":" || $0 == "\n" }) else { return value }
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Decodes a JSON string literal; like A1111, returns the text unchanged if it is not valid JSON.
    static func unquote(_ quoted: String) -> String {
        var scalars = Array(quoted.unicodeScalars)
        guard scalars.count >= 2, scalars.first == "\"", scalars.last == "\"" else { return quoted }
        scalars = Array(scalars[1..<(scalars.count - 1)])
        var out = String.UnicodeScalarView()
        var i = 0
        func hex4(at index: Int) -> UInt32? {
            guard index + 4 <= scalars.count else { return nil }
            return UInt32(String(String.UnicodeScalarView(scalars[index..<(index + 4)])), radix: 16)
        }
        while i < scalars.count {
            let scalar = scalars[i]
            if scalar == "\"" || scalar.value < 0x20 { return quoted }  // json.loads(strict=True) refuses these
            guard scalar == "\\" else { out.append(scalar); i += 1; continue }
            guard i + 1 < scalars.count else { return quoted }
            switch scalars[i + 1] {
            case "\"": out.append("\""); i += 2
            case "\\": out.append("\\"); i += 2
            case "/": out.append("/"); i += 2
            case "b": out.append("\u{08}"); i += 2
            case "f": out.append("\u{0C}"); i += 2
            case "n": out.append("\n"); i += 2
            case "r": out.append("\r"); i += 2
            case "t": out.append("\t"); i += 2
            case "u":
                guard let unit = hex4(at: i + 2) else { return quoted }
                i += 6
                if (0xD800..<0xDC00).contains(unit), i + 1 < scalars.count, scalars[i] == "\\", scalars[i + 1] == "u",
                   let low = hex4(at: i + 2), (0xDC00..<0xE000).contains(low) {
                    out.append(Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))!)
                    i += 6
                } else if let decoded = Unicode.Scalar(unit) {
                    out.append(decoded)
                } else {
                    out.append("\u{FFFD}")  // a lone surrogate: Python keeps it, Swift strings cannot
                }
            default: return quoted
            }
        }
        return String(out)
    }

    // MARK: The field regex

    /// All matches of A1111's `re_param`, `\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)`, as Python's
    /// `findall` returns them (key, raw value). Written out by hand because the pattern needs no
    /// backtracking: the key is the maximal run of key characters and must be followed by ":", and the
    /// quoted alternative either closes at its unique closing quote followed by "," or the end, or falls
    /// back to `[^,]*`. At a position where no match starts, the scan moves on by one character, as
    /// `findall` does.
    static func scanFields(_ line: String) -> [(String, String)] {
        let s = Array(line.unicodeScalars)
        var results: [(String, String)] = []
        var start = 0
        while start < s.count {
            guard let (key, value, end) = matchField(s, at: start) else { start += 1; continue }
            results.append((key, value))
            start = end
        }
        return results
    }

    private static func matchField(_ s: [Unicode.Scalar], at start: Int) -> (String, String, Int)? {
        var i = start
        while i < s.count, s[i].isPythonWhitespace { i += 1 }
        guard i < s.count, s[i].isPythonWordCharacter else { return nil }
        let keyStart = i
        i += 1
        while i < s.count, s[i].isPythonWordCharacter || s[i] == " " || s[i] == "-" || s[i] == "/" { i += 1 }
        guard i - keyStart >= 2, i < s.count, s[i] == ":" else { return nil }
        let key = String(String.UnicodeScalarView(s[keyStart..<i]))
        i += 1
        while i < s.count, s[i].isPythonWhitespace { i += 1 }
        let valueStart = i

        // Quoted alternative: at least one character (an escape pair or anything but `\` and `"`),
        // then the closing quote, then "," or the end of the line.
        if i < s.count, s[i] == "\"" {
            var j = i + 1
            while j < s.count, s[j] != "\"" {
                if s[j] == "\\" {
                    guard j + 1 < s.count, s[j + 1] != "\n" else { break }
                    j += 2
                } else {
                    j += 1
                }
            }
            if j < s.count, s[j] == "\"", j > i + 1, j + 1 == s.count || s[j + 1] == "," {
                let value = String(String.UnicodeScalarView(s[valueStart...j]))
                return (key, value, j + 1 == s.count ? j + 1 : j + 2)
            }
        }
        // Unquoted alternative: everything up to the next comma.
        var j = i
        while j < s.count, s[j] != "," { j += 1 }
        let value = String(String.UnicodeScalarView(s[valueStart..<j]))
        return (key, value, j == s.count ? j : j + 1)
    }
}

extension Unicode.Scalar {
    /// Python's `\w` for str patterns: letters, digits and other numerals, and `_`.
    fileprivate var isPythonWordCharacter: Bool {
        if self == "_" { return true }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .decimalNumber, .letterNumber, .otherNumber:
            return true
        default:
            return false
        }
    }

    /// Python's `\s` / `str.isspace()`.
    fileprivate var isPythonWhitespace: Bool {
        properties.isWhitespace || (0x1C...0x1F).contains(value)
    }
}

extension String {
    /// Python's `str.strip()` with no argument.
    fileprivate func trimmingPythonWhitespace() -> String {
        let scalars = Array(unicodeScalars)
        var lower = 0
        var upper = scalars.count
        while lower < upper, scalars[lower].isPythonWhitespace { lower += 1 }
        while upper > lower, scalars[upper - 1].isPythonWhitespace { upper -= 1 }
        return String(String.UnicodeScalarView(scalars[lower..<upper]))
    }
}
