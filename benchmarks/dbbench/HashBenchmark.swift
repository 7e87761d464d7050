// SHA-256 throughput (model fingerprints), hashing a 256 MiB buffer in memory (no I/O), against a
// baseline measured in the same run: one pass that reads every byte (a sum), the floor any hash pays.
import Foundation
import Weights

enum HashBenchmark {
    static func run(repetitions: Int) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 20, alignment: 64)
        defer { buffer.deallocate() }
        var state: UInt64 = 1
        for i in 0..<buffer.count { state = state &* 6364136223846793005 &+ 1442695040888963407; buffer[i] = UInt8(truncatingIfNeeded: state >> 33) }
        func median(_ body: () -> Void) -> Double {
            var times: [Double] = []
            for _ in 0..<repetitions {
                let start = DispatchTime.now().uptimeNanoseconds
                body()
                times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            return times.sorted()[times.count / 2]
        }
        var sink: UInt64 = 0
        let read = median {
            let words = buffer.bindMemory(to: UInt64.self)
            var sum: UInt64 = 0
            for word in words { sum &+= word }
            sink ^= sum
        }
        let hash = median {
            var sha = SHA256()
            sha.update(UnsafeRawBufferPointer(buffer))
            sink ^= UInt64(sha.finalize()[0])
        }
        let megabytes = Double(buffer.count) / 1e6
        print("SHA-256 (swift-crypto), 256 MiB in memory, median of \(repetitions)")
        print(String(format: "  read every byte      %7.0f MB/s", megabytes / read))
        print(String(format: "  SHA-256              %7.0f MB/s   (%.2f× the read's time)", megabytes / hash, hash / read))
        if sink == 42 { print("") }  // keeps the sums alive
    }
}
