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

from . import _filter_frame as F
from . import _threads
from ._codec_base import ConfigCodec
from ._extension import check, ffi, lib

SUPPORTED_DTYPES = (np.dtype("int16"), np.dtype("int32"))  # integer samples (ADC values on a grid)
FLOAT_DTYPES = (np.dtype("float32"), np.dtype("float64"))  # scaled samples on a grid (SpikeInterface)
MIN_INTEGER_STEP = 1.0  # on an integer grid two values closer than 1 cannot be told apart
MAX_STEP = float(lib.EPHYS_LSB_MAX_STEP)  # the C kernel's limits (csrc/lsb.h)
MAX_OFFSET = float(lib.EPHYS_LSB_MAX_OFFSET)


def _validate_params(name, value, lo, hi, above_lo=False):
    """A number, or a non-empty list of numbers, each finite and in [lo, hi] (or (lo, hi]); as float(s)."""
    scalar = not isinstance(value, (list, tuple, np.ndarray))
    values = [value] if scalar else list(value)
    out = []
    for v in values:
        if (
            isinstance(v, bool)
            or not isinstance(v, (int, float, np.integer, np.floating))
            or not math.isfinite(float(v))
            or not lo <= float(v) <= hi
            or (above_lo and float(v) == lo)
        ):
            raise ValueError(
                f"{name} must be a number or a non-empty list of numbers in {'(' if above_lo else '['}"
                f"{lo}, {hi}], got {value!r}"
            )
        out.append(float(v))
    if not out:
        raise ValueError(f"{name} must not be empty")
    return out[0] if scalar else out


