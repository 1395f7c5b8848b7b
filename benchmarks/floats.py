"""The float table: EphysLPC on float32 recordings made from the real files
(float_datasets.py: scaled traces, band-passed, near-grid) against pcodec 12 (channel-major),
zlib 9, blosc zstd bitshuffle and WavPack's float mode, losslessly; and with an absolute
error bound on the band-passed traces, against quantizing first and then EphysLPC, and
against SZ3 and ZFP, which run from their own environment (error_bounded_peers.py; built by
``make float-peers``, printed as missing without it). One chunk per recording, one run:
CR = raw bytes / stored bytes, speeds in MB/s of float32 input (best of the passes)."""

import json
import os
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

from numcodecs_ephys import EphysLPC, WavPack

from . import float_datasets

BOUNDS = (0.25, 0.5, 1.0)  # uV: a tenth to half of the NP Ultra probe's 2.34 uV step
# the environment with pysz and zfpy (make float-peers); EPHYS_FLOAT_PEERS_PYTHON overrides
PEERS_PYTHON = os.environ.get(
    "EPHYS_FLOAT_PEERS_PYTHON", str(Path(__file__).resolve().parents[1] / ".venv-float-peers" / "bin" / "python")
)


class _Zlib:
    def encode(self, x):
        return zlib.compress(np.ascontiguousarray(x).tobytes(), 9)

    def decode(self, b):
        return zlib.decompress(b)


class _ChannelMajor:
    """A numcodecs codec given each channel's samples in a row, as a Fortran-order zarr
    array hands them over (pcodec's best case)."""

    def __init__(self, codec):
        self.codec = codec

    def encode(self, x):
        return self.codec.encode(np.ascontiguousarray(x.T))

    def decode(self, b):
        return self.codec.decode(b)


def lossless_codecs(threads):
    from numcodecs import Blosc

    codecs = {
        "EphysLPC": EphysLPC(num_threads=threads),
        "zlib 9": _Zlib(),
        "blosc zstd bitshuffle": Blosc("zstd", 5, Blosc.BITSHUFFLE),
        "WavPack float": WavPack(num_threads=threads),
    }
    try:
        from numcodecs.pcodec import PCodec

        codecs["pcodec 12"] = _ChannelMajor(PCodec(level=12))
    except ImportError:
        pass
    return codecs


def _timed(fn, passes):
    best, out = float("inf"), None
    for _ in range(passes):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def measure(codec, x, passes):
    enc_s, packed = _timed(lambda: codec.encode(x), passes)
    nbytes = len(memoryview(packed).cast("B")) if not isinstance(packed, bytes) else len(packed)
    dec_s, decoded = _timed(lambda: codec.decode(packed), passes)
    return dict(cr=x.nbytes / nbytes, encode_mbs=x.nbytes / enc_s / 1e6, decode_mbs=x.nbytes / dec_s / 1e6), decoded


def error_bounded_peers(x, bounds):
    """SZ3 and ZFP rows from their environment, or rows saying why they are missing."""
    if not Path(PEERS_PYTHON).exists():
        why = f"no {PEERS_PYTHON}: make float-peers"
        return [dict(codec=c, bound=b, missing=why) for c in ("SZ3", "ZFP") for b in bounds]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chunk.npy"
        np.save(path, x)
        script = Path(__file__).with_name("error_bounded_peers.py")
        done = subprocess.run(
            [PEERS_PYTHON, str(script), str(path), ",".join(map(str, bounds))], capture_output=True, text=True
        )
    if done.returncode:
        return [dict(codec=c, bound=b, missing=done.stderr.strip()[-200:]) for c in ("SZ3", "ZFP") for b in bounds]
    return json.loads(done.stdout)


def float_table(run, passes=3):
    recs = float_datasets.float_recordings("float32")
    if not recs:
        run.tables.note("\n(float table: the real recordings are absent)")
        return
    codecs = lossless_codecs(run.threads)
    rows = []
    for name, x in recs.items():
        best_peer = 0.0
        for cname, codec in codecs.items():
            got, decoded = measure(codec, x, passes)
            if cname == "EphysLPC":
                assert np.asarray(decoded).view(np.uint32).tobytes() == x.view(np.uint32).tobytes(), name
            else:
                best_peer = max(best_peer, got["cr"]) if cname in ("pcodec 12", "WavPack float") else best_peer
            rows.append(dict(table="float lossless", dataset=name, codec=cname, **got))
        ours = next(r for r in rows if r["dataset"] == name and r["codec"] == "EphysLPC")
        ours["x_best_of_pcodec_wavpack"] = ours["cr"] / best_peer if best_peer else float("nan")
    run.rows.extend(rows)
    run.tables.show(
        f"Float32 chunks, lossless: EphysLPC against pcodec 12 (channel-major), zlib 9, blosc zstd bitshuffle and "
        f"WavPack's float mode; one chunk per recording, best of {passes} passes, {run.threads} thread(s) for ours",
        rows,
        [
            ("dataset", "data"),
            ("codec", "codec"),
            ("cr", "CR"),
            ("encode_mbs", "enc MB/s"),
            ("decode_mbs", "dec MB/s"),
            ("x_best_of_pcodec_wavpack", "CR / best of pcodec, WavPack"),
        ],
        floatfmt=".4g",
    )
    if "bandpass" in recs:
        bounded_rows(run, recs["bandpass"], passes)


def bounded_rows(run, x, passes):
    rows = []
    for bound in BOUNDS:
        got, decoded = measure(EphysLPC(max_error=bound, num_threads=run.threads), x, passes)
        error = float(np.abs(np.asarray(decoded).astype(np.float64) - x).max())
        assert error <= bound, (bound, error)
        rows.append(dict(table="float bounded", codec="EphysLPC max_error", bound=bound, max_error=error, **got))
        two_step = EphysLPC(num_threads=run.threads)
        quantized = np.round(x / (2 * bound)).astype(np.int16)
        got, _ = measure(two_step, quantized, passes)
        got["cr"] = x.nbytes / len(two_step.encode(quantized))
        rows.append(dict(table="float bounded", codec="quantize, then EphysLPC", bound=bound, max_error=bound, **got))
    for r in error_bounded_peers(x, BOUNDS):
        rows.append(dict(table="float bounded", **r))
    for r in rows:
        ours = next(o["cr"] for o in rows if o["bound"] == r["bound"] and o["codec"] == "EphysLPC max_error")
        r["ours_x"] = ours / r["cr"] if r.get("cr") else float("nan")
        r.setdefault("missing", "")
    run.rows.extend(rows)
    run.tables.show(
        "Band-passed float32 traces (uV) with an absolute error bound: EphysLPC's max_error against quantizing in "
        "steps of twice the bound then EphysLPC, SZ3 (ABS) and ZFP (tolerance) from their own environment; max error "
        "over every sample",
        rows,
        [
            ("bound", "bound uV"),
            ("codec", "codec"),
            ("cr", "CR"),
            ("max_error", "max error"),
            ("encode_mbs", "enc MB/s"),
            ("decode_mbs", "dec MB/s"),
            ("ours_x", "ours / this"),
            ("missing", "missing"),
        ],
        floatfmt=".4g",
    )


def main(argv=None):
    """python -m benchmarks.floats: the float table alone."""
    from .output import Tables

    class _Run:
        threads = 1
        rows: list = []
        tables = Tables()

    float_table(_Run(), passes=int(argv[0]) if argv else 3)


if __name__ == "__main__":
    main(sys.argv[1:])
