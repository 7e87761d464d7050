// The small pieces: socket location, progress numbers, atomic writes, one-line error messages.
import Foundation
import RenderAPI
import Testing
@testable import RenderClient

@Suite struct SocketLocationTests {
    @Test func explicitPathsWin() {
        let environment = ["DBRENDER_SOCKET": "/env.sock", "XDG_RUNTIME_DIR": "/run/user/1000"]
        #expect(SocketLocation.resolve(flag: "/flag.sock", environment: environment, exists: { _ in false }).path == "/flag.sock")
        #expect(SocketLocation.resolve(flag: nil, environment: environment, exists: { _ in false }).path == "/env.sock")
    }

    @Test func firstExistingDefault() {
        let environment = ["XDG_RUNTIME_DIR": "/run/user/1000", "DBRENDER_SOCKET": ""]
        #expect(SocketLocation.resolve(flag: nil, environment: environment, exists: { $0 == SocketLocation.systemPath })
                == SocketLocation(path: "/run/dbrender/dbrender.sock"))
        #expect(SocketLocation.resolve(flag: nil, environment: environment, exists: { _ in true })
                == SocketLocation(path: "/run/user/1000/dbrender.sock"))
        #expect(SocketLocation.resolve(flag: nil, environment: environment, exists: { _ in false })
                == SocketLocation(path: "/run/user/1000/dbrender.sock", alternatives: ["/run/dbrender/dbrender.sock"]))
        #expect(SocketLocation.resolve(flag: nil, environment: [:], exists: { _ in false })
                == SocketLocation(path: "/run/dbrender/dbrender.sock"))
    }
}

@Suite struct ProgressMeterTests {
    @Test func barAndTimeLeft() {
        var meter = ProgressMeter()
        meter.record(step: 1, steps: 30, at: 100)
        #expect(meter.remainingSeconds == nil)
        #expect(meter.bar(width: 10) == "[..........]  1/30  3%  ETA --:--")
        meter.record(step: 11, steps: 30, at: 120)  // 2 s a step, 19 steps to go
        #expect(meter.remainingSeconds == 38)
        #expect(meter.bar(width: 10) == "[###.......]  11/30  36%  ETA 0:38")
        meter.record(step: 30, steps: 30, at: 158)
        #expect(meter.bar(width: 10) == "[##########]  30/30  100%  ETA 0:00")
    }

    @Test func durations() {
        #expect(ProgressMeter.duration(0) == "0:00")
        #expect(ProgressMeter.duration(59.2) == "1:00")
        #expect(ProgressMeter.duration(3725) == "1:02:05")
    }
}

@Suite struct AtomicFileTests {
    @Test func writesAndReplacesLeavingNoTemporaryFile() throws {
        let directory = try TemporaryDirectory()
        try AtomicFile.write(Data("first".utf8), to: directory.path("a.png"))
        try AtomicFile.write(Data("second".utf8), to: directory.path("a.png"))
        #expect(try Data(contentsOf: directory.url("a.png")) == Data("second".utf8))
        #expect(directory.names == ["a.png"])
    }

    @Test func namesThePathItCannotWrite() throws {
        let directory = try TemporaryDirectory()
        #expect(throws: ClientError.cannotWrite(path: directory.path("missing/a.png"), errno: ENOENT)) {
            try AtomicFile.write(Data(), to: directory.path("missing/a.png"))
        }
        #expect(ClientError.cannotWrite(path: "x/a.png", errno: ENOENT).description == "cannot write x/a.png: No such file or directory")
    }
}

@Suite struct ClientErrorTests {
    @Test func oneLineMessages() {
        #expect(ClientError.daemon(status: 400, ErrorBody(code: "invalid_field", message: "width must be a multiple of 8",
                                                          field: "width").error, retryAfter: nil).description
                == "invalid_field: width must be a multiple of 8 (field: width)")
        #expect(ClientError.cannotConnect(path: "/run/dbrender/dbrender.sock", errno: ENOENT, alsoTried: []).description
                == "cannot connect to /run/dbrender/dbrender.sock: No such file or directory — is dbrenderd running?")
        #expect(ClientError.cannotConnect(path: "/s", errno: EACCES, alsoTried: []).description
                == "cannot connect to /s: Permission denied — is your user in the socket's group?")
        #expect(ClientError.atLine(file: "b.txt", line: 4, .streamEndedEarly(jobID: "j1")).description
                == "b.txt:4: the stream ended before the render finished: dbrenderd (or a proxy in front of it) stopped or dropped the connection (job j1)")
        #expect(ClientError.atLine(file: "b.txt", line: 4, .readTimedOut(seconds: 5)).cause == .readTimedOut(seconds: 5))
    }
}