class LSB(ConfigCodec):
    """Lossless LSB correction: int16/int32 samples -> grid index k = round((x - offset) / step).

    Float32/float64 samples on a grid (SpikeInterface's scaled traces, int16 x gain + offset
    in float32) map to the k for which ``k * step + offset`` in their own precision gives
    them back bit for bit; the indices are int16 (int32 where needed) and everything else
    (off the grid, NaN, infinities, -0.0) is escaped with its bit pattern.

    Parameters
    ----------
    offsets, steps : float or list of float
        The grid of each channel (one value for all channels, or one per channel:
        per flattened channel axis for N-D chunks). ``step`` up to 2**24, need not be an
        integer; at least 1 for integer samples. Estimate them once with
        :meth:`from_data` / :meth:`from_recording` (or :func:`estimate_lsb`) and use the
        same filter for every chunk.
    num_threads : int or None
        C threads (None = all cores); the output does not depend on it.

    Notes
    -----
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

    def __init__(
        self,
        offsets: float | Sequence[float] = 0.0,
        steps: float | Sequence[float] = 1.0,
        num_threads: int | None = None,
    ) -> None:
        self.offsets = _validate_params("offsets", offsets, -MAX_OFFSET, MAX_OFFSET)
        self.steps = _validate_params("steps", steps, 0.0, MAX_STEP, above_lo=True)
        self.num_threads = _threads.validate_num_threads(num_threads)
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
        arr, order = F.as_input(buf, "LSB", SUPPORTED_DTYPES + FLOAT_DTYPES)
        n = F.n_channels(arr.shape)
        offsets, steps = self._params(n)
        shape = ffi.new("uint64_t[]", list(arr.shape) or [0])
        out_pp, out_len, n_esc = ffi.new("uint8_t **"), ffi.new("size_t *"), ffi.new("uint64_t *")
        if arr.dtype in FLOAT_DTYPES:
            encode, threads = lib.ephys_lsb_encode_float, ()  # one thread: it takes no thread count
        else:
            low = min(self.steps) if isinstance(self.steps, list) else self.steps
            if low < MIN_INTEGER_STEP:
                raise ValueError(
                    f"LSB with steps below {MIN_INTEGER_STEP} takes float samples; this chunk is "
                    f"{arr.dtype}, whose grid steps are at least {MIN_INTEGER_STEP} (got {low})"
                )
            encode, threads = lib.ephys_lsb_encode, (_threads.threads(self.num_threads),)
        args = (ffi.from_buffer(arr), arr.nbytes, arr.itemsize, arr.ndim, shape, offsets, steps, n)
        check(encode(*args, *threads, out_pp, out_len, n_esc), "LSB encoding failed")
        # the C buffer becomes the array's memory (no copy); freed with the array
        owned = ffi.gc(out_pp[0], lib.ephys_free, size=out_len[0])
        F.seal(owned, out_len[0], order, arr)
        info, _, _ = F.parse(ffi.buffer(owned, out_len[0]), lib.EPHYS_FILTER_LSB, "LSB")
        return F.encoded_array(ffi.buffer(owned, out_len[0]), F.info_dtype(info), arr.shape)

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
        # the header's parameter byte: 0 for integer samples, else the float samples' itemsize
        dtype = np.dtype(f"<f{info.param}").newbyteorder("=") if info.param else F.info_dtype(info)
        result = np.empty(shape, dtype)
        check(
            lib.ephys_lsb_decode(
                ptr,
                src.nbytes,
                offsets,
                steps,
                n,
                ffi.from_buffer(result),
                result.nbytes,
                _threads.threads(self.num_threads),
            ),
            "cannot decode LSB chunk",
        )
        return F.deliver(info, src, result, out, "LSB")


def _sample_traces(recording, num_chunks, chunk_size, seed):
    """Random chunks of a SpikeInterface-like recording, stacked (samples, channels)."""
    n = int(recording.get_num_samples(segment_index=0))
    rng = np.random.default_rng(seed)
    size = min(chunk_size, n)
    starts = sorted(set(rng.integers(0, n - size + 1, size=num_chunks).tolist())) if n else [0]
    return np.concatenate(
        [np.asarray(recording.get_traces(start_frame=s, end_frame=s + size, segment_index=0)) for s in starts]
    )


def _fit(u, s):
    """Least-squares offset and step of sorted distinct values u on a grid of step ~s."""
    idx = np.round((u - u[0]) / s)
    if idx[-1] > 0:
        s, a = np.polyfit(idx, u, 1)
    else:
        a = u[0]
    return float(a), float(s)


def estimate_lsb(
    data, per_channel_step: bool = False, num_chunks: int = 10, chunk_size: int = 10000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
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

    Float32/float64 data (SpikeInterface's scaled traces: int16 x gain + offset in
    float32): per channel the step and offset are fitted the same way, then the pair that
    reproduces the most distinct values bit for bit under the decoder's rule (k * step +
    offset in the data's precision) is chosen among the float neighbours of the fit and
    the grid points near it (offset 0 first). A channel whose values are not on a grid
    (fewer than 90% reproduced, up to 4 ulps of rounding) raises ValueError saying what
    fraction was off the grid: LSB would store them as escapes; EphysLPC takes such float
    data directly.
    """
    if hasattr(data, "get_traces"):
        data = _sample_traces(data, num_chunks, chunk_size, seed)
    arr = np.asarray(data)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim == 2 and arr.dtype in FLOAT_DTYPES:
        grids: list = []
        for c in range(arr.shape[1]):
            grids.append(_float_grid(arr[:, c], c, grids[-1] if grids else None))
        return np.array([g[0] for g in grids]), np.array([g[1] for g in grids])
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            f"estimate_lsb takes integer or float32/float64 (samples, channels) data, got {arr.dtype} {arr.shape}"
        )
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


def _exact_on_grid(u, offset, step, ulps=0):
    """How many of the distinct float values u the decoder's rule k * step + offset (numpy
    computes it in u's precision, as the C decoder does) reproduces exactly, or within
    ``ulps`` units in the last place."""
    k = np.clip(np.rint((u.astype(np.float64) - float(offset)) / float(step)), -(2.0**31), 2.0**31 - 1)
    rec = k.astype(u.dtype) * step + offset
    if not ulps:
        return int(np.count_nonzero(rec == u))
    return int(np.count_nonzero(np.abs(rec.astype(np.float64) - u) <= ulps * np.spacing(np.abs(u))))


