"""EphysLPC: our own codec for multichannel ephys, lossless or with a bounded error (C, csrc/lpc/;
float chunks csrc/lpc/floats_*.c)."""

import math

import numpy as np

from . import _container, _threads
from ._codec_base import ChunkCodec
from ._extension import check, ffi, lib
from ._filter_frame import refuse_filtered

FLOAT_DTYPES = (np.dtype("float32"), np.dtype("float64"))
SUPPORTED_DTYPES = _container.accepted_dtypes((np.dtype("int8"), np.dtype("int16"), np.dtype("int32"))) + FLOAT_DTYPES
LEVELS = (1, 2, 3)
MAX_ERROR = lib.EPHYS_LPC_MAX_ERROR
BLOCK_CHANNELS = lib.EPHYS_LPC_BLOCK_CHANNELS
MAX_BLOCK_CHANNELS = 1 << 20
KERNELS = {
    "auto": lib.EPHYS_LPC_KERNEL_AUTO,
    "scalar": lib.EPHYS_LPC_KERNEL_SCALAR,
    "sse2": lib.EPHYS_LPC_KERNEL_SSE2,
    "avx2": lib.EPHYS_LPC_KERNEL_AVX2,
}


def set_kernel(name: str) -> None:
    """Force the C kernel ("scalar", "sse2", "avx2") or go back to the CPU's best ("auto").

    Every kernel writes the same bytes; this exists so that tests can prove it.
    Raises ValueError if this CPU cannot run the kernel."""
    if name not in KERNELS:
        raise ValueError(f"kernel must be one of {sorted(KERNELS)}, got {name!r}")
    check(lib.ephys_lpc_set_kernel(KERNELS[name]), f"kernel {name!r} is not available on this CPU")


def kernel() -> str:
    """The kernel in use."""
    code = lib.ephys_lpc_kernel()
    return next(k for k, v in KERNELS.items() if v == code)


def _check_max_error(value):
    """An integer 0..MAX_ERROR (a bound in units of integer samples, and for float chunks in
    their units), or a finite non-negative float (float chunks only: a bound in their units)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return _check_int("max_error", value, 0, MAX_ERROR)
    if isinstance(value, (float, np.floating)) and math.isfinite(value) and value >= 0:
        return float(value)
    raise ValueError(
        f"max_error must be an integer from 0 to {MAX_ERROR} or a finite float >= 0 (float chunks), got {value!r}"
    )


def _check_int(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer from {lo} to {hi}, got {value!r}")
    return int(value)


class EphysLPC(ChunkCodec):
    """Our own codec for (samples, channels) chunks: lossless, or near-lossless with a
    hard bound on the error of every sample.

    Each channel is predicted from its own past around its offset (linear prediction,
    order and offset chosen per frame of 8192 samples, or 2048 at level 3) and its
    prediction residual from the residuals of the channels just before it (which share
    reference noise); the
    rest is Rice coded, or, where the residual is near-Gaussian, with the first values
    of each high part in 2 or 3 bits of the low fields and only the larger ones in unary,
    or, where it takes a few bits a value, with its high parts rANS coded under frozen
    models.
    A channel whose values sit on a grid is coded as its grid index: an integer grid
    (data scaled by a constant) by its step, a non-integer one (Open Ephys files store
    ADC steps of ~24.04 counts) by the rank of each value among the channel's values.
    Channels are cut into blocks of ``block_channels`` coded independently on
    ``num_threads`` C threads with the GIL released; the output does not depend on
    the thread count.

    Parameters
    ----------
    level : int
        1 (fastest: prediction order up to 2, Rice codes only), 2 (default: up to 4, capped
        low fields where they are shorter), 3 (orders up to 32, and each block is coded with
        weights in 1/16 and in 1/4096, frames of 8192 and 2048 samples and 2048- and 64-sample
        partitions, keeping the shortest: for wideband recordings, whose 1/f spectra under
        the anti-alias low-pass want high orders and fine weights, and LFP bands, whose
        amplitude swings within a frame; 10-20 times slower to encode than level 2). At
        every level each channel's order is chosen per frame by the bits it would spend, and
        a smooth block (LFP, wideband) is also coded with 512-sample partitions, the shorter
        kept;
        docs/benchmarks.md has the measured figures.
    max_error : int or float
        0 (default): lossless. k > 0: every decoded sample is within k of the original
        (the quantization sits inside the prediction loop, so errors never add up). For
        float chunks, an absolute bound in the data's units (``0.25`` for a quarter of a
        microvolt): every finite sample is decoded within it, and NaN and infinities
        exactly. A non-integer bound takes float chunks only.
    block_channels : int
        Channels per independent block (the unit of threading and of partial reads);
        default 32: 12 blocks for a 384-channel probe (each channel is predicted from the
        channels before it in its block, so smaller blocks cost some compression).
    num_threads : int or None
        C threads over channel blocks for this instance, in this process: overrides
        :func:`numcodecs_ephys.set_num_threads` (default: every core); never stored.

    Notes
    -----
    Chunks may be int8, int16 or int32 (or unsigned), float32 or float64, and have 1 dimension
    (one channel) or more: axis 0 is time and all other axes are channels.

    Float chunks are lossless bit for bit (NaN payloads, -0.0, infinities, subnormals): a
    grid found in the data (scaled traces: int16 x gain + offset, exact or up to rounding,
    also with converter levels that skip grid points) turns each block into integer grid
    indices coded as integer samples are, with the samples the grid does not give back
    exactly listed apart; without a grid (filtered, whitened data), each float's top
    mantissa bits, at the block's common exponent, are the integers, and the bits below
    them are stored as they are.
    """

    codec_id = "ephys_lpc"
    _name = "EphysLPC"
    _c_info, _c_decode, _c_decode_blocks = lib.ephys_lpc_info, lib.ephys_lpc_decode, lib.ephys_lpc_decode_blocks

    def __init__(
        self,
        level: int = 2,
        max_error: int | float = 0,
        block_channels: int = BLOCK_CHANNELS,
        num_threads: int | None = None,
    ) -> None:
        self.level = _check_int("level", level, LEVELS[0], LEVELS[-1])
        self.max_error = _check_max_error(max_error)
        self.block_channels = _check_int("block_channels", block_channels, 1, MAX_BLOCK_CHANNELS)
        self.num_threads = _threads.validate_num_threads(num_threads)
        self._params = ffi.new("ephys_lpc_params_t *")
        self._float_params = ffi.new("ephys_lpc_params_t *")
        check(lib.ephys_lpc_default_params(self.level, 0, self._float_params), "bad parameters")
        if isinstance(self.max_error, int):
            check(lib.ephys_lpc_default_params(self.level, self.max_error, self._params), "bad parameters")
        else:
            self._params = None  # integer chunks take integer bounds only

    def encode(self, buf):
        arr = _container.as_samples(buf, "EphysLPC", SUPPORTED_DTYPES)
        if self.max_error:
            refuse_filtered(arr, "EphysLPC near-lossless (max_error > 0)")
        if arr.dtype in FLOAT_DTYPES:
            bound = float(self.max_error)

            def encode_float(params, *rest):
                return lib.ephys_lpc_encode_float(params, bound, *rest)

            return _container.encode_chunk(encode_float, self._float_params, arr, self.block_channels, self.num_threads)
        if self._params is None:
            raise ValueError(
                f"EphysLPC max_error={self.max_error!r} is a bound for float chunks; integer chunks "
                f"({arr.dtype}) take a whole number of units"
            )
        return _container.encode_chunk(lib.ephys_lpc_encode, self._params, arr, self.block_channels, self.num_threads)
