"""Small deterministic float chunks for the float tests and fixtures (simulated: the real
recordings' float versions are benchmarks/float_datasets.py, used where the real files are)."""

import numpy as np

from conftest import simulated


def _bits(dtype):
    return np.dtype(f"uint{8 * np.dtype(dtype).itemsize}")


def specials(dtype):
    """Every kind of special bit pattern: NaNs with payloads (quiet, signalling, negative),
    +-inf, +-0, subnormals, the extreme normals."""
    finfo = np.finfo(dtype)
    u = _bits(dtype)
    bits, mant = finfo.bits, finfo.nmant
    exp_ones = ((1 << (bits - 1)) - 1) ^ ((1 << mant) - 1)
    sign = 1 << (bits - 1)
    patterns = [
        exp_ones | (1 << (mant - 1)) | 5,  # quiet NaN, payload 5
        exp_ones | 3,  # signalling NaN
        sign | exp_ones | (1 << (mant - 1)),  # negative quiet NaN
        exp_ones,  # +inf
        sign | exp_ones,  # -inf
        0,
        sign,  # -0.0
        1,  # smallest subnormal
        sign | ((1 << mant) - 1),  # largest negative subnormal
        1 << mant,  # smallest normal
        exp_ones - 1,  # largest normal
    ]
    return np.array(patterns, dtype=u).view(dtype)


