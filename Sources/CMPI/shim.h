// Open MPI's C interface (Debian: libopenmpi-dev, found by pkg-config `ompi-c`). Its handles
// (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, MPI_IN_PLACE) are macros over addresses of library globals,
// which Swift cannot import; these inline functions hand them over.
#include <mpi.h>

static inline MPI_Comm dbr_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype dbr_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype dbr_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Op dbr_mpi_sum(void) { return MPI_SUM; }
static inline void *dbr_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline int dbr_mpi_success(void) { return MPI_SUCCESS; }
