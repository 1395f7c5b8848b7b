"""Honest timing: a warm-up pass, then timed passes (median), CR, error and peak memory.

Speeds: MB/s of raw int16 data, and x real time (recording duration / elapsed).
Peak memory: the largest rise of the process' resident memory over its level before the
pass, sampled every 2 ms on a side thread (catches C allocations, unlike tracemalloc);
freed memory is handed back to the system first (malloc_trim), so that a pass cannot
hide its peak in memory an earlier pass left to the allocator.
"""

import ctypes
import ctypes.util
import gc
import statistics
import threading
import time

import numpy as np
import psutil
from numcodecs.compat import ensure_ndarray


def encode_chain(codec, filters, chunk):
    """A chunk through the filters, then the codec (numcodecs' order)."""
    for f in filters:
        chunk = f.encode(chunk)
    return codec.encode(chunk)


def decode_chain(codec, filters, data):
    out = codec.decode(data)
    for f in reversed(filters):
        out = f.decode(out)
    return out


def split(traces, chunk_samples):
    return [np.ascontiguousarray(traces[i : i + chunk_samples]) for i in range(0, len(traces), chunk_samples)]


try:
    _LIBC = ctypes.CDLL(ctypes.util.find_library("c"))
    _malloc_trim = _LIBC.malloc_trim
except (OSError, AttributeError, TypeError):  # not glibc
    _malloc_trim = None


class PeakRSS:
    """Context manager: .peak is the highest RSS rise (bytes) seen while inside."""

    def __init__(self, interval=0.002):
        self.proc, self.interval, self.peak = psutil.Process(), interval, 0

    def __enter__(self):
        gc.collect()
        if _malloc_trim is not None:
            _malloc_trim(0)
        self.base = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss - self.base)
            time.sleep(self.interval)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss - self.base)


def median_time(fn, passes):
    """Median wall time of `passes` calls of fn."""
    times = []
    for _ in range(passes):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_times(codecs, chunk, passes):
    """Encode and decode times of each codec on one chunk, the codecs taking turns within
    each pass so that a slow spell of a shared machine falls on all of them alike.

    Returns the encoded chunks (after a warm-up pass) and {name: (encode times, decode times)}."""
    encoded = {name: codec.encode(chunk) for name, codec in codecs.items()}
    for name, codec in codecs.items():
        codec.decode(encoded[name])
    times = {name: ([], []) for name in codecs}
    for _ in range(passes):
        for name, codec in codecs.items():
            for fn, arg, into in ((codec.encode, chunk, times[name][0]), (codec.decode, encoded[name], times[name][1])):
                start = time.perf_counter()
                fn(arg)
                into.append(time.perf_counter() - start)
    return encoded, times


def _timed(fn, repeats, budget, warmup_time):
    """Median of up to `repeats` timed passes, stopping once past `budget` seconds; at least
    two, unless the warm-up pass alone took longer than the budget (slow codecs: one)."""
    times = []
    least = 1 if warmup_time > budget else 2
    while len(times) < max(least, repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        if len(times) >= least and sum(times) > budget:
            break
    return statistics.median(times), len(times)


def measure(codec, recording, chunk_duration=1.0, repeats=3, filters=(), budget=1.0):
    """Encode and decode a recording chunk by chunk through `filters` then `codec`.

    The first (warm-up) pass also yields the CR, the RMS error in LSB of the stored
    values (0 and exact=True for lossless chains, checked bit for bit) and peak memory.
    repeats=0: no timed pass; the speeds are those of the warm-up pass (timed_passes 0).
    """
    chunks = split(recording.traces, max(1, int(round(chunk_duration * recording.fs))))

    def encode_all():
        return [encode_chain(codec, filters, c) for c in chunks]

    def decode_all():
        return [decode_chain(codec, filters, e) for e in encoded]

    start = time.perf_counter()
    with PeakRSS() as enc_mem:
        encoded = encode_all()
    warm_enc = time.perf_counter() - start
    start = time.perf_counter()
    with PeakRSS() as dec_mem:
        decoded = decode_all()
    warm_dec = time.perf_counter() - start
    if repeats:
        t_enc, n_enc = _timed(encode_all, repeats, budget, warm_enc)
        t_dec, n_dec = _timed(decode_all, repeats, budget, warm_dec)
    else:
        (t_enc, n_enc), (t_dec, n_dec) = (warm_enc, 0), (warm_dec, 0)
    restored = np.concatenate([ensure_ndarray(d).view(c.dtype).reshape(c.shape) for d, c in zip(decoded, chunks)])
    exact = np.array_equal(restored, recording.traces)
    rmse = (
        0.0
        if exact or not restored.size
        else float(np.sqrt(np.mean(np.square(restored.astype(np.float32) - recording.traces), dtype=np.float64)))
    )
    max_abs_error = 0 if exact or not restored.size else int(np.abs(restored.astype(np.int64) - recording.traces).max())
    raw = recording.traces.nbytes
    stored = sum(len(memoryview(e).cast("B")) for e in encoded)
    mb = raw / 1e6
    return dict(
        cr=raw / stored,
        enc_mbs=mb / t_enc,
        dec_mbs=mb / t_dec,
        enc_xrt=recording.duration / t_enc,
        dec_xrt=recording.duration / t_dec,
        rmse=rmse,
        max_abs_error=max_abs_error,
        exact=bool(exact),
        enc_peak_mb=enc_mem.peak / 1e6,
        dec_peak_mb=dec_mem.peak / 1e6,
        timed_passes=min(n_enc, n_dec),
    )
