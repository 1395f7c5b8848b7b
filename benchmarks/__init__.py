"""Benchmark suite of numcodecs-ephys: datasets, codec cases, measurement, report."""

import os

# After each BLAS call (the simulator and the LSB estimate make some), numpy's OpenBLAS keeps
# its threads spinning for a while: measured here, the next multi-threaded decode ran at 60%
# speed. The benchmark needs no parallel BLAS, so it keeps BLAS on the calling thread: where
# numpy is not loaded yet, OpenBLAS starts no threads at all (idle, they still took ~3% of
# the CPU during EphysLPC's encoding); otherwise threadpoolctl limits them.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy  # noqa: E402, F401  (loads the BLAS library that threadpoolctl limits)
from threadpoolctl import threadpool_limits  # noqa: E402

threadpool_limits(limits=1, user_api="blas")
