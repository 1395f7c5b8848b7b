"""Recordings to benchmark on: simulated probes (built in, from a seed), the real files,
and the paper's S3 datasets (see s3.py).

The simulated recordings are the embedded default of `make bench`: nothing to download.
Their noise is AR(1)-coloured in time, shared between neighbouring sites and partly
common to the probe (as in the real SpikeGLX files in ../shared/data/real), with spiking
units added and values clipped to the probe's ADC range. Noise levels are set so that
WavPack's CR lands near the paper's medians over its sessions (NP1 ~3.6, NP2 ~2.3): the
short real files beside the checkout are quieter than the paper's aind sessions. Values
are stored as Open Ephys stores them (the AIND data of the paper): each ADC step is 12
(NP1) or 3 (NP2) int16 counts of 0.195 uV, so "LSB correction" applies exactly as on the
paper's aind-np1 / aind-np2 sessions.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FS = 30000
REAL = Path(os.environ.get("EPHYS_REAL_DATA", Path(__file__).resolve().parents[2] / "shared" / "data" / "real"))


@dataclass
class Recording:
    name: str
    traces: np.ndarray  # (samples, channels) int16
    fs: float
    source: str  # "simulated", "real" or "s3"
    uv_per_count: float = 0.0  # microvolts per int16 count, 0 when unknown

    @property
    def duration(self):
        return self.traces.shape[0] / self.fs


# the simulated probes' noise and ADC: kind -> noise std (ADC steps), lag-1 autocorrelation of
# the local noise, common-mode variance fraction, uV per ADC step, ADC bits, int16 counts per
# ADC step in Open Ephys files
SIMULATED_PROBES = {
    "np1": dict(std=6.0, ar=0.5, common=0.08, uv_per_lsb=2.34, bits=10, grid=12),
    "np2": dict(std=45.0, ar=0.7, common=0.3, uv_per_lsb=0.76, bits=14, grid=3),
}


def _ar1(white, coef):
    """AR(1)-filter along time, normalised to unit variance."""
    out = np.empty_like(white)
    out[0] = white[0]
    for t in range(1, len(white)):
        out[t] = coef * out[t - 1] + white[t]
    return out * np.sqrt(1 - coef**2)


def simulated_recording(kind="np1", duration=2.0, n_channels=384, seed=0, n_units=40, rate_hz=6.0):
    p = SIMULATED_PROBES[kind]
    rng = np.random.default_rng(seed)
    n = int(duration * FS)
    local = _ar1(rng.standard_normal((n, n_channels)).astype(np.float32), p["ar"])
    # neighbouring sites share some noise (correlation ~0.3-0.5, as in the real files)
    local[:, 1:-1] = local[:, 1:-1] + 0.15 * (local[:, :-2] + local[:, 2:])
    local /= local.std()
    common = _ar1(rng.standard_normal((n, 1)).astype(np.float32), 0.9)
    x = p["std"] * (np.sqrt(1 - p["common"]) * local + np.sqrt(p["common"]) * common)
    # spiking units: biphasic waveforms of 1.6 ms spreading over ~10 sites
    t = np.arange(-16, 32) / FS
    wave = -np.exp(-((t / 2.2e-4) ** 2)) + 0.35 * np.exp(-(((t - 5e-4) / 4e-4) ** 2))
    sites = np.arange(n_channels)
    for _ in range(n_units):
        amp_uv = rng.uniform(40, 250)
        center = rng.uniform(0, n_channels)
        spatial = np.exp(-(((sites - center) / 3.0) ** 2))
        template = (amp_uv / p["uv_per_lsb"]) * wave[:, None] * spatial[None, :]
        times = np.flatnonzero(rng.random(n - len(t)) < rate_hz / FS)
        for s in times:
            x[s : s + len(t)] += template
    lim = 2 ** (p["bits"] - 1)
    adc = np.clip(np.round(x), -lim, lim - 1)
    return Recording(f"sim-{kind}", (adc * p["grid"]).astype(np.int16), FS, "simulated", 0.195)


# name -> (path under shared/data/real, channels in the file, channels kept, sampling rate, uV per count)
REAL_FILES = {
    "np-ultra": ("spikeglx/p5_g0/p5_g0_imec0/p5_g0_t0.imec0.ap.bin", 385, 384, 30000, 2.34),
    "np2": ("spikeglx/all_chan_g0/all_chan_g0_imec0/all_chan_g0_t0.imec0.ap.bin", 385, 384, 30000, 0.0),
    "np1-noise": ("spikeglx/Noise4Sam_g0/Noise4Sam_g0_imec0/Noise4Sam_g0_t0.imec0.ap.bin", 385, 384, 30000, 2.34),
    "yass-10ch": ("misc/yass_examples_neuropixel_10ch_30kHz.bin", 10, 10, 30000, 0.0),
    "openephys-lfp": ("openephys/Neuropix-PXI-116.1_continuous.dat", 384, 384, 2500, 0.195),
}


def real_recordings():
    """The short real recordings beside the checkout, if that folder exists."""
    out = []
    for name, (rel, n_file, keep, fs, uv) in REAL_FILES.items():
        path = REAL / rel
        if path.exists():
            traces = np.fromfile(path, dtype="int16").reshape(-1, n_file)[:, :keep]
            out.append(Recording(f"real-{name}", np.ascontiguousarray(traces), fs, "real", uv))
    return out


def probe_of(rec):
    """ "np1" or "np2" when the recording's name says which probe made it (the paper's figures
    are per probe), else None."""
    return "np2" if "np2" in rec.name else "np1" if ("np1" in rec.name or "ultra" in rec.name) else None


def on_adc_grid(rec):
    """The recording in ADC steps (exact for the simulated probes' integer grid).

    The lossy tables code ADC steps directly: a lossy codec placed after our LSB filter
    would alter the filter's header rows, so LSB correction is applied beforehand here,
    as the paper applied spikeinterface's correct_lsb to the recording."""
    grid = SIMULATED_PROBES[probe_of(rec)]["grid"] if rec.source == "simulated" else 1
    if grid == 1:
        return rec
    return Recording(rec.name, (rec.traces // grid).astype(np.int16), rec.fs, rec.source, rec.uv_per_count * grid)
