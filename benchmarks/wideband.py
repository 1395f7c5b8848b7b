"""Wideband recordings: the raw signal of tetrodes, silicon probes and headstages (Intan and
the like) before any band-pass, where the low frequencies (LFP, movement, drift) dominate
the variance and the spikes and the amplifier noise ride on top.

The Neuropixels AP-band files of datasets.py are high-passed at 300 Hz: low-order predictors
suit them. A wideband trace has a steep spectrum (1/f below the amplifier's low-pass corner,
then the corner's roll-off), which high prediction orders follow; FLAC's and WavPack's high
modes are made for such signals. These recordings are simulated, from a seed: 4 to 32
channels at 15-30 kHz, standard deviation 500-3,000 LSB. Each channel is a mix of a 1/f
process shared by all channels (volume-conducted LFP, reference noise), a 1/f process of
its own, white amplifier noise and the spikes of a few units near it, all through the
headstage's anti-alias low-pass, rounded to int16.

The real Open Ephys LFP file also counts as wideband data here when it is taken as stored
(its values on the ~24.04-count grid, no LSB filter before the codec): its spectrum is
LFP, and its gappy value alphabet is what a user who does not know about LSB correction
hands the codec.
"""

from dataclasses import dataclass

import numpy as np

from .datasets import REAL, REAL_FILES, Recording


@dataclass(frozen=True)
class Wideband:
    """One simulated wideband recording's parameters."""

    n_channels: int
    fs: int
    std: float  # LSB, of the whole signal
    seed: int
    exponent: float = 2.0  # of the 1/f^exponent power spectrum below the low-pass
    shared: float = 0.7  # fraction of the 1/f variance common to all channels
    noise: float = 12.0  # white amplifier noise, LSB rms
    lowpass_hz: float = 7500.0  # the headstage's anti-alias corner (3rd-order roll-off)
    highpass_hz: float = 0.5  # the headstage's DC-blocking corner
    n_units: int = 6
    spike_lsb: float = 400.0  # peak amplitude of the largest unit

    @property
    def name(self):
        return f"wideband-{self.n_channels}ch-{self.fs // 1000}khz-std{int(self.std)}"


# 4 to 32 channels, 15-30 kHz, std 500-3,000 LSB: a tetrode with strong LFP, Intan-style
# headstages, a 20 kHz probe with a steeper spectrum, a quiet 15 kHz array
WIDEBAND = (
    Wideband(4, 30000, 2500.0, seed=41),
    Wideband(8, 20000, 1500.0, seed=42, exponent=1.6, lowpass_hz=6000.0),
    Wideband(16, 30000, 800.0, seed=43, noise=20.0, exponent=2.4),
    Wideband(32, 30000, 3000.0, seed=44, shared=0.85),
    Wideband(32, 15000, 500.0, seed=45, noise=8.0, lowpass_hz=5000.0, exponent=1.8),
)


def _spectral(rng, n, n_series, fs, exponent, highpass_hz, lowpass_hz):
    """n_series unit-variance Gaussian series of n samples whose power spectrum is
    1 / f^exponent between the two corners, 3rd-order roll-off above lowpass_hz."""
    f = np.fft.rfftfreq(n, 1.0 / fs)
    f[0] = f[1]
    amplitude = f ** (-exponent / 2) * (f / np.sqrt(f**2 + highpass_hz**2)) / np.sqrt(1 + (f / lowpass_hz) ** 6)
    amplitude[0] = 0
    spectrum = rng.standard_normal((n_series, len(f))) + 1j * rng.standard_normal((n_series, len(f)))
    x = np.fft.irfft(spectrum * amplitude, n=n, axis=1)
    return (x / x.std(axis=1, keepdims=True)).T


def _lowpassed_white(rng, n, n_series, fs, lowpass_hz):
    return _spectral(rng, n, n_series, fs, 0.0, 0.0, lowpass_hz)


def wideband_recording(spec, duration=1.0):
    """The simulated recording of spec, duration seconds long (int16)."""
    rng = np.random.default_rng(spec.seed)
    n, nc = int(duration * spec.fs), spec.n_channels
    shared = _spectral(rng, n, 1, spec.fs, spec.exponent, spec.highpass_hz, spec.lowpass_hz)
    own = _spectral(rng, n, nc, spec.fs, spec.exponent, spec.highpass_hz, spec.lowpass_hz)
    # each channel sees the shared process with its own gain (distance to the source)
    gains = rng.uniform(0.8, 1.2, nc)
    field = np.sqrt(spec.shared) * shared * gains + np.sqrt(1 - spec.shared) * own
    x = field * np.sqrt(max(spec.std**2 - spec.noise**2, 1.0))
    x += spec.noise * _lowpassed_white(rng, n, nc, spec.fs, spec.lowpass_hz)
    # units: biphasic spikes of ~1 ms on the channels near each unit, ~10 Hz each
    t = np.arange(int(-0.5e-3 * spec.fs), int(1.1e-3 * spec.fs)) / spec.fs
    wave = -np.exp(-((t / 2.2e-4) ** 2)) + 0.35 * np.exp(-(((t - 5e-4) / 4e-4) ** 2))
    for _ in range(spec.n_units):
        amp = spec.spike_lsb * rng.uniform(0.3, 1.0)
        footprint = amp * np.exp(-(((np.arange(nc) - rng.uniform(0, nc)) / max(nc / 8, 1.0)) ** 2))
        for s in np.flatnonzero(rng.random(n - len(t)) < 10.0 / spec.fs):
            x[s : s + len(t)] += wave[:, None] * footprint[None, :]
    traces = np.clip(np.round(x), -32768, 32767).astype(np.int16)
    return Recording(spec.name, traces, float(spec.fs), "simulated")


def openephys_lfp_as_stored():
    """The real Open Ephys LFP file's values as stored (no LSB filter), or None without it."""
    rel, n_file, keep, fs, uv = REAL_FILES["openephys-lfp"]
    path = REAL / rel
    if not path.exists():
        return None
    traces = np.fromfile(path, dtype="int16").reshape(-1, n_file)[:, :keep]
    return Recording("real-openephys-lfp-as-stored", np.ascontiguousarray(traces), fs, "real", uv)


def wideband_recordings(duration=1.0, real=True):
    """The simulated wideband recordings, then the Open Ephys LFP file as stored when present."""
    recs = [wideband_recording(spec, duration) for spec in WIDEBAND]
    lfp = openephys_lfp_as_stored() if real else None
    return recs + ([lfp] if lfp is not None else [])
