"""Shared fixtures: the real recordings in ../shared/data/real and simulated chunks.

Outside CI a missing data folder or optional package skips; in CI (CI=true) it fails,
so a green CI run always exercised the codecs on real data.
"""
import os
from pathlib import Path

import numpy as np
import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
REAL = Path(os.environ.get("EPHYS_REAL_DATA", Path(__file__).resolve().parents[2] / "shared" / "data" / "real"))

# name -> (path relative to REAL, channels in the file, channels to keep)
REAL_FILES = {
    "np_ultra": ("spikeglx/p5_g0/p5_g0_imec0/p5_g0_t0.imec0.ap.bin", 385, 384),
    "np2": ("spikeglx/all_chan_g0/all_chan_g0_imec0/all_chan_g0_t0.imec0.ap.bin", 385, 384),
    "np1_noise": ("spikeglx/Noise4Sam_g0/Noise4Sam_g0_imec0/Noise4Sam_g0_t0.imec0.ap.bin", 385, 384),
    "np2_4shank": ("spikeglx/TEST_20210920_0_g0/TEST_20210920_0_g0_imec0/TEST_20210920_0_g0_t0.imec0.ap.bin",
                   385, 384),
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
