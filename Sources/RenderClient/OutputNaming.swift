// Where each image of a job is written. The names are predictable, so a script knows them in advance and a
// rerun of a batch finds what an interrupted run already wrote:
//
//   --out FILE                FILE; with --count N > 1: FILE's stem + "-1" … "-N" before the extension
//                             (dog.png → dog-1.png, dog-2.png). FILE without an extension gets the format's.
//   --out-dir DIR, one prompt DIR/<prompt>-<seed>.<ext>: the prompt's first 60 letters and digits,
//                             lowercased, other runs of characters as "-" ("a photo of sks dog" → a-photo-of-sks-dog-42.png)
//   --out-dir DIR, --prompts  DIR/<line:04>-<seed>.<ext>: the prompt file's 1-based line number, zero-padded,
//                             and the image's seed (line 7, seed 42 → 0007-42.png)
//
// Image i of a job has seed + i, so the images of one job never share a name.

/// The naming rule of one job's images.
public enum OutputNaming: Sendable, Equatable {
    /// `--out FILE`.
    case file(String)
    /// `<directory>/<stem>-<seed>.<ext>`.
    case seeded(directory: String, stem: String)

    /// The rule for the job on `line` of a prompt file.
    public static func batch(directory: String, line: Int) -> OutputNaming {
        let digits = String(line)
        return .seeded(directory: directory, stem: String(repeating: "0", count: max(0, 4 - digits.count)) + digits)
    }

    /// The rule for a single prompt written into `directory`.
    public static func prompt(directory: String, prompt: String) -> OutputNaming {
        .seeded(directory: directory, stem: slug(prompt))
    }

    /// The path of image `index` (0-based) of a job of `count` images.
    public func path(index: Int, count: Int, seed: UInt64, format: String) -> String {
        switch self {
        case let .file(path):
            let (stem, fileExtension) = Self.split(path)
            let suffix = count > 1 ? "-\(index + 1)" : ""
            return stem + suffix + "." + (fileExtension ?? Self.fileExtension(format))
        case let .seeded(directory, stem):
            return Self.join(directory, "\(stem)-\(seed).\(Self.fileExtension(format))")
        }
    }

    /// The paths of a job's images when they can be known before it runs (the seed is given), else nil.
    public func paths(count: Int, seed: UInt64?, format: String) -> [String]? {
        if case .seeded = self, seed == nil { return nil }
        let base = seed ?? 0
        return (0..<count).map { path(index: $0, count: count, seed: base &+ UInt64($0), format: format) }
    }

    /// The files a rerun would take as this job's output: its exact paths when the seed is known; with a
    /// random seed, any `<stem>-<digits>.<ext>` in the directory (the seed was only known to the earlier run).
    public func existingOutputs(count: Int, seed: UInt64?, format: String, listDirectory: (String) -> [String],
                                exists: (String) -> Bool) -> [String] {
        if let paths = paths(count: count, seed: seed, format: format) { return paths.filter(exists) }
        guard case let .seeded(directory, stem) = self else { return [] }
        let suffix = "." + Self.fileExtension(format)
        return listDirectory(directory).filter { name in
            guard name.hasPrefix(stem + "-"), name.hasSuffix(suffix) else { return false }
            let seed = name.dropFirst(stem.count + 1).dropLast(suffix.count)
            return !seed.isEmpty && seed.allSatisfy(\.isASCII) && UInt64(seed) != nil
        }.sorted().map { Self.join(directory, $0) }
    }

    /// The file extension of an image format.
    public static func fileExtension(_ format: String) -> String {
        switch format.lowercased() {
        case "jpeg", "jpg": return "jpg"
        default: return format.lowercased()
        }
    }

    /// The format a file name asks for (dog.webp → webp), if its extension names one.
    public static func format(ofPath path: String) -> String? {
        guard let fileExtension = split(path).fileExtension?.lowercased() else { return nil }
        switch fileExtension {
        case "png", "webp": return fileExtension
        case "jpg", "jpeg": return "jpeg"
        default: return nil
        }
    }

    /// A prompt as a file-name stem: its ASCII letters and digits lowercased, every run of anything else
    /// as one "-", cut to `maximumLength` characters.
    public static func slug(_ prompt: String, maximumLength: Int = 60) -> String {
        let isWordCharacter: (Unicode.Scalar) -> Bool = { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)) }
        let words = prompt.unicodeScalars.split { !isWordCharacter($0) }.map { String(String.UnicodeScalarView($0)).lowercased() }
        var slug = String(words.joined(separator: "-").prefix(maximumLength))
        while slug.hasSuffix("-") { slug.removeLast() }
        return slug.isEmpty ? "image" : slug
    }

    /// Stem and extension of the last path component ("out/dog.png" → "out/dog", "png"; ".hidden" has none).
    static func split(_ path: String) -> (stem: String, fileExtension: String?) {
        let nameStart = path.lastIndex(of: "/").map(path.index(after:)) ?? path.startIndex
        guard let dot = path[nameStart...].lastIndex(of: "."), dot > nameStart, path.index(after: dot) < path.endIndex else {
            return (path, nil)
        }
        return (String(path[..<dot]), String(path[path.index(after: dot)...]))
    }

    static func join(_ directory: String, _ name: String) -> String {
        directory.isEmpty || directory == "." ? name : (directory.hasSuffix("/") ? directory + name : directory + "/" + name)
    }
}
