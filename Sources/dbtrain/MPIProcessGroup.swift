// The data-parallel group over MPI (Open MPI from Debian), for `mpirun -np N dbtrain --config …`.
// MPI is initialised only when the launcher says this process is one of several ranks (Open MPI's
// mpirun sets OMPI_COMM_WORLD_SIZE); plain `dbtrain` never touches MPI.
//
// A rank that fails exits with a non-zero status (CommandFailure) and mpirun then stops every other
// rank — none is left waiting in an allreduce. An MPI call that fails aborts the whole job with
// MPI_Abort for the same reason: a rank must never go on alone.
import CMPI
import Foundation
import Training

final class MPIProcessGroup: DataParallelGroup {
    let rank: Int
    let size: Int
    private let communicator = dbr_mpi_comm_world()
    /// Wall time spent in gradient allreduces (waiting for slower ranks included), and their count.
    private(set) var gradientSumSeconds = 0.0
    private(set) var gradientSums = 0

    /// The group when this process was started by mpirun with more than one rank, else nil.
    static func fromLauncher(environment: [String: String] = ProcessInfo.processInfo.environment) -> MPIProcessGroup? {
        guard let size = environment["OMPI_COMM_WORLD_SIZE"].flatMap(Int.init), size > 1 else { return nil }
        return MPIProcessGroup()
    }

    private init() {
        MPI_Init(nil, nil)
        var rank: Int32 = 0, size: Int32 = 0
        MPI_Comm_rank(dbr_mpi_comm_world(), &rank)
        MPI_Comm_size(dbr_mpi_comm_world(), &size)
        self.rank = Int(rank)
        self.size = Int(size)
    }

    /// Ends MPI; every rank calls it once training is done.
    func finish() { MPI_Finalize() }

    func sum(_ values: UnsafeMutableBufferPointer<Float>) {
        let start = MPI_Wtime()
        defer { gradientSumSeconds += MPI_Wtime() - start; gradientSums += 1 }
        // MPI counts are Int32: a buffer of more than 2^31 - 1 floats (8 GiB) goes in pieces.
        var offset = 0
        while offset < values.count {
            let count = min(values.count - offset, Int(Int32.max))
            check(MPI_Allreduce(dbr_mpi_in_place(), values.baseAddress! + offset, Int32(count), dbr_mpi_float(), dbr_mpi_sum(), communicator),
                  "MPI_Allreduce of \(count) gradients")
            offset += count
        }
    }

    func sum(_ values: [Double]) -> [Double] {
        var result = values
        result.withUnsafeMutableBufferPointer { buffer in
            check(MPI_Allreduce(dbr_mpi_in_place(), buffer.baseAddress, Int32(buffer.count), dbr_mpi_double(), dbr_mpi_sum(), communicator),
                  "MPI_Allreduce of \(buffer.count) statistics")
        }
        return result
    }

    func barrier() {
        check(MPI_Barrier(communicator), "MPI_Barrier")
    }

    private func check(_ status: Int32, _ what: String) {
        guard status != dbr_mpi_success() else { return }
        FileHandle.standardError.write(Data("dbtrain: rank \(rank): \(what) failed (MPI error \(status)); stopping every rank\n".utf8))
        MPI_Abort(communicator, 1)
    }
}