def sprinkle(x, seed, every=97):
    """x with the special patterns written over one sample in `every`."""
    x = np.array(x, copy=True)
    flat = x.reshape(-1)
    sp = specials(x.dtype)
    rng = np.random.default_rng(seed)
    where = rng.choice(flat.size, size=max(1, flat.size // every), replace=False)
    flat[where] = sp[np.arange(where.size) % sp.size]
    return x


def on_grid(n, nc, dtype="float32", gain=0.195, offset=0.0, seed=0):
    """int16 traces x gain + offset computed in float64, rounded to dtype (scaled traces)."""
    return (simulated(n, nc, seed=seed).astype(np.float64) * gain + offset).astype(dtype)


def near_grid(n, nc, dtype="float32", seed=0, fraction=0.02):
    """On a 10/32768 grid with an offset, a fraction of the samples nudged 1-3 ulps off it."""
    x = on_grid(n, nc, dtype, gain=10 / 32768, offset=0.0371, seed=seed)
    rng = np.random.default_rng(seed + 1)
    bits = x.view(_bits(dtype))
    nudged = rng.random(x.shape) < fraction
    bits[nudged] += rng.integers(1, 4, size=int(nudged.sum())).astype(bits.dtype)
    return x


def gappy_grid(n, nc, dtype="float32", seed=0):
    """Open Ephys-like: converter levels 24.04 counts apart, counts of 0.195 as floats."""
    counts = np.round(simulated(n, nc, seed=seed, std=6.0) * 24.0385 + 0.9)
    return (counts * 0.195).astype(dtype)


def filtered(n, nc, dtype="float32", seed=0):
    """No grid: smoothed and common-referenced traces in floating point (filtered data)."""
    x = simulated(n, nc, seed=seed).astype(np.float64) * 2.34375
    y = np.empty_like(x)
    y[0] = x[0]
    for t in range(1, n):
        y[t] = 0.6 * y[t - 1] + 0.4 * x[t]
    y -= np.median(y, axis=1, keepdims=True)
    return (y / 3.7).astype(dtype)


def channel_offsets(n, nc, dtype="float32", seed=0):
    """A 10/32768 grid with an offset of each channel's own (up to 0.18 of a step around
    0.0371), computed in float64 and rounded to dtype: no grid is shared by the block."""
    rng = np.random.default_rng(seed)
    step = 10 / 32768
    k = simulated(n, nc, seed=seed).astype(np.float64)
    return ((k + rng.uniform(-0.18, 0.18, nc)) * step + 0.0371).astype(dtype)


def channel_gains(n, nc, dtype="float32", seed=0):
    """SpikeInterface's scaled traces: int16 counts times each channel's gain_to_uV plus its
    offset_to_uV, the gains and offsets cast to dtype and the arithmetic done in dtype (for
    float32, as ``get_traces(return_in_uV=True)`` does)."""
    rng = np.random.default_rng(seed)
    gains = np.round(0.195 * (1 + rng.normal(0, 0.01, nc)), 6).astype(dtype)
    offsets = np.round(rng.uniform(-50, 50, nc), 3).astype(dtype)
    return simulated(n, nc, seed=seed).astype(dtype) * gains + offsets


def calibrated_midscale(n, nc, dtype="float64", seed=0):
    """An unsigned converter's counts (uint16, mid-scale 32768) scaled to uV with a calibrated
    gain of each channel's own (no short decimal) and the offset -32768 x gain, in dtype
    (SpikeInterface's gain_to_uV / offset_to_uV for Intan's uint16 data): the subtraction
    of nearly equal terms rounds the values at 6,000 uV's ulp."""
    rng = np.random.default_rng(seed)
    gains = (0.195 * (1 + rng.normal(0, 0.01, nc))).astype(dtype)
    counts = (simulated(n, nc, seed=seed).astype(np.int64) + 32768).astype(dtype)
    return counts * gains - np.asarray(32768, dtype) * gains


def centred(n, nc, dtype="float32", seed=0):
    """Scaled traces (int16 x 2.34375) with each channel's mean removed, in dtype."""
    x = simulated(n, nc, seed=seed).astype(dtype) * np.dtype(dtype).type(2.34375)
    return x - x.mean(axis=0, dtype=dtype).astype(dtype)


def bit_patterns(n, nc, dtype="float32", seed=0):
    """Uniformly random bit patterns: every exponent, NaN payloads, subnormals."""
    rng = np.random.default_rng(seed)
    u = _bits(dtype)
    return rng.integers(0, np.iinfo(u).max, size=(n, nc), dtype=u, endpoint=True).view(dtype)


def fixture_arrays():
    """The float chunks frozen in tests/fixtures (make_fixtures._lpc): each mode of stream
    version 5 in float32 and float64 (grid with nudges and specials, gappy grid, split with
    specials), a Fortran-order one and a 1-D one."""
    return [
        sprinkle(near_grid(700, 5, "float32", seed=31), seed=31),
        gappy_grid(600, 4, "float32", seed=32),
        sprinkle(filtered(500, 4, "float32", seed=33), seed=33),
        sprinkle(on_grid(400, 3, "float64", gain=2.34375, offset=-0.5, seed=34), seed=34),
        sprinkle(filtered(300, 3, "float64", seed=35), seed=35),
        np.asfortranarray(filtered(300, 4, "float32", seed=36)),
        on_grid(400, 1, "float32", seed=37)[:, 0].copy(),
    ]


def channel_grid_fixture_arrays():
    """The chunks frozen for the channel grids mode (make_fixtures._lpc, arrays 19-21):
    per-channel gains and offsets in float32 arithmetic with specials, an all-NaN and a
    constant channel; per-channel offsets in float64; centred traces in Fortran order."""
    x = sprinkle(channel_gains(800, 6, "float32", seed=51), seed=51)
    x[:, 2] = np.nan
    x[:, 4] = 1.5
    return [x, channel_offsets(600, 5, "float64", seed=52), np.asfortranarray(centred(500, 4, "float32", seed=53))]


def incompressible(n, nc, dtype, seed):
    """Random bit patterns (NaN and infinities among them): nothing predicts them, so EphysLPC
    stores them as they are (float mode 5) rather than spend more bits than they hold."""
    bits = _bits(np.dtype(dtype))
    info = np.iinfo(bits)
    return np.random.default_rng(seed).integers(0, info.max, (n, nc), dtype=bits, endpoint=True).view(dtype)


def with_nan_gaps(x, seed=0):
    """x with a stretch of NaN on every channel (a gap in the recording) and one channel of
    NaN only (a dead channel), as float NWB data marks missing samples."""
    x = np.array(x)
    n = len(x)
    start = np.random.default_rng(seed).integers(0, n // 2)
    x[start : start + n // 5] = np.nan
    x[:, x.shape[1] // 2] = np.nan
    return x


def raw_fixture_arrays():
    """The chunks frozen for the raw mode (make_fixtures._lpc, arrays 22-23): random bits in
    float32 and float64, the second with a channel of NaN only."""
    y = incompressible(300, 5, "float64", seed=55)
    y[:, 1] = np.nan
    return [incompressible(700, 3, "float32", seed=54), y]


def repeat_fixture_arrays():
    """The chunk frozen for raw exceptions that repeat (make_fixtures._lpc, array 24): a
    float32 grid with a NaN gap and a channel of NaN."""
    return [with_nan_gaps(channel_gains(900, 5, "float32", seed=56), seed=56)]


def same_bits(a, b):
    """Bit-for-bit equality (NaN payloads, -0.0) of two float arrays of one shape."""
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a.view(_bits(a.dtype)), b.view(_bits(b.dtype)))


def within(decoded, original, bound):
    """Every finite sample within bound (checked in float64), every other one bit for bit."""
    d, o = np.asarray(decoded), np.asarray(original)
    finite = np.isfinite(o)
    if not np.array_equal(d[~finite].view(_bits(d.dtype)), o[~finite].view(_bits(o.dtype))):
        return False
    return bool(np.all(np.abs(d[finite].astype(np.float64) - o[finite].astype(np.float64)) <= bound))
