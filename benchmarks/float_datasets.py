"""Float recordings for the float tests and the float benchmark table, made from the real
int16 recordings (datasets.REAL) the way users get float data:

- ``scaled``: traces scaled to microvolts as float32 (SpikeInterface's scaled traces: int16
  times 2.34375 uV for NP Ultra, which lands exactly on a float32 grid; the Open Ephys LFP
  times its ``bit_volts`` 0.195, computed in float64 and rounded to float32, which lands on
  a grid only up to rounding);
- ``bandpass``: SpikeInterface's ``bandpass_filter`` (300-6000 Hz, ``dtype="float32"``) and
  global median ``common_reference`` of the scaled NP Ultra traces: float32 with no grid;
- ``near-grid``: grid values computed in float64 (a 10/32768 step with an offset), rounded
  to float32, and one sample in a hundred nudged off the grid by 1-3 ulps;
- ``centred``: the scaled NP Ultra traces with each channel's mean removed (DC removal,
  centring): a grid per channel, none for the block;
- ``channel-gains``: SpikeInterface's scaled traces with a gain_to_uV and offset_to_uV of
  each channel's own (calibrated gains within 1% of 2.34375 uV, offsets within +-50 uV),
  cast to float32 and applied in float32 as ``get_traces(return_in_uV=True)`` does;
- ``channel-offsets``: the 10-channel real recording's first 4 channels on the near-grid
  step, each channel with an offset of its own (within 0.18 of a step), in float64 then
  rounded to float32;
- float64 variants, special values (NaN payloads, +-0, infinities, subnormals) and short or
  few-channel chunks.

Every function returns a C-order (samples, channels) array, the same for the same
arguments, or None where the real files are absent.
"""

import numpy as np

from .datasets import REAL, REAL_FILES

NP_ULTRA_UV = 2.34375  # uV per int16 count of the NP Ultra (NP1100) AP band: 0.6 V / 1024 / 250 x 1000000
NEAR_GRID_STEP = 10 / 32768  # a 16-bit converter's step over +-5 units, as a float64
NEAR_GRID_OFFSET = 0.0371
NEAR_GRID_NUDGED = 0.01  # fraction of samples moved 1-3 ulps off the grid
BANDPASS_HZ = (300.0, 6000.0)


def real_int16(name):
    """The real recording ``name`` (datasets.REAL_FILES) as (samples, channels) int16, or None."""
    rel, n_file, keep, fs, _uv = REAL_FILES[name]
    path = REAL / rel
    if not path.exists():
        return None
    return np.ascontiguousarray(np.fromfile(path, dtype="int16").reshape(-1, n_file)[:, :keep]), fs


def openephys_bit_volts():
    """The LFP stream's uV per count as Open Ephys stores it (0.195 as a float32, in a JSON double)."""
    import json

    oebin = json.loads((REAL / "openephys" / "structure.oebin").read_text())
    stream = next(s for s in oebin["continuous"] if s["folder_name"].startswith("Neuropix-PXI-116.1"))
    return float(stream["channels"][0]["bit_volts"])


def scaled_np_ultra(dtype="float32"):
    """NP Ultra int16 x 2.34375 uV: exactly on a grid in float32 and float64."""
    got = real_int16("np-ultra")
    if got is None:
        return None
    return (got[0].astype(dtype) * np.dtype(dtype).type(NP_ULTRA_UV)).astype(dtype)


def scaled_lfp(dtype="float32"):
    """The Open Ephys LFP int16 x bit_volts, computed in float64 and rounded to dtype."""
    got = real_int16("openephys-lfp")
    if got is None:
        return None
    return (got[0].astype(np.float64) * openephys_bit_volts()).astype(dtype)


def bandpass(dtype="float32"):
    """Scaled NP Ultra traces band-passed 300-6000 Hz and common-referenced (global median),
    in float32 (as SpikeInterface gives them with ``dtype="float32"``), cast to dtype.

    SpikeInterface where installed; else the same filter design with scipy (Butterworth order
    5, second-order sections, forward and backward) and the median over channels."""
    scaled = scaled_np_ultra("float32")
    if scaled is None:
        return None
    fs = REAL_FILES["np-ultra"][3]
    try:
        import spikeinterface.preprocessing as spre
        from spikeinterface.core import NumpyRecording
    except ImportError:
        import scipy.signal

        sos = scipy.signal.butter(5, BANDPASS_HZ, btype="bandpass", fs=fs, output="sos")
        filtered = scipy.signal.sosfiltfilt(sos, scaled, axis=0).astype(np.float32)
        out = filtered - np.median(filtered, axis=1, keepdims=True).astype(np.float32)
    else:
        rec = NumpyRecording([scaled], sampling_frequency=fs)
        rec = spre.bandpass_filter(rec, freq_min=BANDPASS_HZ[0], freq_max=BANDPASS_HZ[1], dtype="float32")
        rec = spre.common_reference(rec, reference="global", operator="median")
        out = rec.get_traces()
    return np.ascontiguousarray(out.astype(dtype))


