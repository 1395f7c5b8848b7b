"""Honest timing: warm-up, several repeats, median; CR and error on the same chunks."""
import statistics
import time

import numpy as np
from numcodecs.compat import ensure_ndarray


def split(traces, chunk_samples):
    return [np.ascontiguousarray(traces[i:i + chunk_samples]) for i in range(0, len(traces), chunk_samples)]


def _median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(codec, recording, chunk_duration=1.0, repeats=3, filters=()):
    """Encode and decode a recording chunk by chunk; the first pass is the warm-up.

    Returns CR, speeds in MB/s and in x real time (recording duration / elapsed), and the
    RMS error in LSB (0 for lossless codecs, which are checked bit for bit here).
    """
    chunks = split(recording.traces, max(1, int(round(chunk_duration * recording.fs))))

    def encode_all():
        out = []
        for c in chunks:
            for f in filters:
                c = f.encode(c)
            out.append(codec.encode(c))
        return out

    def decode_all():
        out = []
        for e in encoded:
            d = codec.decode(e)
            for f in reversed(filters):
                d = f.decode(d)
            out.append(d)
        return out

    encoded = encode_all()
    decoded = decode_all()
    t_enc = _median_time(encode_all, repeats)
    t_dec = _median_time(decode_all, repeats)
    restored = np.concatenate([ensure_ndarray(d).view(c.dtype).reshape(c.shape) for d, c in zip(decoded, chunks)])
    err = restored.astype(np.float64) - recording.traces
    raw = recording.traces.nbytes
    stored = sum(len(memoryview(e).cast("B")) for e in encoded)
    mb = raw / 1e6
    return dict(
        cr=raw / stored,
        enc_mbs=mb / t_enc, dec_mbs=mb / t_dec,
        enc_xrt=recording.duration / t_enc, dec_xrt=recording.duration / t_dec,
        rmse=float(np.sqrt(np.mean(err ** 2))) if err.size else 0.0,
        exact=bool(not np.any(err)),
    )
