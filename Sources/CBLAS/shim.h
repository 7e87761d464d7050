// OpenBLAS's C interface. Debian installs it under openblas-pthread/, found by pkg-config `openblas`.
#include <cblas.h>
