// Scalars for TensorBoard (`tensorboard --logdir <logging_dir>`): one event file per training run,
// named as TensorFlow and PyTorch name theirs, appended to and flushed after every record so that a
// crash loses at most the record being written. A resumed run starts a new file beside the old ones;
// TensorBoard reads them all.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Appends scalar events to a new event file in a directory.
public final class TensorBoardWriter {
    public let url: URL
    private let handle: FileHandle

    /// Creates `directory` if needed and starts a file there with the version header event.
    /// - Parameters:
    ///   - writerName: recorded as the file's `source_metadata.writer`.
    ///   - wallTime: the header event's time (seconds since 1970); now by default.
    public init(directory: URL, writerName: String = "dbtrain", wallTime: Double = Date().timeIntervalSince1970) throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw TensorBoardFileError.unwritable(path: directory.path, reason: "\(error)")
        }
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        let hostname = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let name = String(format: "events.out.tfevents.%010d.%@.%d.0", Int(wallTime), hostname, getpid())
        url = directory.appendingPathComponent(name)
        guard FileManager.default.createFile(atPath: url.path, contents: nil),
              let handle = try? FileHandle(forWritingTo: url) else {
            throw TensorBoardFileError.unwritable(path: url.path, reason: "cannot create the file")
        }
        self.handle = handle
        try append(TensorBoardEvent(wallTime: wallTime, fileVersion: "brain.Event:2", writer: writerName))
    }

    deinit { try? handle.close() }

    /// One scalar at `step` (one event per scalar, as `SummaryWriter.add_scalar` writes).
    public func addScalar(_ tag: String, _ value: Float, step: Int, wallTime: Double = Date().timeIntervalSince1970) throws {
        try append(TensorBoardEvent(wallTime: wallTime, step: Int64(step), scalars: [(tag, value)]))
    }

    /// An image (PNG bytes) at `step`, shown under TensorBoard's Images tab.
    public func addImage(_ tag: String, png: [UInt8], width: Int, height: Int, step: Int,
                         wallTime: Double = Date().timeIntervalSince1970) throws {
        try append(TensorBoardEvent(wallTime: wallTime, step: Int64(step),
                                    images: [(tag, TensorBoardImage(width: width, height: height, png: png))]))
    }

    private func append(_ event: TensorBoardEvent) throws {
        do {
            try handle.write(contentsOf: TFRecord.frame(event.encoded))
        } catch {
            throw TensorBoardFileError.unwritable(path: url.path, reason: "\(error)")
        }
    }
}
