// dbbench — performance measurements for dbrender. Build and run in release mode:
//   swift run -c release dbbench kernels [--repetitions N]
import Foundation

let arguments = CommandLine.arguments.dropFirst()
let repetitions = arguments.firstIndex(of: "--repetitions").flatMap { i in
    arguments.index(after: i) < arguments.endIndex ? Int(arguments[arguments.index(after: i)]) : nil
} ?? 5

switch arguments.first {
case "kernels":
    KernelBenchmarks.run(repetitions: repetitions)
default:
    FileHandle.standardError.write("usage: dbbench kernels [--repetitions N]\n".data(using: .utf8)!)
    exit(2)
}
