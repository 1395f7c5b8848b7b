"""Benchmark suite of numcodecs-ephys: datasets, codec cases, measurement, report."""

import numpy  # noqa: F401  (loads the BLAS library that threadpoolctl limits)
from threadpoolctl import threadpool_limits

# After each BLAS call (the simulator and the LSB estimate make some), numpy's OpenBLAS keeps
# its threads spinning for a while: measured here, the next multi-threaded decode ran at 60%
# speed. The benchmark needs no parallel BLAS, so it keeps BLAS on the calling thread.
threadpool_limits(limits=1, user_api="blas")