def _float_grid(x, channel, previous=None, min_on_grid=0.9, probe=4096):
    """(offset, step) of one channel of float samples on a grid, exact in their precision.

    The least-squares grid is exact only to a few units in the last place, and the rounding
    of k * step + offset depends on which of the equivalent offsets (offset + m * step) and
    which float neighbour of the step the writer used: candidates (the step's float
    neighbours and short decimals; grid points near 0 and near the median, their short
    decimals and float neighbours) are scored on up to
    ``probe`` distinct values; the previous channel's grid is kept when it fits all."""
    u = np.unique(x[np.isfinite(x)])
    if len(u) < 2:
        return (float(u[0]) if len(u) else 0.0), 1.0
    kind = u.dtype.type
    sample = u[np.linspace(0, len(u) - 1, min(probe, len(u))).astype(int)]
    best = (-1, 0.0, 1.0)
    if previous is not None and _exact_on_grid(u, kind(previous[0]), kind(previous[1])) == len(u):
        best = (len(sample), *previous)
    if best[0] < len(sample):
        wide = u.astype(np.float64)
        d = np.diff(wide)
        d = d[d > 16 * np.spacing(kind(np.abs(wide).max()))]  # gaps of a few ulps: nudges off the grid
        if not len(d):
            raise ValueError(
                f"channel {channel}: 100% of its distinct float values are off any grid (they differ by rounding "
                "only); EphysLPC codes float chunks directly: EphysLPC() or EphysLPC(max_error=...)"
            )
        a, s = _fit(wide, float(d[d < 1.5 * d.min()].mean()))

        def neighbours(v, n):
            out, lo, hi = [kind(v)], kind(v), kind(v)
            for _ in range(n):
                lo, hi = np.nextafter(lo, kind(-np.inf)), np.nextafter(hi, kind(np.inf))
                out += [lo, hi]
            return out

        zero = a - s * np.round(a / s)  # the grid point nearest 0
        middle = zero + s * np.round((float(np.median(wide)) - zero) / s)  # and nearest the median
        offsets = [kind(0.0)]
        for base in (zero, middle):
            # writers' offsets are short decimals (the fit is good to about 1e-5)
            offsets += list({kind(round(base + m * s, digits)) for m in range(-32, 33) for digits in (2, 3, 4)})
            for m in range(-2, 3):
                offsets += neighbours(base + m * s, 2)
        steps = neighbours(s, 3) + [kind(round(s, digits)) for digits in range(3, 8)]  # gains are short too
        for step in (t for t in steps if t > 0):
            for offset in offsets:
                exact = _exact_on_grid(sample, offset, step)
                if exact > best[0]:
                    best = (exact, float(offset), float(step))
                    if exact == len(sample):
                        break
            if best[0] == len(sample):
                break
    # values on the grid up to rounding (computed in float64, rounded to float32; or nudged
    # by a few ulps) keep the grid: LSB stores the ones its rule misses as escapes
    near = _exact_on_grid(u, kind(best[1]), kind(best[2]), ulps=4)
    if near < min_on_grid * len(u):
        raise ValueError(
            f"channel {channel}: {1 - near / len(u):.1%} of its distinct float values are off the best grid "
            f"found (step {best[2]}, offset {best[1]}), even allowing 4 ulps of rounding; LSB would store them "
            "as escapes. EphysLPC codes float chunks directly, losslessly (grids up to rounding included) or "
            "within an absolute bound: EphysLPC() or EphysLPC(max_error=...)"
        )
    return best[1], best[2]


def _snap(uniq, s):
    """s rounded to an integer when that integer divides every gap between values."""
    r = float(round(s))
    if r >= 1 and abs(s - r) < 0.05 * r and all(np.all(np.diff(u) % r == 0) for u in uniq if len(u) > 1):
        return r
    return float(s)
