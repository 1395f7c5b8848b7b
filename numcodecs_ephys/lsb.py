"""LSB filter: lossless mapping of samples onto their ADC grid (offset + k * step).

Open Ephys stores each ADC step as a non-integer number (~24.04 for Neuropixels LFP,
12 or 3 for AP) of 0.195 uV units, so int16 values sit on a sparse grid that
compressors cannot exploit. This filter replaces every sample by its grid index k,
which is what the ADC produced, and keeps enough in the chunk to return the original
values exactly (see csrc/lsb.c).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from . import _filters as F
from ._codec import ConfigCodec
from ._filters import ffi, lib

SUPPORTED_DTYPES = (np.dtype("int16"), np.dtype("int32"))
MAX_STEP = float(lib.EPHYS_LSB_MAX_STEP)  # the C kernel's limits (csrc/lsb.h)
MAX_OFFSET = float(lib.EPHYS_LSB_MAX_OFFSET)


def _validate_params(name, value, lo, hi):
    """A number, or a non-empty list of numbers, each finite and in [lo, hi]; as float(s)."""
    scalar = not isinstance(value, (list, tuple, np.ndarray))
    values = [value] if scalar else list(value)
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                or not math.isfinite(float(v)) or not lo <= float(v) <= hi:
            raise ValueError(f"{name} must be a number or a non-empty list of numbers in [{lo}, {hi}], "
                             f"got {value!r}")
        out.append(float(v))
    if not out:
        raise ValueError(f"{name} must not be empty")
    return out[0] if scalar else out


class LSB(ConfigCodec):
    """Lossless LSB correction: int16/int32 samples -> grid index k = round((x - offset) / step).

    Parameters
    ----------
    offsets, steps : float or list of float
        The grid of each channel (one value for all channels, or one per channel:
        per flattened channel axis for N-D chunks). ``step`` from 1 to 2**24, need not
        be an integer. Estimate them once with :meth:`from_data` / :meth:`from_recording`
        (or :func:`estimate_lsb`) and use the same filter for every chunk.
    num_threads : int or None
        C threads (None = all cores); the output does not depend on it.

    Decoding reconstructs r(k) = offset + k * step, computed in IEEE double without
    fused multiply-add, rounded half away from zero and saturated to the dtype, then
    adds a per-chunk correction for each (channel, k) where the data is not exactly on
    that rule (real Open Ephys files are only approximately on it), and finally
    restores escaped samples (whose k would not fit the dtype). The chunk records a
    hash of the parameters: decoding with other parameters raises ValueError.
    The encoded array has the input dtype and channel axes: a few header rows, the
    correction table rows (none when the data is exactly on the grid), the k samples,
    and the escape rows (16 bytes per escaped sample; normally none).
    """

    codec_id = "ephys_lsb"

    def __init__(self, offsets: float | Sequence[float] = 0.0, steps: float | Sequence[float] = 1.0,
                 num_threads: int | None = None) -> None:
        self.offsets = _validate_params("offsets", offsets, -MAX_OFFSET, MAX_OFFSET)
        self.steps = _validate_params("steps", steps, 1.0, MAX_STEP)
        self.num_threads = F.validate_num_threads(num_threads)
        self._cache: dict[int, tuple] = {}  # per-channel cffi arrays of the last channel count

    @classmethod
    def from_data(cls, data, num_threads: int | None = None, **kwargs) -> LSB:
        """A filter with offsets and steps estimated from a (samples, channels) array."""
        offsets, steps = estimate_lsb(data, **kwargs)
        return cls(offsets=offsets.tolist(), steps=steps.tolist(), num_threads=num_threads)

    @classmethod
    def from_recording(cls, recording, num_threads: int | None = None, **kwargs) -> LSB:
        """A filter with offsets and steps estimated from a SpikeInterface recording."""
        return cls.from_data(recording, num_threads=num_threads, **kwargs)

    def _params(self, n):
        """Per-channel cffi arrays for a chunk of n channels (checked)."""
        if n not in self._cache:
            arrays = []
            for name, value in (("offsets", self.offsets), ("steps", self.steps)):
                if isinstance(value, list):
                    if len(value) != n:
                        raise ValueError(f"LSB has {len(value)} {name} but the chunk has {n} channels")
                    arrays.append(ffi.new("double[]", value))
                else:
                    arrays.append(ffi.new("double[]", [value] * n))
            self._cache = {n: tuple(arrays)}
        return self._cache[n]

    def encode(self, buf):
        arr, order = F.as_input(buf, "LSB", SUPPORTED_DTYPES)
        n = F.n_channels(arr.shape)
        offsets, steps = self._params(n)
        shape = ffi.new("uint64_t[]", list(arr.shape) or [0])
        out_pp, out_len, n_esc = ffi.new("uint8_t **"), ffi.new("size_t *"), ffi.new("uint64_t *")
        F.check(lib.ephys_lsb_encode(ffi.from_buffer(arr), arr.nbytes, arr.itemsize, arr.ndim, shape,
                                     offsets, steps, n, F.threads(self.num_threads), out_pp, out_len, n_esc),
                "LSB encoding failed")
        # the C buffer becomes the array's memory (no copy); freed with the array
        owned = ffi.gc(out_pp[0], lib.ephys_free, size=out_len[0])
        F.seal(owned, out_len[0], order, arr)
        return F.encoded_array(ffi.buffer(owned, out_len[0]), arr.dtype, arr.shape)

    @staticmethod
    def escapes(buf):
        """How many samples of an encoded chunk are stored as escapes (off the grid, or with
        a grid index the dtype cannot hold): read from its header."""
        info, _, _ = F.parse(buf, lib.EPHYS_FILTER_LSB, "LSB")
        return int(info.n_escapes)

    def decode(self, buf, out=None):
        info, src, ptr = F.parse(buf, lib.EPHYS_FILTER_LSB, "LSB")
        shape = F.info_shape(info)
        if info.itemsize not in (2, 4):
            raise ValueError("cannot decode LSB chunk: the chunk header is corrupted")
        n = F.n_channels(shape)
        offsets, steps = self._params(n)
        if lib.ephys_lsb_params_hash(offsets, steps, n) != info.params_hash:
            raise ValueError("cannot decode LSB chunk: it was encoded with other offsets/steps than this filter's")
        result = np.empty(shape, F.info_dtype(info))
        F.check(lib.ephys_lsb_decode(ptr, src.nbytes, offsets, steps, n, ffi.from_buffer(result), result.nbytes,
                                     F.threads(self.num_threads)), "cannot decode LSB chunk")
        return F.deliver(info, src, result, out, "LSB")

    def get_config(self):
        return dict(id=self.codec_id, offsets=self.offsets, steps=self.steps)


def _sample_traces(recording, num_chunks, chunk_size, seed):
    """Random chunks of a SpikeInterface-like recording, stacked (samples, channels)."""
    n = int(recording.get_num_samples(segment_index=0))
    rng = np.random.default_rng(seed)
    size = min(chunk_size, n)
    starts = sorted(set(rng.integers(0, n - size + 1, size=num_chunks).tolist())) if n else [0]
    return np.concatenate([np.asarray(recording.get_traces(start_frame=s, end_frame=s + size, segment_index=0))
                           for s in starts])


def _fit(u, s):
    """Least-squares offset and step of sorted distinct values u on a grid of step ~s."""
    idx = np.round((u - u[0]) / s)
    if idx[-1] > 0:
        s, a = np.polyfit(idx, u, 1)
    else:
        a = u[0]
    return float(a), float(s)


def estimate_lsb(data, per_channel_step: bool = False, num_chunks: int = 10, chunk_size: int = 10000,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Estimate the grid (offset, step) of each channel of integer ephys data.

    ``data``: a (samples, channels) integer array, or a SpikeInterface recording (an
    object with ``get_traces``; ``num_chunks`` random chunks of ``chunk_size`` samples
    are read). Returns two float64 arrays (offsets, steps), one value per channel.

    Method: per channel the sorted distinct values u are examined; the smallest gap
    d between them is the step rounded to an integer, and the gaps smaller than 1.5 d
    are single steps, whose mean estimates the step (pooled over all channels unless
    ``per_channel_step``). The step is refined by least squares of u against their
    integer grid index round((u - u0) / step), and snapped to an integer when an
    integer step fits all values exactly (SpikeGLX: 1; exact grids such as 12 or 3).
    The offset is the least-squares intercept moved to the grid point nearest the
    channel's median, so that k is centred on zero. A channel with fewer than two
    distinct values gets the common step and its single value as offset.
    Where the smallest gap is 1 the data is on the integer grid: step 1, offset 0
    (the filter is then an identity plus a header).
    """
    if hasattr(data, "get_traces"):
        data = _sample_traces(data, num_chunks, chunk_size, seed)
    arr = np.asarray(data)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"estimate_lsb takes integer (samples, channels) data, got {arr.dtype} {arr.shape}")
    n_ch = arr.shape[1]
    uniq = [np.unique(arr[:, c]).astype(np.float64) for c in range(n_ch)]
    singles, min_gaps = [], []
    for u in uniq:
        d = np.diff(u)
        if len(d):
            min_gaps.append(d.min())
            singles.append(d[d < 1.5 * d.min()])
    offsets = np.zeros(n_ch)
    steps = np.ones(n_ch)
    if not min_gaps or min(min_gaps) <= 1:
        return offsets, steps
    common = float(np.concatenate(singles).mean())
    # refine the common step on the channel with the widest span of grid indices
    widest = max(range(n_ch), key=lambda c: (uniq[c][-1] - uniq[c][0]) if len(uniq[c]) else -1)
    common = _fit(uniq[widest], common)[1] if len(uniq[widest]) > 2 else common
    common = _snap(uniq, common)
    for c, u in enumerate(uniq):
        if len(u) == 0:
            offsets[c], steps[c] = 0.0, common
            continue
        s = common
        if per_channel_step and len(u) > 2:
            d = np.diff(u)
            s = _snap([u], _fit(u, float(d[d < 1.5 * d.min()].mean()))[1])
        a = _fit(u, s)[0] if len(u) > 1 else float(u[0])
        if float(s).is_integer() and np.all((u - u[0]) % s == 0):
            a = float(u[0])
        med = float(np.median(arr[:, c]))
        offsets[c] = a + s * np.round((med - a) / s)
        steps[c] = min(max(s, 1.0), MAX_STEP)
    return offsets, steps


def _snap(uniq, s):
    """s rounded to an integer when that integer divides every gap between values."""
    r = float(round(s))
    if r >= 1 and abs(s - r) < 0.05 * r and all(np.all(np.diff(u) % r == 0) for u in uniq if len(u) > 1):
        return r
    return float(s)
