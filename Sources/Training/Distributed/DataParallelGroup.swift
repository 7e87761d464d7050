// The processes that train one model together (`mpirun -np N dbtrain`), as the trainer sees them:
// each has a rank in 0..<size, trains on its own slice of every global batch, and sums gradients and
// statistics with the others before each optimizer step — so every rank holds the same parameters
// after every step. A single process is the group of one, where every operation is a no-op; the
// trainer has one code path for both. dbtrain's MPIProcessGroup is the implementation over MPI.
//
// How a global batch is split (DataParallelSlice) is fixed by rule, not by timing: the examples of
// a global batch of size·B go to the ranks in contiguous runs, and every random draw is made for the
// whole global batch and then sliced, so N ranks see exactly the data and noise one process with a
// batch of N·B would see.

/// A group of processes training one model.
public protocol DataParallelGroup: AnyObject {
    /// This process's place in the group, 0 ..< size. Rank 0 writes logs, checkpoints and models.
    var rank: Int { get }
    /// How many processes train together.
    var size: Int { get }
    /// Replaces `values` by its element-wise sum over the group (an allreduce), on every rank.
    func sum(_ values: UnsafeMutableBufferPointer<Float>)
    /// The element-wise sum of `values` over the group, on every rank.
    func sum(_ values: [Double]) -> [Double]
    /// Returns once every rank has called it.
    func barrier()
}

extension DataParallelGroup {
    /// True on the rank that writes files.
    public var isWriter: Bool { rank == 0 }
}

/// One process alone: every collective is the identity.
public final class SingleProcessGroup: DataParallelGroup {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func sum(_ values: UnsafeMutableBufferPointer<Float>) {}
    public func sum(_ values: [Double]) -> [Double] { values }
    public func barrier() {}
}

/// Which part of a global batch one rank trains on.
public struct DataParallelSlice: Equatable, Sendable {
    /// The positions, in the global batch's example list, of this rank's examples.
    public let examples: Range<Int>
    /// How many examples the global batch holds.
    public let globalCount: Int

    /// Rank `rank` of `size`, in a global batch of `globalCount` examples of which each rank takes at
    /// most `perRank` (train_batch_size): contiguous runs of `perRank`, so that a short last batch of
    /// an epoch leaves the last ranks with fewer examples, or none.
    public init(rank: Int, size: Int, perRank: Int, globalCount: Int) {
        precondition(0 <= rank && rank < size && perRank >= 1 && globalCount <= size * perRank,
                     "rank \(rank) of \(size), \(perRank) per rank, \(globalCount) examples")
        let lower = min(rank * perRank, globalCount)
        examples = lower..<min(lower + perRank, globalCount)
        self.globalCount = globalCount
    }

    /// The share of the global batch's mean loss this rank's mean stands for: the weight that makes
    /// the sum over ranks of (weight × local mean) the mean over the global batch.
    public var weight: Double { globalCount == 0 ? 0 : Double(examples.count) / Double(globalCount) }

    /// The rows of the global batch's tensors that belong to this rank: its examples, and with prior
    /// preservation their class images, which follow all instance rows (DreamBoothBatch's order).
    public func rows(priorPreservation: Bool) -> [Int] {
        Array(examples) + (priorPreservation ? examples.map { globalCount + $0 } : [])
    }
}
