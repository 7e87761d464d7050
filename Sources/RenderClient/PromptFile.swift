// Batch prompt files (DESIGN.md "Batch prompt file").
//
// Text files: one prompt per line. A line may start with render flags in the command line's syntax —
// `--seed 7 --steps 40 a photo of sks dog on the beach` — which override the command line's for that line
// only. A value with spaces is quoted: `--negative-prompt "blurry, low quality" a photo of sks dog`
// ("…" understands \" and \\; '…' is literal); `--flag=value` works too; `--` ends the flags, for a prompt
// that itself starts with `--`. The rest of the line is the prompt, verbatim (quotes kept).
// A line whose first non-blank character is `#` is a comment; a `#` later in a line is part of the prompt,
// because prompts do contain it (hex colours, "#1 fan"). Blank lines are skipped. A relative
// `--init-image` path is relative to the prompt file's folder.
//
// `.jsonl` files: one RenderRequestBody JSON object per line; its fields override the command line's.
// Blank lines and `#` lines are skipped there too.
//
// The whole file is checked before anything renders: the first bad line is reported as `file:line: reason`.
import Foundation
import RenderAPI

/// Parser of batch prompt files.
public enum PromptFile {
    /// One prompt of a file and the 1-based line it came from (which names its output files).
    public struct Entry: Sendable, Equatable {
        public var spec: RenderSpec
        public var line: Int

        public init(spec: RenderSpec, line: Int) {
            self.spec = spec
            self.line = line
        }
    }

    /// Flags of the command line that make no sense on one line of a batch.
    static let commandLineOnlyFlags: Set<String> = ["out", "out-dir", "socket", "prompts"]

