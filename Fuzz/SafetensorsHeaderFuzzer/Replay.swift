// The fuzz target's `main`. SwiftPM links every executable's `main` to the module's own entry point,
// so libFuzzer's `main` cannot take its place; instead, a fuzzing build (`-DFUZZING`, see
// Fuzz/README.md) hands control to libFuzzer's driver, and an ordinary build replays files — a crash
// reproducer, a corpus directory — through the same check, printing one line each.
import Foundation

#if FUZZING
/// libFuzzer's driver: parses libFuzzer's flags from argv and calls `callback` for every input.
@_extern(c, "LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt
#endif

@main
struct Replay {
    static func main() {
        #if FUZZING
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        // A closure, not `fuzzOneInput` itself: converting a `@_cdecl` function to a C function
        // pointer in another file makes the compiler emit its C symbol twice (a duplicate
        // `LLVMFuzzerTestOneInput` at link time).
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) })
        #else
        let arguments = CommandLine.arguments.dropFirst()
        guard !arguments.isEmpty else {
            print("usage: safetensors-fuzz FILE|DIRECTORY...  (replays inputs through the header parser)")
            exit(2)
        }
        for path in arguments.flatMap(inputFiles) {
            guard let data = FileManager.default.contents(atPath: path) else {
                print("\(path): unreadable")
                continue
            }
            let error = data.withUnsafeBytes { checkOneInput($0) }
            print("\(path): \(error.map { "rejected: \($0)" } ?? "accepted")")
        }
        #endif
    }

    /// The path itself, or the regular files directly inside it when it is a directory.
    private static func inputFiles(_ path: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue,
              let names = try? FileManager.default.contentsOfDirectory(atPath: path)
        else { return [path] }
        return names.sorted().map { (path as NSString).appendingPathComponent($0) }
    }
}
