// Parameters served from checkpoint files: a lookup from diffusers key to (file, tensor name), with
// shape checks that name the file and key, and a record of what was used and what was skipped.
import Foundation
import Tensor

/// A file of named tensors: safetensors, or a PyTorch pickle checkpoint.
public protocol TensorArchive: AnyObject {
    /// The file, for error messages.
    var path: String { get }
    /// Every tensor name in the file.
    var tensorNames: [String] { get }
    /// The stored shape of `name`, without reading its data.
    func shape(of name: String) -> [Int]?
    /// The tensor `name` as fp32 (zero-copy where the format allows).
    func tensor(_ name: String) throws -> Tensor
}

extension SafetensorsFile: TensorArchive {
    public var path: String { url.path }
    public func shape(of name: String) -> [Int]? { entries[name]?.shape }
}

/// Serves one component's parameters from one or more archives.
public final class CheckpointParameterSource: ParameterSource, @unchecked Sendable {
    /// Where each diffusers key is stored.
    public struct Location {
        public let archive: TensorArchive
        public let name: String
        public init(archive: TensorArchive, name: String) { self.archive = archive; self.name = name }
    }

    public let component: ModelComponent
    private let locations: [String: Location]
    private let lock = NSLock()
    private var used: Set<String> = []

    /// - Parameter locations: diffusers key → stored tensor.
    public init(component: ModelComponent, locations: [String: Location]) {
        self.component = component
        self.locations = locations
    }

    /// Number of keys available to this component.
    public var keyCount: Int { locations.count }

    /// Every diffusers key available to this component, sorted.
    public var keys: [String] { locations.keys.sorted() }

    /// The tensor stored under a diffusers `key`, in its stored shape (not marked as used).
    public func storedTensor(_ key: String) throws -> Tensor {
        guard let location = locations[key] else { throw ModelLoadingError.missingTensor(file: firstArchivePath, key: key) }
        return try location.archive.tensor(location.name)
    }

    /// The shape stored under a diffusers `key`, if the checkpoint has it.
    public func storedShape(_ key: String) -> [Int]? {
        locations[key].flatMap { $0.archive.shape(of: $0.name) }
    }

    /// The files this component's tensors come from, sorted.
    public var archivePaths: [String] {
        Set(locations.values.map { $0.archive.path }).sorted()
    }

    /// Keys present in the checkpoint that no parameter asked for (buffers such as `position_ids`,
    /// or parts of a larger architecture), sorted.
    public var unusedKeys: [String] {
        lock.withLock { locations.keys.filter { !used.contains($0) }.sorted() }
    }

    public func parameter(_ key: String, shape: [Int], initializer: ParameterInitializer) throws -> Tensor {
        guard let location = locations[key] else {
            throw ModelLoadingError.missingTensor(file: firstArchivePath, key: key)
        }
        let stored = location.archive.shape(of: location.name) ?? []
        // The same values under a shape that differs only by trailing 1s are accepted (1×1
        // convolution weights stored where a linear layer is expected, as the LDM VAE does).
        guard Self.sameValues(stored, shape) else {
            throw ModelLoadingError.shapeMismatch(file: location.archive.path, key: location.name, expected: shape, found: stored)
        }
        let tensor = try location.archive.tensor(location.name)
        lock.withLock { _ = used.insert(key) }
        return tensor.shape == shape ? tensor : tensor.reshaped(shape)
    }

    private var firstArchivePath: String {
        locations.values.first?.archive.path ?? "(no weights)"
    }

    static func sameValues(_ a: [Int], _ b: [Int]) -> Bool {
        func trimmed(_ s: [Int]) -> [Int] {
            var s = s
            while s.count > 1, s.last == 1 { s.removeLast() }
            return s
        }
        return a == b || trimmed(a) == trimmed(b)
    }
}
