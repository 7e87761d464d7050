// The unit files in systemd/ pass `systemd-analyze verify` with no diagnostic about them, and the
// same check rejects units with deliberate mistakes (so a passing test means something).
//
// systemd-analyze exits 0 on many errors it "ignores" (unknown keys, unparsable values), printing
// them as "file:line: …"; the check therefore fails on any output line naming one of our units.
// verify also requires ExecStart= to be executable, so the units are checked from a temporary copy
// where the daemon's install path points at /bin/true.
import Foundation
import Testing
import TestSupport

/// Runs `systemd-analyze verify` on unit files written to a temporary directory.
enum UnitVerifier {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let installedDaemon = "/usr/local/bin/dbrenderd"

    /// The contents of `systemd/<name>` in the repository.
    static func unit(_ name: String) throws -> String {
        try String(contentsOf: repositoryRoot.appendingPathComponent("systemd").appendingPathComponent(name), encoding: .utf8)
    }

    static func systemdAnalyze() -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let candidates = path.split(separator: ":").map { "\($0)/systemd-analyze" } + ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The problems `systemd-analyze verify` reports for `units` (file name → contents); empty when clean.
    /// `verifying` names the units to check, default all; a template (`x@.service`) is checked
    /// through an instance of it (`x@a.service`), which systemd loads from the template's file.
    static func problems(_ units: [String: String], verifying names: [String]? = nil) throws -> [String] {
        let analyze = try #require(
            systemdAnalyze(),
            "systemd-analyze is not installed: install the Debian package `systemd` (add it to scripts/setup.sh)")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("units-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for (name, contents) in units {
            let url = directory.appendingPathComponent(name)
            try contents.replacingOccurrences(of: installedDaemon, with: "/bin/true").write(to: url, atomically: true, encoding: .utf8)
        }
        let paths = (names ?? units.keys.sorted()).map { directory.appendingPathComponent($0).path }

        // --man=no: Documentation= points at pages that are not installed on a build machine.
        let (status, text) = try runProcess(URL(fileURLWithPath: analyze), ["verify", "--man=no"] + paths)

        let lines = text.split(separator: "\n").map(String.init)
        var problems = lines.filter { line in units.keys.contains { line.contains($0) } || line.contains(directory.path) }
        if status != 0 {
            problems.append("systemd-analyze verify exited with \(status): \(text)")
        }
        return problems
    }

    static var shippedUnits: [String: String] {
        get throws { ["dbrenderd.service": try unit("dbrenderd.service"), "dbrenderd.socket": try unit("dbrenderd.socket")] }
    }

    /// True when `systemd-analyze verify` reports a problem once `original` in `unit` of `units`
    /// becomes `broken` (the anchor must still be in the shipped file, else the test tests nothing).
    static func rejects(_ units: [String: String], verifying names: [String]? = nil,
                        unit: String, original: String, broken: String) throws -> Bool {
        var units = units
        let contents = try #require(units[unit])
        try #require(contents.contains(original), "the test's anchor \(original) is no longer in \(unit)")
        units[unit] = contents.replacingOccurrences(of: original, with: broken)
        return try !problems(units, verifying: names).isEmpty
    }

    /// The fleet's template units, and the instance they are checked through.
    static var templateUnits: [String: String] {
        get throws { ["dbrenderd@.service": try unit("dbrenderd@.service"), "dbrenderd@.socket": try unit("dbrenderd@.socket")] }
    }
    static let templateInstances = ["dbrenderd@a.service", "dbrenderd@a.socket"]
}

@Suite struct SystemdUnitFilesTests {
    @Test func shippedUnitsVerifyCleanly() throws {
        let problems = try UnitVerifier.problems(try UnitVerifier.shippedUnits)
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    /// Each mistake must be caught: an ignored bad value, an unknown key, a missing binary, a
    /// socket without a service to activate.
    @Test(arguments: [
        ("dbrenderd.service", "ProtectSystem=strict", "ProtectSystem=stricter"),
        ("dbrenderd.service", "Type=notify\n", "Type=notify-whenever\n"),
        ("dbrenderd.socket", "ListenStream=", "ListenStrem="),
        ("dbrenderd.service", "ExecStart=/usr/local/bin/dbrenderd", "ExecStart=/nonexistent/dbrenderd"),
    ])
    func deliberateMistakesAreRejected(unit: String, original: String, broken: String) throws {
        #expect(try UnitVerifier.rejects(UnitVerifier.shippedUnits, unit: unit, original: original, broken: broken))
    }

    @Test func templateUnitsVerifyCleanly() throws {
        let problems = try UnitVerifier.problems(try UnitVerifier.templateUnits, verifying: UnitVerifier.templateInstances)
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    @Test(arguments: [
        ("dbrenderd@.service", "ProtectSystem=strict", "ProtectSystem=stricter"),
        ("dbrenderd@.socket", "ListenStream=", "ListenStrem="),
        ("dbrenderd@.service", "Requires=dbrenderd@%i.socket", "Requires=dbrenderd@%i.sock"),
    ])
    func templateMistakesAreRejected(unit: String, original: String, broken: String) throws {
        #expect(try UnitVerifier.rejects(UnitVerifier.templateUnits, verifying: UnitVerifier.templateInstances,
                                         unit: unit, original: original, broken: broken))
    }

    /// The template, the daemon and deploy/nginx/dbrender.conf agree: instance NAME listens where the
    /// nginx configuration looks for it and names itself in its render ids.
    @Test func templateUnitsAgreeWithTheFleetConfiguration() throws {
        let service = try UnitVerifier.unit("dbrenderd@.service")
        let socket = try UnitVerifier.unit("dbrenderd@.socket")
        #expect(socket.contains("\nListenStream=/run/dbrender/%i.sock\n"))
        #expect(service.contains("--instance %i"))
        #expect(service.contains("\nType=notify\n") && service.contains("\nWatchdogSec="))
        let nginx = try String(contentsOf: UnitVerifier.repositoryRoot.appendingPathComponent("deploy/nginx/dbrender.conf"), encoding: .utf8)
        for instance in ["a", "b"] {
            #expect(nginx.contains("server unix:/run/dbrender/\(instance).sock"))
            #expect(nginx.contains("\"~^/v1/renders/\(instance)\\.\" dbrender_\(instance);"))
        }
    }

    @Test func socketWithoutItsServiceIsRejected() throws {
        let units = ["dbrenderd.socket": try UnitVerifier.unit("dbrenderd.socket")]
        #expect(try !UnitVerifier.problems(units).isEmpty)
    }

    /// The settings the daemon's code relies on.
    @Test func unitsAgreeWithTheDaemon() throws {
        let service = try UnitVerifier.unit("dbrenderd.service")
        let socket = try UnitVerifier.unit("dbrenderd.socket")
        // Type=notify: the daemon sends READY=1 (SystemdNotifier); WatchdogSec needs its pings.
        #expect(service.contains("\nType=notify\n"))
        #expect(service.contains("\nWatchdogSec="))
        #expect(service.contains("\nExecReload=/bin/kill -HUP $MAINPID\n"))
        // One listening AF_UNIX stream socket, handed over as is (ListeningUnixSocket checks it).
        #expect(socket.contains("\nListenStream=/run/dbrender/dbrender.sock\n"))
        #expect(socket.contains("\nAccept=no\n"))
        #expect(socket.contains("\nSocketMode=0660\n"))
    }
}
