// ImageFormat: the file formats ImageIO knows, recognised by their first bytes (never by file extension,
// which uploads and renamed files get wrong).

/// PNG, WebP or JPEG (read and write).
public enum ImageFormat: String, Sendable, CaseIterable, Codable {
    case png
    case webp
    case jpeg

    /// The format whose signature `bytes` start with, or nil.
    /// PNG: 89 50 4E 47 0D 0A 1A 0A. JPEG: FF D8 FF. WebP: "RIFF" <size> "WEBP".
    public init?<Bytes: Collection<UInt8>>(sniffing bytes: Bytes) {
        let head = Array(bytes.prefix(12))
        if head.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            self = .png
        } else if head.starts(with: [0xFF, 0xD8, 0xFF]) {
            self = .jpeg
        } else if head.count == 12, head.starts(with: Array("RIFF".utf8)), head[8..<12].elementsEqual("WEBP".utf8) {
            self = .webp
        } else {
            return nil
        }
    }

    /// The format for a file name extension ("png", "webp", "jpg", "jpeg"; any case), or nil.
    public init?(fileExtension: String) {
        switch fileExtension.lowercased() {
        case "png": self = .png
        case "webp": self = .webp
        case "jpg", "jpeg": self = .jpeg
        default: return nil
        }
    }

    /// Whether ImageIO can write this format (all three).
    public var canEncode: Bool { true }

    /// The MIME type, for HTTP answers.
    public var mimeType: String {
        switch self {
        case .png: "image/png"
        case .webp: "image/webp"
        case .jpeg: "image/jpeg"
        }
    }
}
