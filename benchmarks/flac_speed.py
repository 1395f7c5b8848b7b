"""FLAC speed: numcodecs_ephys.FLAC vs flac-numcodecs on one 1 s, 384-channel chunk.

The chunk is the NP Ultra real recording (5000 samples) tiled 6x along time (30000
samples). Prints MB/s of raw int16 data for encode and decode, best of a few runs, by
wall clock and, single-threaded, by this process's CPU time (steadier on a shared machine).
Usage: python benchmarks/flac_speed.py [repeats]
"""
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import load_real  # noqa: E402

from numcodecs_ephys import FLAC  # noqa: E402


def best(fn, repeats, clock=time.perf_counter):
    times = []
    for _ in range(repeats):
        t = clock()
        fn()
        times.append(clock() - t)
    return min(times)


def main(repeats=3):
    x = np.ascontiguousarray(np.tile(load_real("np_ultra"), (6, 1)))
    mb = x.nbytes / 1e6
    rows = []
    try:
        import flac_numcodecs
        peer = flac_numcodecs.Flac(level=5)
        enc = peer.encode(x)
        rows.append(("flac-numcodecs 0.1.2 (flattened)", x.nbytes / len(enc),
                     best(lambda: peer.encode(x), repeats), best(lambda: peer.decode(enc), repeats)))
        rows.append(("flac-numcodecs 0.1.2, CPU time", x.nbytes / len(enc),
                     best(lambda: peer.encode(x), repeats, time.process_time),
                     best(lambda: peer.decode(enc), repeats, time.process_time)))
    except ImportError:
        print("flac-numcodecs not installed: no peer row")
    for threads in (1, 2):
        c = FLAC(level=5, num_threads=threads)
        enc = c.encode(x)
        assert np.array_equal(c.decode(enc), x)
        rows.append((f"numcodecs_ephys.FLAC, {threads} thread(s)", x.nbytes / len(enc),
                     best(lambda: c.encode(x), repeats), best(lambda: c.decode(enc), repeats)))
        if threads == 1:
            rows.append(("numcodecs_ephys.FLAC, 1 thread, CPU time", x.nbytes / len(enc),
                         best(lambda: c.encode(x), repeats, time.process_time),
                         best(lambda: c.decode(enc), repeats, time.process_time)))
    print(f"chunk {x.shape} int16, {mb:.1f} MB")
    print(f"{'codec':40s} {'CR':>6s} {'enc MB/s':>9s} {'dec MB/s':>9s}")
    for name, cr, te, td in rows:
        print(f"{name:40s} {cr:6.3f} {mb / te:9.1f} {mb / td:9.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
