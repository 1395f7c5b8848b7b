"""HDF5 rows of the benchmark: the same recordings written through h5py with gzip (the NWB
default), hdf5plugin's Zstd and Blosc (when hdf5plugin is installed) and our HDF5 filters.

Standalone: ``hdf5_rows(recordings)`` returns one dict per (recording, case) with CR and
write/read MB/s (raw bytes over wall time of ``create_dataset`` / ``dataset[()]`` on a file in
a temporary directory, median of ``repeats`` after a warm-up). ``python -m benchmarks.hdf5_cases``
prints them for the built-in simulated recording and the real files when present.
"""

import os
import tempfile

import numpy as np

from .measure import median_time


def hdf5_cases():
    """(name, family, factory) triples; a factory returns create_dataset kwargs, or None if unavailable."""

    def ours():
        import numcodecs_ephys.hdf5 as eh5

        return eh5

    def plugin(name, **kw):
        try:
            import hdf5plugin
        except ImportError:
            return None
        return dict(getattr(hdf5plugin, name)(**kw))

    cases = [
        ("h5-gzip-4", "gzip", lambda: dict(compression="gzip", compression_opts=4)),
        ("h5-shuffle-gzip-4", "gzip", lambda: dict(compression="gzip", compression_opts=4, shuffle=True)),
        ("h5-zstd-9 (hdf5plugin)", "zstd", lambda: plugin("Zstd", clevel=9)),
        (
            "h5-blosc-zstd-9-bit (hdf5plugin)",
            "blosc-zstd",
            lambda: plugin("Blosc", cname="zstd", clevel=9, shuffle=2),
        ),  # 2: bit shuffle
        ("h5-blosc-lz4-5-byte (hdf5plugin)", "blosc-lz4", lambda: plugin("Blosc", cname="lz4", clevel=5, shuffle=1)),
    ]
    for level in (1, 2, 3):
        cases.append((f"h5-wavpack-L{level}", "wavpack", lambda level=level: dict(ours().WavPackH5(level=level))))
    cases.append(("h5-wavpack-hybrid-3bps", "wavpack-hybrid", lambda: dict(ours().WavPackH5(bps=3))))
    cases.append(("h5-flac-5", "flac", lambda: dict(ours().FLACH5(level=5))))
    cases.append(("h5-lpc-2", "lpc", lambda: dict(ours().LPCH5(level=2))))
    return cases


def measure_hdf5(kwargs, traces, fs, chunk_duration=1.0, repeats=3, directory=None):
    """Write traces (samples, channels) as one chunked HDF5 dataset and read it back."""
    import h5py

    chunks = (min(len(traces), max(1, int(round(chunk_duration * fs)))), traces.shape[1])
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        path = os.path.join(tmp, "bench.h5")

        def write():
            with h5py.File(path, "w") as f:
                f.create_dataset("data", data=traces, chunks=chunks, **kwargs)

        def read():
            with h5py.File(path, "r") as f:
                return f["data"][()]

        write()
        restored = read()
        t_write = median_time(write, repeats)
        t_read = median_time(read, repeats)
        with h5py.File(path, "r") as f:
            stored = f["data"].id.get_storage_size()
    err = restored.astype(np.float64) - traces
    mb = traces.nbytes / 1e6
    return dict(
        cr=traces.nbytes / stored,
        write_mbs=mb / t_write,
        read_mbs=mb / t_read,
        rmse=float(np.sqrt(np.mean(err**2))),
        exact=bool(not np.any(err)),
    )


def hdf5_rows(recordings, chunk_duration=1.0, repeats=3, threads=None, directory=None):
    """One row per (recording, available case): recording, case, family, cr, write_mbs, read_mbs, rmse, exact."""
    try:
        import h5py  # noqa: F401
    except ImportError:
        return []
    import numcodecs_ephys

    rows = []
    previous = os.environ.get(numcodecs_ephys._threads.NUM_THREADS_ENV)
    numcodecs_ephys.set_num_threads(threads)  # the filter plugins take it from the process
    try:
        for name, family, factory in hdf5_cases():
            kwargs = factory()
            if kwargs is None:
                continue
            for rec in recordings:
                row = dict(recording=rec.name, case=name, family=family)
                row.update(measure_hdf5(kwargs, rec.traces, rec.fs, chunk_duration, repeats, directory))
                rows.append(row)
    finally:
        numcodecs_ephys.set_num_threads(None if previous is None else int(previous))
    return rows


def main():
    from .datasets import real_recordings, simulated_recording

    recordings = [simulated_recording("np1", duration=2.0)] + real_recordings()[:2]
    rows = hdf5_rows(recordings)
    print(f"{'recording':<18} {'case':<34} {'CR':>6} {'write MB/s':>11} {'read MB/s':>10}  exact")
    for r in rows:
        print(
            f"{r['recording']:<18} {r['case']:<34} {r['cr']:6.2f} {r['write_mbs']:11.1f} {r['read_mbs']:10.1f}  "
            f"{r['exact']}"
        )


if __name__ == "__main__":
    main()
