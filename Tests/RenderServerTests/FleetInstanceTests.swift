// A daemon's instance name (`--instance`, config key "instance"): which names are allowed, and the
// render ids it gives ("<instance>.r_<random>"), which deploy/nginx/dbrender.conf routes on.
import Foundation
import Testing
@testable import RenderServer

@Suite struct FleetInstanceTests {
    @Test func instanceNames() {
        for good in ["a", "gpu-node-7", "numa_0", String(repeating: "x", count: 32)] {
            #expect(ServerConfiguration.problem(withInstanceName: good) == nil, "\(good)")
        }
        // A dot would end the instance early in an id; a slash or space could not travel in a path.
        for bad in ["", "a.b", "a/b", "a b", "ä", String(repeating: "x", count: 33)] {
            #expect(ServerConfiguration.problem(withInstanceName: bad) != nil, "\(bad)")
        }
    }

    @Test func configurationFileKey() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("instance-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let good = folder.appendingPathComponent("good.json"), bad = folder.appendingPathComponent("bad.json")
        try Data(#"{"instance": "node-3"}"#.utf8).write(to: good)
        try Data(#"{"instance": "node.3"}"#.utf8).write(to: bad)
        #expect(try ServerConfiguration.load(good).instance == "node-3")
        #expect(try ServerConfiguration().instance == nil)
        #expect {
            try ServerConfiguration.load(bad)
        } throws: { error in
            "\(error)".contains("bad.json") && "\(error)".contains("node.3")
        }
    }

    @Test func renderIDsNameTheInstance() {
        let ids = (0..<200).map { _ in RenderEngine.newID(instance: "b") }
        #expect(Set(ids).count == ids.count)
        for id in ids {
            // "b." then "r_" and 12 base64url characters: the first dot ends the instance.
            #expect(id.hasPrefix("b.r_") && id.count == 16, "\(id)")
            #expect(id.dropFirst(2).allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }, "\(id)")
        }
        let plain = RenderEngine.newID(instance: nil)
        #expect(plain.hasPrefix("r_") && plain.count == 14 && !plain.contains("."))
    }
}
