// SHA-256 throughput (model fingerprints): the SHA-extension rounds against the portable rounds,
// both hashing the same 256 MiB buffer in memory (no I/O), in the same run.
import Foundation
import Weights

enum HashBenchmark {
    static func run(repetitions: Int) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 20, alignment: 64)
        defer { buffer.deallocate() }
        var state: UInt64 = 1
        for i in 0..<buffer.count { state = state &* 6364136223846793005 &+ 1442695040888963407; buffer[i] = UInt8(truncatingIfNeeded: state >> 33) }
        func seconds(hardware: Bool) -> Double {
            var times: [Double] = []
            for _ in 0..<repetitions {
                let start = DispatchTime.now().uptimeNanoseconds
                var hash = SHA256(allowHardware: hardware)
                hash.update(UnsafeRawBufferPointer(buffer))
                _ = hash.finalize()
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            return times.sorted()[times.count / 2]
        }
        let megabytes = Double(buffer.count) / 1e6
        let portable = seconds(hardware: false)
        print("SHA-256, 256 MiB in memory, median of \(repetitions)")
        print(String(format: "  portable rounds      %7.0f MB/s", megabytes / portable))
        if SHA256.usesHardware {
            let hardware = seconds(hardware: true)
            print(String(format: "  SHA extensions       %7.0f MB/s   (%.2f× the portable rounds)", megabytes / hardware, portable / hardware))
        } else {
            print("  SHA extensions       not on this CPU")
        }
    }
}
