"""SZ3 (pysz) and ZFP (zfpy) at an absolute error bound, run in their own virtual environment:
zfpy 1.0.1.post0 beside numcodecs 0.16 breaks ``import numcodecs``, so this script imports
numpy only and is run as a subprocess by benchmarks/floats.py (``make float-peers`` builds the
environment).

    python benchmarks/error_bounded_peers.py chunk.npy 0.25,0.5,1

Prints one JSON list: per codec and bound, CR, the largest error over every sample, and the
encode / decode speeds (MB/s of the input, best of 3 passes); a codec that is not installed
is reported as missing.
"""

import json
import sys
import time

import numpy as np


def _best_time(fn, passes=3):
    best = float("inf")
    for _ in range(passes):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def sz3(x, bound):
    from pysz import sz, szConfig, szErrorBoundMode

    def run(data):
        config = szConfig(data.shape)
        config.errorBoundMode = szErrorBoundMode.ABS
        config.absErrorBound = bound
        enc_s, (packed, _) = _best_time(lambda: sz.compress(data, config))
        dec_s, (decoded, _) = _best_time(lambda: sz.decompress(packed, data.dtype, data.shape))
        return packed.nbytes, enc_s, dec_s, np.asarray(decoded).reshape(data.shape)

    # both orientations; the better one counts (SZ3 predicts along both axes, but not equally)
    runs = [run(np.ascontiguousarray(x)), run(np.ascontiguousarray(x.T))]
    nbytes, enc_s, dec_s, decoded = min(runs, key=lambda r: r[0])
    if decoded.shape != x.shape:
        decoded = decoded.T
    return nbytes, enc_s, dec_s, decoded


def zfp(x, bound):
    import zfpy

    data = np.ascontiguousarray(x)
    enc_s, packed = _best_time(lambda: zfpy.compress_numpy(data, tolerance=bound))
    dec_s, decoded = _best_time(lambda: zfpy.decompress_numpy(packed))
    return len(packed), enc_s, dec_s, decoded


def main(path, bounds):
    x = np.load(path)
    rows = []
    for name, fn in (("SZ3", sz3), ("ZFP", zfp)):
        for bound in bounds:
            try:
                nbytes, enc_s, dec_s, decoded = fn(x, bound)
            except ImportError as exc:
                rows.append(dict(codec=name, bound=bound, missing=str(exc)))
                continue
            error = float(np.abs(decoded.astype(np.float64) - x.astype(np.float64)).max())
            rows.append(
                dict(
                    codec=name,
                    bound=bound,
                    cr=x.nbytes / nbytes,
                    max_error=error,
                    encode_mbs=x.nbytes / enc_s / 1e6,
                    decode_mbs=x.nbytes / dec_s / 1e6,
                )
            )
    print(json.dumps(rows))


if __name__ == "__main__":
    main(sys.argv[1], [float(b) for b in sys.argv[2].split(",")])
