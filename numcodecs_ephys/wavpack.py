"""WavPack codec: lossless or hybrid (lossy at a set bit rate), in C through libwavpack."""

from __future__ import annotations

import numpy as np

from . import _container, _threads
from ._codec_base import ChunkCodec, ConfigCodec
from ._extension import CODE_DTYPES, check, ffi, lib
from ._filter_frame import refuse_filtered

STREAM_DTYPES = (np.dtype("int8"), np.dtype("int16"), np.dtype("int32"), np.dtype("float32"))
SUPPORTED_DTYPES = _container.accepted_dtypes(STREAM_DTYPES)
MAX_CHANNELS_PER_STREAM = 4096  # WavPack's own limit
MIN_BPS = 2.25  # the lowest bit rate libwavpack's hybrid mode supports
HYBRID_INT32_BITS = lib.EPHYS_WAVPACK_HYBRID_INT32_BITS  # hybrid int32 samples' width (wavpack_codec.h: why)


def library_version() -> str:
    """The version of the libwavpack this package runs."""
    return ffi.string(lib.ephys_wavpack_library_version()).decode()


def _refuse_wide_int32(arr, who):
    """Hybrid mode codes 32-bit integer samples only within HYBRID_INT32_BITS bits (unsigned
    ones as stored: minus 2^31); the C coder refuses others too, with a vaguer message."""
    if arr.dtype.kind not in "iu" or arr.dtype.itemsize != 4 or not arr.size:
        return
    offset = 1 << 31 if arr.dtype.kind == "u" else 0
    lo, hi = offset - (1 << (HYBRID_INT32_BITS - 1)), offset + (1 << (HYBRID_INT32_BITS - 1)) - 1
    vmin, vmax = int(arr.min()), int(arr.max())
    if vmin < lo or vmax > hi:
        raise ValueError(
            f"{who} takes {arr.dtype} samples from {lo} to {hi} ({HYBRID_INT32_BITS} bits): wider ones go "
            f"through libwavpack's 32-bit extension, where the bit rate no longer bounds the errors. This chunk "
            f"holds {vmin} to {vmax}; use lossless WavPack (bps=None), or scale the data into that range"
        )


def _params(level, bps, dynamic_noise_shaping, shaping_weight):
    p = ffi.new("ephys_wavpack_params_t *")
    p.level, p.bps = level, bps or 0.0
    p.dynamic_shaping, p.shaping_weight = int(dynamic_noise_shaping), shaping_weight
    return p


def _validate(level, bps, shaping_weight):
    if isinstance(level, bool) or level not in (1, 2, 3, 4):
        raise ValueError(f"level must be 1 (fast), 2 (normal), 3 (high) or 4 (very high), got {level!r}")
    if bps is not None and not isinstance(bps, (int, float)) or isinstance(bps, bool):
        raise ValueError(f"bps must be None (lossless) or a number >= {MIN_BPS}, got {bps!r}")
    if bps is not None and bps != 0 and not MIN_BPS <= bps <= 32:
        raise ValueError(f"bps must be None or 0 (lossless) or from {MIN_BPS} to 32 (hybrid), got {bps!r}")
    if not -1.0 <= shaping_weight <= 1.0:
        raise ValueError(f"shaping_weight must be in [-1, 1], got {shaping_weight!r}")
    return float(bps) if bps else None


