// Shared access to Tests/Fixtures/training_data (written by Tests/Fixtures/make_training_data_fixtures.py).
import Foundation
import ImageIO
import TestSupport

enum TrainingDataFixtures {
    static let directory = Fixtures.directory.appendingPathComponent("training_data")

    static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    /// A fixture PNG decoded by ImageIO; a missing or broken fixture is a test-setup bug.
    static func image(_ name: String) -> RGBImage {
        do { return try ImageFile.decode(contentsOf: url(name)).image } catch {
            fatalError("fixture \(name): \(error)")
        }
    }

    /// The JSON the script stored in transform.safetensors' metadata ("cases").
    nonisolated(unsafe) static let cases: [String: [[String: Any]]] = {
        let file = try! Fixtures.open("training_data/transform")
        let text = file.file.metadata["cases"] ?? "{}"
        return (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: [[String: Any]]] ?? [:]
    }()

    /// Pixels that differ, and the largest difference.
    static func compare(_ a: RGBImage, _ b: RGBImage) -> (differing: Int, maxDelta: Int) {
        guard a.width == b.width, a.height == b.height else { return (.max, .max) }
        var differing = 0, maxDelta = 0
        for i in stride(from: 0, to: a.pixels.count, by: 3) {
            let d = (0..<3).map { abs(Int(a.pixels[i + $0]) - Int(b.pixels[i + $0])) }.max()!
            if d > 0 { differing += 1 }
            maxDelta = max(maxDelta, d)
        }
        return (differing, maxDelta)
    }

    /// A fresh empty directory under the system temporary directory.
    static func temporaryDirectory() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("training-data-tests-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
