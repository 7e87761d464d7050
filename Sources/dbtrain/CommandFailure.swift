// How every dbtrain subcommand ends when it cannot finish: one line on stderr that names the
// subcommand and what is wrong, and the exit status — 1 for an error, 130 (as for SIGINT) for an
// interrupted run.
import ArgumentParser
import Foundation

enum CommandFailure {
    /// Runs `body`; an error it throws becomes "<command>: <error>" on stderr and exit status 1.
    @discardableResult
    static func reporting<T>(_ command: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            FileHandle.standardError.write(Data("\(command): \(error)\n".utf8))
            throw ExitCode.failure
        }
    }

    /// Exit status 130 with "<command>: interrupted; <what now>" when `interrupt` is set.
    static func stopIfInterrupted(_ interrupt: InterruptFlag, _ command: String, _ whatNow: String) throws {
        guard interrupt.isSet else { return }
        FileHandle.standardError.write(Data("\(command): interrupted; \(whatNow)\n".utf8))
        throw ExitCode(130)
    }
}