class WavPack(ChunkCodec):
    """WavPack compression of (samples, channels) chunks, lossless or hybrid (lossy).

    Channels are cut into blocks of ``block_channels`` that are coded as independent
    WavPack streams on ``num_threads`` C threads, with the GIL released; neighbouring
    channels are coded as stereo pairs. The output does not depend on the thread count.

    Parameters
    ----------
    level : int
        1 fast, 2 normal (default), 3 high, 4 very high.
    bps : float or None
        None or 0: lossless. Otherwise hybrid (lossy) mode at this many bits per sample,
        from 2.25 (the library minimum) up.
    dynamic_noise_shaping : bool
        Hybrid mode only. True (default): WavPack moves the quantization noise up or down
        in frequency following the signal. False: fixed shaping by ``shaping_weight``.
    shaping_weight : float
        Hybrid mode with ``dynamic_noise_shaping=False``: fixed noise-shaping weight in
        [-1, 1]; negative moves the noise to low frequencies, positive to high, 0 turns
        shaping off.
    block_channels : int
        Channels per independent stream (1 to 4096); default 16, so that a 384-channel chunk
        keeps 24 cores busy. Even values keep stereo pairs.
    num_threads : int or None
        C threads over channel blocks for this instance, in this process: overrides
        :func:`numcodecs_ephys.set_num_threads` (default: every core); never stored.

    Notes
    -----
    Chunks may be int8, int16, int32, float32, uint8, uint16 or uint32 (stored losslessly
    as the signed type with the top bit flipped) and have 1 dimension (one channel)
    or more: axis 0 is time and all other axes are channels, so a (time, rows, cols)
    chunk is coded as time x (rows*cols) channels and decoded back to its shape.
    """

    codec_id = "ephys_wavpack"
    _name = "WavPack"
    _c_info, _c_decode, _c_decode_blocks = (
        lib.ephys_wavpack_info,
        lib.ephys_wavpack_decode,
        lib.ephys_wavpack_decode_blocks,
    )
    _c_encode = lib.ephys_wavpack_encode

    def __init__(
        self,
        level: int = 2,
        bps: float | None = None,
        dynamic_noise_shaping: bool = True,
        shaping_weight: float = 0.0,
        block_channels: int = 16,
        num_threads: int | None = None,
    ) -> None:
        self.bps = _validate(level, bps, shaping_weight)
        self.level = int(level)
        self.dynamic_noise_shaping = bool(dynamic_noise_shaping)
        self.shaping_weight = float(shaping_weight)
        if (
            isinstance(block_channels, bool)
            or block_channels != int(block_channels)
            or not 1 <= block_channels <= MAX_CHANNELS_PER_STREAM
        ):
            raise ValueError(
                f"block_channels must be an integer from 1 to {MAX_CHANNELS_PER_STREAM}, got {block_channels!r}"
            )
        self.block_channels = int(block_channels)
        self.num_threads = _threads.validate_num_threads(num_threads)
        self._params = _params(self.level, self.bps, self.dynamic_noise_shaping, self.shaping_weight)

    def _samples(self, buf):
        arr = _container.as_samples(buf, "WavPack", SUPPORTED_DTYPES)
        if self.bps:
            refuse_filtered(arr, "WavPack hybrid (bps=...)")
            _refuse_wide_int32(arr, "WavPack hybrid (bps=...)")
        return arr


class WavPackNumcodecsFormat(ConfigCodec):
    """Reads and writes the chunks of the wavpack-numcodecs package (codec id ``"wavpack"``).

    Each chunk is a bare WavPack stream. This class exists so that stores written by
    wavpack-numcodecs open with numcodecs-ephys alone; use :class:`WavPack` for new data.
    It takes wavpack-numcodecs' parameters; the thread counts are accepted and ignored.
    """

    codec_id = "wavpack"

    def __init__(
        self,
        level: int = 1,
        bps: float | None = None,
        dynamic_noise_shaping: bool = True,
        shaping_weight: float = 0.0,
        num_encoding_threads: int = 1,
        num_decoding_threads: int = 8,
    ) -> None:
        self.bps = _validate(level, bps, shaping_weight) or 0.0
        self.level = int(level)
        self.dynamic_noise_shaping = bool(dynamic_noise_shaping)
        self.shaping_weight = float(shaping_weight)
        self.num_encoding_threads = int(num_encoding_threads)
        self.num_decoding_threads = int(num_decoding_threads)
        self._params = _params(self.level, self.bps, self.dynamic_noise_shaping, self.shaping_weight)

    def encode(self, buf):
        arr = _container.as_samples(buf, "WavPack", STREAM_DTYPES)  # a bare stream cannot say "unsigned"
        if arr.ndim > 2 or (arr.ndim == 2 and arr.shape[1] > MAX_CHANNELS_PER_STREAM):
            raise ValueError(
                "wavpack-numcodecs chunks hold 1-D or 2-D (samples, channels <= 4096) arrays; "
                "use numcodecs_ephys.WavPack for other shapes"
            )
        if arr.size == 0:
            raise ValueError("wavpack-numcodecs chunks cannot be empty; use numcodecs_ephys.WavPack")
        if self.bps:
            _refuse_wide_int32(arr, "WavPack hybrid (bps=...)")
        view, keep = _container.make_view(_container.to_2d(arr))
        out_pp, out_len = ffi.new("uint8_t **"), ffi.new("size_t *")
        check(lib.ephys_wavpack_stream_encode(self._params, view, out_pp, out_len), "encoding failed")
        del keep
        return _container.take_output(out_pp, out_len)

    def decode(self, buf, out=None):
        src, ptr, nbytes = _container.input_bytes(buf)
        n, nc, code = ffi.new("uint64_t *"), ffi.new("uint32_t *"), ffi.new("int *")
        check(lib.ephys_wavpack_stream_info(ptr, nbytes, n, nc, code), "cannot decode WavPack stream")
        shape = (n[0],) if nc[0] == 1 else (n[0], nc[0])
        return _container.decode_into(
            out,
            CODE_DTYPES[code[0]],
            shape,
            "C",
            lambda view: check(lib.ephys_wavpack_stream_decode(ptr, nbytes, view), "cannot decode WavPack stream"),
        )


WavPackLegacy = WavPackNumcodecsFormat  # its name in numcodecs-ephys 0.1.0
