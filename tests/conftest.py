"""Shared fixtures: the real recordings in ../shared/data/real and simulated chunks.

Outside CI a missing data folder or optional package skips; in CI (CI=true) it fails,
so a green CI run always exercised the codecs on real data. Also the helpers that many test
modules share: optional imports, a fresh interpreter, a local S3 server, and the one check
that a decoder gives the right data or a ValueError.
"""

import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"  # every committed fixture; tests/fixtures/make_fixtures.py writes them
REAL = Path(os.environ.get("EPHYS_REAL_DATA", Path(__file__).resolve().parents[2] / "shared" / "data" / "real"))

# name -> (path relative to REAL, channels in the file, channels to keep)
REAL_FILES = {
    "np_ultra": ("spikeglx/p5_g0/p5_g0_imec0/p5_g0_t0.imec0.ap.bin", 385, 384),
    "np2": ("spikeglx/all_chan_g0/all_chan_g0_imec0/all_chan_g0_t0.imec0.ap.bin", 385, 384),
    "np1_noise": ("spikeglx/Noise4Sam_g0/Noise4Sam_g0_imec0/Noise4Sam_g0_t0.imec0.ap.bin", 385, 384),
    "np2_4shank": ("spikeglx/TEST_20210920_0_g0/TEST_20210920_0_g0_imec0/TEST_20210920_0_g0_t0.imec0.ap.bin", 385, 384),
    "openephys_lfp": ("openephys/Neuropix-PXI-116.1_continuous.dat", 384, 384),
    "yass_10ch": ("misc/yass_examples_neuropixel_10ch_30kHz.bin", 10, 10),
}


def unavailable(reason):
    """Skip locally, fail in CI: a CI run must never silently skip the codecs."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: required)")
    pytest.skip(reason)


def load_real(name):
    rel, n_in_file, keep = REAL_FILES[name]
    path = REAL / rel
    if not path.exists():
        unavailable(f"real recording {path} not found")
    return np.ascontiguousarray(np.fromfile(path, dtype="int16").reshape(-1, n_in_file)[:, :keep])


@pytest.fixture(params=sorted(REAL_FILES))
def real_recording(request):
    """Each real recording as an int16 (samples, channels) array, sync channel dropped."""
    return request.param, load_real(request.param)


def simulated(n_samples=3000, n_channels=64, seed=0, dtype="int16", std=20.0):
    """Correlated noise with an AR(1) spectrum: predictable enough to exercise prediction."""
    rng = np.random.default_rng(seed)
    white = rng.normal(size=(n_samples, n_channels))
    x = np.empty_like(white)
    x[0] = white[0]
    for t in range(1, n_samples):
        x[t] = 0.8 * x[t - 1] + white[t]
    common = x.mean(axis=1, keepdims=True)
    return np.round((0.7 * x + 0.3 * common) * std).astype(dtype)


def require(module):
    """Import an optional package, or skip (locally) / fail (CI)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        unavailable(f"{module} is not installed ({exc})")


# As if the peers were not installed: their modules cannot be imported and their entry
# points (which also claim the ids "wavpack" and "flac") are not seen by numcodecs/zarr.
BLOCK_PEERS = """
import sys, importlib.metadata as _md
_PEERS = ("wavpack_numcodecs", "flac_numcodecs")
for _m in _PEERS:
    sys.modules[_m] = None
_entry_points = _md.entry_points
def _without_peers(**params):
    dists = _md._unique(_md.distributions()) if hasattr(_md, "_unique") else _md.distributions()
    eps = _md.EntryPoints(e for d in dists for e in d.entry_points
                          if e.value.split(":")[0].split(".")[0] not in _PEERS)
    return eps.select(**params) if params else eps
_md.entry_points = _without_peers
"""


def run_python(code, *args, env=None, cwd=None, timeout=300, block_peers=True):
    """Run code (dedented) in a new interpreter, args in sys.argv[1:]; the finished process.
    env: the child's whole environment (default: ours). The peers are blocked (BLOCK_PEERS)
    unless block_peers=False: what the child reads, numcodecs_ephys alone must decode."""
    code = (BLOCK_PEERS if block_peers else "") + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout
    )


def fresh_python(code, *args, **kwargs):
    """run_python that must succeed; its stdout."""
    proc = run_python(code, *args, **kwargs)
    if proc.returncode:
        raise AssertionError(f"fresh process failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


@pytest.fixture
def s3_endpoint(monkeypatch):
    """The URL of a local S3 server (moto), with test credentials in the environment."""
    require("s3fs")
    moto_server = require("moto.server")
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(k, v)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(s3_endpoint, monkeypatch):
    """An fsspec S3 filesystem on the local S3 server, with an empty bucket 'lab'; every fsspec
    URL of the test (zarr's too) goes to that server through AWS_ENDPOINT_URL."""
    import s3fs

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    s3fs.S3FileSystem.clear_instance_cache()  # an instance cached by an earlier test knows another port
    fs = s3fs.S3FileSystem()
    if fs.exists("lab"):  # moto keeps its buckets for the whole process, across servers
        fs.rm("lab", recursive=True)
    fs.mkdir("lab")
    yield fs
    s3fs.S3FileSystem.clear_instance_cache()


def decode_or_valueerror(codec, data, expected=None):
    """Decode any bytes: a ValueError, or an array; with expected (what the intact chunk
    decodes to), an array must hold exactly those values."""
    try:
        out = codec.decode(data)
    except ValueError:
        return None
    out = np.asarray(out)
    if expected is not None:  # a size that differs fails the reshape: that is wrong data too
        np.testing.assert_array_equal(out.reshape(expected.shape), expected, err_msg="wrong data without an error")
    return out