    /// Reads and parses the prompt file at `path` (JSON lines if it ends in `.jsonl`), on top of `base`, and
    /// checks that every init image it names exists.
    public static func load(path: String, base: RenderSpec) throws(ClientError) -> [Entry] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .cannotRead(path: path, reason: FileManager.default.fileExists(atPath: path) ? "not UTF-8 text" : "no such file")
        }
        let directory = (path as NSString).deletingLastPathComponent
        let entries = path.lowercased().hasSuffix(".jsonl")
            ? try parseJSONLines(text, file: path, base: base)
            : try parseText(text, file: path, base: base, directory: directory.isEmpty ? nil : directory)
        for entry in entries {
            if let image = entry.spec.initImagePath, !FileManager.default.isReadableFile(atPath: image) {
                throw .promptFile(file: path, line: entry.line, reason: "init image \(image) does not exist or is not readable")
            }
        }
        return entries
    }

    /// Parses a text prompt file. `file` names it in errors; `directory` anchors relative init-image paths.
    public static func parseText(_ text: String, file: String, base: RenderSpec, directory: String? = nil) throws(ClientError) -> [Entry] {
        var entries: [Entry] = []
        for (offset, line) in lines(of: text).enumerated() {
            let content = line.drop { $0.isWhitespace }
            if content.isEmpty || content.hasPrefix("#") { continue }
            do {
                entries.append(Entry(spec: try parseLine(content, base: base, directory: directory), line: offset + 1))
            } catch {
                throw .promptFile(file: file, line: offset + 1, reason: error.description)
            }
        }
        return entries
    }

    /// Parses a JSON-lines prompt file: each object's fields over `base`'s.
    public static func parseJSONLines(_ text: String, file: String, base: RenderSpec) throws(ClientError) -> [Entry] {
        var entries: [Entry] = []
        for (offset, line) in lines(of: text).enumerated() {
            let content = line.drop { $0.isWhitespace }
            if content.isEmpty || content.hasPrefix("#") { continue }
            do {
                entries.append(Entry(spec: try parseJSONLine(content, base: base), line: offset + 1))
            } catch {
                throw .promptFile(file: file, line: offset + 1, reason: error.description)
            }
        }
        return entries
    }

    /// One text line: leading flags, then the prompt.
    static func parseLine(_ line: Substring, base: RenderSpec, directory: String?) throws(FlagValueError) -> RenderSpec {
        var spec = base
        var scanner = LineScanner(line)
        while true {
            scanner.skipBlanks()
            guard scanner.rest.hasPrefix("--") else { break }
            let token = scanner.rest.prefix { !$0.isWhitespace && $0 != "=" }
            let name = String(token.dropFirst(2))
            if name.isEmpty && !scanner.rest.hasPrefix("--=") {
                scanner.advance(by: 2)  // "--": what follows is the prompt
                scanner.skipBlanks()
                break
            }
            guard let flag = RenderFlag(rawValue: name) else {
                if commandLineOnlyFlags.contains(name) {
                    throw FlagValueError("--\(name) can only be given on the command line, not on a line")
                }
                throw FlagValueError("unknown option \(token) (a line may start with "
                    + RenderFlag.allCases.map(\.spelling).joined(separator: " ") + ")")
            }
            scanner.advance(by: token.count)
            let value: String
            if scanner.rest.hasPrefix("=") {
                scanner.advance(by: 1)
                value = try scanner.value(for: flag.spelling)
            } else {
                scanner.skipBlanks()
                guard !scanner.rest.isEmpty else { throw FlagValueError("\(flag.spelling) needs a value") }
                value = try scanner.value(for: flag.spelling)
            }
            try flag.apply(value, to: &spec, relativeTo: directory)
        }
        let rest = scanner.rest
        let prompt = rest.lastIndex { !$0.isWhitespace }.map { rest[...$0] } ?? ""
        guard !prompt.isEmpty else { throw FlagValueError("no prompt after the options") }
        spec.request.prompt = String(prompt)
        return spec
    }

    /// One JSON line: a RenderRequestBody whose unset fields come from `base`.
    static func parseJSONLine(_ line: Substring, base: RenderSpec) throws(FlagValueError) -> RenderSpec {
        let data = Data(line.utf8)
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw FlagValueError("not a JSON object")
        }
        // The daemon rejects unknown fields too, but only once the batch is under way.
        if let unknown = object.keys.sorted().first(where: { !RenderRequestBody.fieldNames.contains($0) }) {
            throw FlagValueError("unknown field \"\(unknown)\" (fields: \(RenderRequestBody.fieldNames.sorted().joined(separator: ", ")))")
        }
        let decoded: RenderRequestBody
        do {
            decoded = try APIJSON.decode(RenderRequestBody.self, from: data)
        } catch let error as DecodingError {
            throw FlagValueError(describe(error))
        } catch {
            throw FlagValueError("\(error)")
        }
        var spec = RenderSpec(request: decoded.filled(from: base.request), initImagePath: base.initImagePath)
        if decoded.initImage != nil { spec.initImagePath = nil }
        return spec
    }

    /// A DecodingError as one short line naming the field.
    static func describe(_ error: DecodingError) -> String {
        func field(_ path: [any CodingKey]) -> String { path.map(\.stringValue).joined(separator: ".") }
        switch error {
        case let .keyNotFound(key, _): return "missing field \"\(key.stringValue)\""
        case let .valueNotFound(_, context): return "field \"\(field(context.codingPath))\" is null"
        case let .typeMismatch(type, context): return "field \"\(field(context.codingPath))\" is not a \(type)"
        case let .dataCorrupted(context):
            return context.codingPath.isEmpty ? context.debugDescription
                : "field \"\(field(context.codingPath))\": \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }

    /// The lines of `text`, LF or CRLF terminated (a Windows editor's file reads the same), without a BOM.
    static func lines(of text: String) -> [Substring] {
        let body = text.hasPrefix("\u{FEFF}") ? text.dropFirst() : Substring(text)
        // "\r\n" is one Character in Swift, so it must be named as a separator of its own.
        return body.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
    }
}

/// Walks one prompt-file line, reading flag values (bare, "double-quoted" or 'single-quoted').
struct LineScanner {
    private(set) var rest: Substring

    init(_ line: Substring) { rest = line }

    mutating func skipBlanks() { rest = rest.drop { $0.isWhitespace } }

    mutating func advance(by count: Int) { rest = rest.dropFirst(count) }

    /// The value at the current position; stops at a blank, or after the closing quote.
    mutating func value(for flag: String) throws(FlagValueError) -> String {
        guard let quote = rest.first, quote == "\"" || quote == "'" else {
            let bare = rest.prefix { !$0.isWhitespace }
            advance(by: bare.count)
            return String(bare)
        }
        advance(by: 1)
        var value = ""
        while let character = rest.first {
            advance(by: 1)
            if character == quote {
                guard rest.first?.isWhitespace ?? true else {
                    throw FlagValueError("\(flag): text right after the closing quote")
                }
                return value
            }
            // Inside "…" a backslash escapes the next character ("say \"hi\""); '…' takes everything literally.
            if character == "\\" && quote == "\"", let escaped = rest.first {
                advance(by: 1)
                value.append(escaped)
            } else {
                value.append(character)
            }
        }
        throw FlagValueError("\(flag): the quote \(quote) is never closed")
    }
}
