"""pytest-benchmark suite over the speed cases of the report's registry (cases.SPEED_CASES,
as asv), one 1 s chunk per case:

    .venv/bin/python -m pytest benchmarks/test_speed.py --benchmark-columns=median,ops

EPHYS_BENCH_SECONDS sets the chunk duration (the test suite runs it on 0.05 s).
"""

import os

import numpy as np
import pytest

from benchmarks import cases
from benchmarks.measure import decode_chain, encode_chain

CASES = cases.speed_cases()


@pytest.fixture(scope="module", params=["np1", "np2"])
def chunk(request):
    return cases.speed_chunk(request.param, float(os.environ.get("EPHYS_BENCH_SECONDS", 1.0)))


# as tests/conftest.py: a missing peer skips locally but fails in CI (CI=true)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _made(name):
    made = CASES[name].make()
    if made is None:
        (pytest.fail if IN_CI else pytest.skip)(f"{name} is not installed")
    return made


@pytest.mark.parametrize("name", sorted(CASES))
def test_encode(benchmark, chunk, name):
    codec, filters = _made(name)
    enc = benchmark(encode_chain, codec, filters, chunk)
    benchmark.extra_info["cr"] = chunk.nbytes / len(memoryview(enc).cast("B"))
    benchmark.extra_info["mb"] = chunk.nbytes / 1e6


@pytest.mark.parametrize("name", sorted(CASES))
def test_decode(benchmark, chunk, name):
    codec, filters = _made(name)
    out = benchmark(decode_chain, codec, filters, encode_chain(codec, filters, chunk))
    if "hybrid" not in name and "max_error" not in name:
        flat = (
            np.asarray(out).reshape(chunk.shape)
            if isinstance(out, np.ndarray)
            else np.frombuffer(memoryview(out).cast("B"), np.int16).reshape(chunk.shape)
        )
        assert np.array_equal(flat, chunk)
