// The trainer's logs: TensorBoard event files byte-identical to PyTorch's SummaryWriter for the same
// scalars (fixture: Tests/Fixtures/training/scalars.tfevents from make_training_fixtures.py), damaged
// files rejected by their CRCs, and train_log.jsonl appended, read back and trimmed on resume.
import Foundation
import Testing
import TestSupport
@testable import Training

@Suite("Training: TensorBoard and JSONL logs")
struct TrainingLogsTests {
    static let eventFixture = Fixtures.directory.appendingPathComponent("training/scalars.tfevents")

    func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("dbtrain-logs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func crc32cCheckValue() {
        // The standard check value of CRC-32C, and RFC 3720's 32 zero bytes.
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
    }

    @Test("PyTorch's event file reads back as its scalars")
    func readsPyTorchFile() throws {
        let events = try readTensorBoardEvents(Self.eventFixture)
        let scalars = try #require(try Fixtures.open("training").file.metadata["scalars"])
        let expected = try #require(try JSONSerialization.jsonObject(with: Data(scalars.utf8)) as? [[Any]])
        #expect(events.count == expected.count + 1)
        #expect(events[0].fileVersion == "brain.Event:2")
        for (event, row) in zip(events.dropFirst(), expected) {
            #expect(event.scalars.first?.tag == row[0] as? String)
            #expect(event.scalars.first?.value == Float(try #require(row[1] as? Double)))
            #expect(event.step == Int64(try #require(row[2] as? Int)))
            #expect(event.wallTime == (row[3] as? Double))
        }
    }

    @Test("our writer produces PyTorch's bytes for the same scalars")
    func writesPyTorchBytes() throws {
        let reference = try Data(contentsOf: Self.eventFixture)
        let events = try readTensorBoardEvents(Self.eventFixture)
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let writer = try TensorBoardWriter(directory: directory, writerName: try #require(events[0].writer),
                                           wallTime: events[0].wallTime)
        for event in events.dropFirst() {
            let scalar = try #require(event.scalars.first)
            try writer.addScalar(scalar.tag, scalar.value, step: Int(event.step), wallTime: event.wallTime)
        }
        #expect(try Data(contentsOf: writer.url) == reference)
        #expect(writer.url.lastPathComponent.hasPrefix("events.out.tfevents."))
    }

    @Test("an image event round-trips: tag, size and PNG bytes")
    func imageEvent() throws {
        let event = TensorBoardEvent(wallTime: 1.5, step: 7, images: [("validation/0", TensorBoardImage(width: 3, height: 2, png: [0x89, 0x50, 1, 2, 3]))])
        let decoded = try TensorBoardEvent(decoding: event.encoded)
        #expect(decoded == event)
        // It frames as one TFRecord with valid checksums.
        #expect(try TFRecord.records(TFRecord.frame(event.encoded)).count == 1)
    }

    @Test("a damaged event file is rejected by its checksums, a cut one as truncated")
    func damagedFiles() throws {
        var bytes = [UInt8](try Data(contentsOf: Self.eventFixture))
        #expect(throws: TensorBoardFileError.truncated(offset: 0)) { try TFRecord.records(Array(bytes.prefix(10))) }
        let firstLength = Int(bytes[0]) + 16
        #expect(throws: TensorBoardFileError.truncated(offset: firstLength)) { try TFRecord.records(Array(bytes.prefix(firstLength + 20))) }
        bytes[20] ^= 0x01 // inside the first record's data
        #expect(throws: TensorBoardFileError.badChecksum(offset: 0)) { try TFRecord.records(bytes) }
    }

    @Test("train_log.jsonl: one object per step with every key; resuming drops the later steps")
    func jsonLog() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("train_log.jsonl")
        let log = try TrainingLog(url: url)
        for step in 1...5 {
            try log.append(TrainingLogEntry(step: step, loss: 0.1 * Double(step), priorLoss: step == 3 ? nil : 0.05,
                                            lr: 5e-6, gradNorm: 0.5, seconds: 1.25))
        }
        let lines = String(decoding: try Data(contentsOf: url), as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 5)
        #expect(lines[0] == #"{"grad_norm":0.5,"loss":0.1,"lr":5e-06,"prior_loss":0.05,"seconds":1.25,"step":1}"#)
        #expect(lines[2].contains(#""prior_loss":null"#))
        // A crash mid-line: the partial line ends the history, and resuming from step 3 keeps 1…3.
        let handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"step":6,"lo"#.utf8))
        try handle.close()
        #expect(try TrainingLog.read(url).map(\.step) == [1, 2, 3, 4, 5])
        let resumed = try TrainingLog(url: url, resumingAfter: 3)
        try resumed.append(TrainingLogEntry(step: 4, loss: 9, priorLoss: nil, lr: 1, gradNorm: 1, seconds: 1))
        #expect(try TrainingLog.read(url).map(\.step) == [1, 2, 3, 4])
        #expect(try TrainingLog.read(url).last?.loss == 9)
    }
}
