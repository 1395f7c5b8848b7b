"""Benchmark suite of numcodecs-ephys, in layers; a module imports only from layers below
its own (and peer_tables from tables):

- datasets, cases and measurement: datasets.py (simulated probes, real files), s3.py (the
  paper's sessions), ground_truth.py (simulated sorting ground truth), cases.py (codec
  cases and the sorting benchmark's settings), measure.py, hdf5_cases.py, sorting.py (sort
  and score), machine.py (machine and commit), output.py (printing, markdown, CSV);
- tables: tables.py, peer_tables.py, preprocessing.py, files.py, sorting_tables.py;
- figures (plotting only): figures.py;
- drivers: report.py (`make bench`), lossy.py (`make bench LOSSY=1`), doc_figures.py
  (`make figures`), and the speed suites asv_bench.py and test_speed.py.
"""

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
