"""pytest-benchmark suite over the same cases as the report (one 1 s chunk per case):

    .venv/bin/python -m pytest benchmarks/test_speed.py --benchmark-columns=median,ops

EPHYS_BENCH_SECONDS sets the chunk duration (the test suite runs it on 0.05 s).
"""
import os

import numpy as np
import pytest

from benchmarks import cases as C
from benchmarks.datasets import simulated_recording

CASES = {
    "wavpack-medium": lambda: C.ours("wavpack", "medium", None),
    "wavpack-hybrid-3": lambda: (C.WavPack(bps=3), ()),
    "flac-medium": lambda: C.ours("flac", "medium", None),
    "blosc-zstd-high-bit": lambda: C.general_codec("blosc-zstd", "high", "bit"),
    "zstd-low-none": lambda: C.general_codec("zstd", "low", "none"),
    "delta2d-time+blosc-zstd": lambda: (C.general_codec("blosc-zstd", "medium", "bit")[0],
                                        C.delta_filter("2d-time", None)),
    "lpc-medium": lambda: C.lpc("medium"),
    "lpc-max_error-2": lambda: C.lpc("medium", max_error=2),
    "pcodec-8-channel-major": lambda: C.pcodec(8, "F"),
    "peer:wavpack-numcodecs-medium": lambda: C.peer("wavpack", "medium"),
    "peer:flac-numcodecs-medium": lambda: C.peer("flac", "medium"),
}


@pytest.fixture(scope="module", params=["np1", "np2"])
def chunk(request):
    rec = simulated_recording(request.param, float(os.environ.get("EPHYS_BENCH_SECONDS", 1.0)), 384, seed=1)
    return np.ascontiguousarray(rec.traces // (12 if request.param == "np1" else 3))


# as tests/conftest.py: a missing peer skips locally but fails in CI (CI=true)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _made(name):
    made = CASES[name]()
    if made is None:
        (pytest.fail if IN_CI else pytest.skip)(f"{name} is not installed")
    return made


def _encode(codec, filters, chunk):
    for f in filters:
        chunk = f.encode(chunk)
    return codec.encode(chunk)


def _decode(codec, filters, enc):
    d = codec.decode(enc)
    for f in reversed(filters):
        d = f.decode(d)
    return d


@pytest.mark.parametrize("name", sorted(CASES))
def test_encode(benchmark, chunk, name):
    codec, filters = _made(name)
    enc = benchmark(_encode, codec, filters, chunk)
    benchmark.extra_info["cr"] = chunk.nbytes / len(memoryview(enc).cast("B"))
    benchmark.extra_info["mb"] = chunk.nbytes / 1e6


@pytest.mark.parametrize("name", sorted(CASES))
def test_decode(benchmark, chunk, name):
    codec, filters = _made(name)
    enc = _encode(codec, filters, chunk)
    out = benchmark(_decode, codec, filters, enc)
    if "hybrid" not in name and "max_error" not in name:
        flat = np.asarray(out).reshape(chunk.shape) if isinstance(out, np.ndarray) \
            else np.frombuffer(memoryview(out).cast("B"), np.int16).reshape(chunk.shape)
        assert np.array_equal(flat, chunk)
