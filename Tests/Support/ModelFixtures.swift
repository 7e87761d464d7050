// Access to the tiny-model fixtures under Tests/Fixtures/models/ (make_model_fixtures.py).
import Foundation
import Weights

extension Fixtures {
    /// `Tests/Fixtures/models/<name>/`.
    public static func modelCase(_ name: String) -> URL {
        directory.appendingPathComponent("models").appendingPathComponent(name)
    }

    /// The parameters in `models/<name>/weights.safetensors`, by diffusers/transformers key.
    public static func parameters(_ name: String, component: ModelComponent) throws -> CheckpointParameterSource {
        let archive = try SafetensorsFile(contentsOf: modelCase(name).appendingPathComponent("weights.safetensors"))
        var locations: [String: CheckpointParameterSource.Location] = [:]
        for tensorName in archive.tensorNames {
            let key = component == .textEncoder ? CheckpointLayout.canonicalTextEncoderKey(tensorName) : tensorName
            locations[key] = .init(archive: archive, name: tensorName)
        }
        return CheckpointParameterSource(component: component, locations: locations)
    }

    /// The configuration `models/<name>/config.json`.
    public static func configuration<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        try ConfigurationFile.load(type, from: modelCase(name).appendingPathComponent("config.json"))
    }

    /// `models/<name>/io.safetensors`: inputs and reference outputs.
    public static func modelIO(_ name: String) throws -> FixtureFile {
        FixtureFile(try SafetensorsFile(contentsOf: modelCase(name).appendingPathComponent("io.safetensors")))
    }
}