def near_grid(dtype="float32", n_channels=4, seed=25):
    """Grid values computed in float64 (k x 10/32768 + 0.0371, k from the 10-channel real
    recording), rounded to dtype; one sample in a hundred nudged 1-3 ulps off the grid."""
    got = real_int16("yass-10ch")
    if got is None:
        return None
    k = got[0][:, :n_channels].astype(np.float64)
    x = (k * NEAR_GRID_STEP + NEAR_GRID_OFFSET).astype(dtype)
    rng = np.random.default_rng(seed)
    nudged = rng.random(x.shape) < NEAR_GRID_NUDGED
    steps = rng.integers(1, 4, size=x.shape) * rng.choice([-1, 1], size=x.shape)
    uint = np.dtype(f"uint{8 * np.dtype(dtype).itemsize}")
    bits = x.view(uint)
    # moving the bit pattern by n moves a finite nonzero value by n ulps away from / towards 0
    bits[nudged] = (bits[nudged].astype(np.int64) + steps[nudged]).astype(uint)
    return np.ascontiguousarray(x)


def centred(dtype="float32"):
    """Scaled NP Ultra traces (dtype) minus each channel's mean (computed in dtype)."""
    x = scaled_np_ultra(dtype)
    if x is None:
        return None
    return np.ascontiguousarray(x - x.mean(axis=0, dtype=dtype).astype(dtype))


def channel_gains(dtype="float32", seed=26):
    """NP Ultra int16 counts x per-channel gains + per-channel offsets, gains and offsets cast
    to dtype and the arithmetic in dtype (SpikeInterface's scaled traces)."""
    got = real_int16("np-ultra")
    if got is None:
        return None
    k = got[0]
    rng = np.random.default_rng(seed)
    gains = np.round(NP_ULTRA_UV * (1 + rng.normal(0, 0.01, k.shape[1])), 6).astype(dtype)
    offsets = np.round(rng.uniform(-50, 50, k.shape[1]), 3).astype(dtype)
    return np.ascontiguousarray(k.astype(dtype) * gains + offsets)


def channel_offsets(dtype="float32", n_channels=4, seed=27):
    """k x 10/32768 + an offset of each channel's own within 0.18 of a step (k from the
    10-channel real recording), computed in float64 and rounded to dtype."""
    got = real_int16("yass-10ch")
    if got is None:
        return None
    k = got[0][:, :n_channels].astype(np.float64)
    rng = np.random.default_rng(seed)
    return np.ascontiguousarray(((k + rng.uniform(-0.18, 0.18, n_channels)) * NEAR_GRID_STEP).astype(dtype))


def special_values(dtype="float32", shape=(4000, 6), seed=7):
    """Noise in uV with every kind of special bit pattern scattered through it: quiet and
    signalling NaNs with payloads, +-inf, +-0, the smallest and largest subnormals and
    normals, and one all-NaN channel."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 10).astype(dtype)
    finfo = np.finfo(dtype)
    uint = np.dtype(f"uint{8 * finfo.bits // 8}")
    bits = finfo.bits
    mant = finfo.nmant
    quiet = np.array(((1 << (bits - 1)) - 1) ^ ((1 << (mant - 1)) - 1) ^ 0x5, dtype=uint)  # exp all ones, payload 5
    signalling = np.array((((1 << (bits - 1)) - 1) ^ ((1 << mant) - 1)) | 0x3, dtype=uint)
    specials = [
        quiet.view(dtype),
        (quiet | np.array(1 << (bits - 1), dtype=uint)).view(dtype),
        signalling.view(dtype),
        np.array(np.inf, dtype),
        np.array(-np.inf, dtype),
        np.array(0.0, dtype),
        np.array(-0.0, dtype),
        np.array(finfo.smallest_subnormal, dtype),
        np.array(-finfo.smallest_subnormal, dtype),
        np.array(finfo.smallest_normal - finfo.smallest_subnormal, dtype),
        np.array(finfo.smallest_normal, dtype),
        np.array(finfo.max, dtype),
        np.array(finfo.min, dtype),
    ]
    flat = x.reshape(-1)
    where = rng.choice(flat.size, size=len(specials) * 20, replace=False)
    for i, at in enumerate(where):
        flat[at] = specials[i % len(specials)]
    x[:, -1] = quiet.view(dtype)
    return x


def nan_gaps(dtype="float32"):
    """The scaled Open Ephys LFP traces with missing samples marked NaN, as float NWB data marks
    them: a fifth of the rows on every channel (a gap in the recording) and one dead channel."""
    x = scaled_lfp(dtype)
    if x is None:
        return None
    x = x.copy()
    x[len(x) // 3 : len(x) // 3 + len(x) // 5] = np.nan
    x[:, x.shape[1] // 2] = np.nan
    return x


def float_recordings(dtype="float32"):
    """name -> (samples, channels) array of every float case made from the real files (the
    ones whose files are present)."""
    makers = {
        "scaled-np-ultra": scaled_np_ultra,
        "scaled-lfp": scaled_lfp,
        "bandpass": bandpass,
        "near-grid": near_grid,
        "centred": centred,
        "channel-gains": channel_gains,
        "channel-offsets": channel_offsets,
        "nan-gaps": nan_gaps,
    }
    out = {}
    for name, make in makers.items():
        arr = make(dtype)
        if arr is not None:
            out[name] = arr
    return out
