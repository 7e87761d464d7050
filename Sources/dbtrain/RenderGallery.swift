// The `--images DIR` of the evaluate subcommands: every render written as a PNG named by its prompt
// and seed ("a_red_circle_on_a_blue_background-seed0.png"), to look at what the scores count.
import Foundation
import ImageIO

enum RenderGallery {
    /// Writes `image` for (`prompt`, `seed`) into `directory` (created if missing).
    static func write(_ image: RGBImage, prompt: String, seed: UInt64, into directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let name = prompt.replacingOccurrences(of: " ", with: "_") + "-seed\(seed).png"
        try ImageFile.write(image, to: directory.appendingPathComponent(name), format: .png)
    }
}
