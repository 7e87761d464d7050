// Golden fixtures exported from PyTorch by the scripts in Tests/Fixtures/ (see make_*.py there).
import Foundation
import Tensor
import Weights

/// Access to the committed fixture files.
public enum Fixtures {
    /// `Tests/Fixtures/`, found from this source file's path (tests run from the package root or not).
    public static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// Opens `Tests/Fixtures/<name>.safetensors`.
    public static func open(_ name: String) throws -> FixtureFile {
        FixtureFile(try SafetensorsFile(contentsOf: directory.appendingPathComponent("\(name).safetensors")))
    }
}

/// A fixture file: named tensors, read as fp32.
public struct FixtureFile: Sendable {
    public let file: SafetensorsFile
    public init(_ file: SafetensorsFile) { self.file = file }

    /// The tensor `name`; a missing name is a test-setup bug, reported with the file's name.
    public subscript(_ name: String) -> Tensor {
        do { return try file.tensor(name) } catch {
            fatalError("fixture \(file.url.lastPathComponent) has no usable tensor '\(name)': \(error)")
        }
    }

    /// True when the fixture holds `name`.
    public func has(_ name: String) -> Bool { file.entries[name] != nil }
}

extension Fixtures {
    /// The package root (tests find models/ and the built executables from their own path).
    public static let packageRoot = directory.deletingLastPathComponent().deletingLastPathComponent()

    /// An executable of this package built beside the test bundle (or in .build/release|debug).
    public static func builtProduct(_ name: String) -> URL {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [beside, beside.deletingLastPathComponent(), packageRoot.appendingPathComponent(".build/release"),
                          packageRoot.appendingPathComponent(".build/debug")] {
            let url = candidate.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        fatalError("\(name) is not built next to the tests (\(beside.path)); run `swift build --build-tests` first")
    }
}
