// Reading a component's `config.json` (diffusers / transformers), with errors that name the file.
import Foundation

/// Decoding helpers shared by the component configurations.
public enum ConfigurationFile {
    /// Decodes `T` from the JSON file at `url`. Unknown keys are ignored (configs carry many keys we
    /// do not use, such as `_diffusers_version`); keys we need but cannot find take the reference's
    /// default, as `from_config` does.
    public static func load<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ConfigurationError.unreadable(file: url.path, reason: error.localizedDescription)
        }
        do { return try JSONDecoder().decode(T.self, from: data) } catch let DecodingError.typeMismatch(_, context) {
            throw ConfigurationError.invalid(file: url.path, key: context.codingPath.map(\.stringValue).joined(separator: "."),
                                             reason: context.debugDescription)
        } catch let DecodingError.valueNotFound(_, context) {
            throw ConfigurationError.invalid(file: url.path, key: context.codingPath.map(\.stringValue).joined(separator: "."),
                                             reason: context.debugDescription)
        } catch let DecodingError.dataCorrupted(context) {
            throw ConfigurationError.invalid(file: url.path, key: context.codingPath.map(\.stringValue).joined(separator: "."),
                                             reason: context.debugDescription)
        } catch let error as ConfigurationError {
            throw error.inFile(url.path)
        } catch {
            throw ConfigurationError.invalid(file: url.path, key: "", reason: "\(error)")
        }
    }

    /// Encodes a configuration as pretty, key-sorted JSON (what `dbtrain init` writes).
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }
}

/// A configuration file that cannot be used.
public enum ConfigurationError: Error, CustomStringConvertible, Equatable {
    case unreadable(file: String, reason: String)
    case invalid(file: String, key: String, reason: String)
    /// The file describes a model this implementation does not run (e.g. an SDXL UNet).
    case unsupported(file: String, key: String, value: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(file, reason): "cannot read \(file): \(reason)"
        case let .invalid(file, key, reason): "\(file): invalid value for '\(key)': \(reason)"
        case let .unsupported(file, key, value, reason): "\(file): unsupported \(key) = \(value): \(reason)"
        }
    }

    func inFile(_ file: String) -> ConfigurationError {
        switch self {
        case let .unreadable(_, reason): .unreadable(file: file, reason: reason)
        case let .invalid(_, key, reason): .invalid(file: file, key: key, reason: reason)
        case let .unsupported(_, key, value, reason): .unsupported(file: file, key: key, value: value, reason: reason)
        }
    }
}

/// A config value written either as one number for every block or as a list with one per block
/// (`attention_head_dim: 8` or `[5, 10, 20, 20]`).
public enum PerBlock<Value: Codable & Equatable & Sendable>: Codable, Equatable, Sendable {
    case same(Value)
    case list([Value])

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let list = try? container.decode([Value].self) { self = .list(list) } else { self = .same(try container.decode(Value.self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .same(let v): try container.encode(v)
        case .list(let l): try container.encode(l)
        }
    }

    /// The value for block `index` of `count` blocks.
    public func value(forBlock index: Int) -> Value {
        switch self {
        case .same(let v): v
        case .list(let l): l[index]
        }
    }

    /// The values for `count` blocks; nil when a list has another length.
    public func values(count: Int) -> [Value]? {
        switch self {
        case .same(let v): Array(repeating: v, count: count)
        case .list(let l): l.count == count ? l : nil
        }
    }
}

extension KeyedDecodingContainer {
    /// The value for `key`, or `fallback` when the key is absent or null (diffusers' default).
    func value<T: Decodable>(_ key: Key, default fallback: T) throws -> T {
        try decodeIfPresent(T.self, forKey: key) ?? fallback
    }
}
