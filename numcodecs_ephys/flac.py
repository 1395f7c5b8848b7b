"""FLAC codec: lossless, in C through libFLAC, with channels coded in stereo pairs."""

from __future__ import annotations

import os

import numpy as np
from numcodecs.compat import ensure_ndarray_like

from . import _container, _threads
from ._codec_base import ChunkCodec, ConfigCodec
from ._extension import check, ffi, lib

MAX_CHANNELS_PER_STREAM = lib.EPHYS_FLAC_MAX_CHANNELS  # FLAC's own limit: 8
MIN_BLOCKSIZE = lib.EPHYS_FLAC_MIN_BLOCKSIZE  # 16
MAX_BLOCKSIZE = lib.EPHYS_FLAC_MAX_BLOCKSIZE  # 65535
MAX_BLOCK_CHANNELS = 1 << 20
_ALL_INTS = (np.dtype("int8"), np.dtype("int16"), np.dtype("int32"))


def library_version() -> str:
    """The version of the libFLAC this package runs."""
    return ffi.string(lib.ephys_flac_library_version()).decode()


def _supported_dtypes():
    """int8, int16, uint8 and uint16 always; int32 and uint32 when this libFLAC encodes
    32-bit samples (>= 1.4)."""
    max_bits = lib.ephys_flac_max_bits_per_sample()
    return _container.accepted_dtypes(d for d in _ALL_INTS if 8 * d.itemsize <= max_bits)


def _as_int_samples(buf):
    arr = ensure_ndarray_like(buf)
    dtype = np.dtype(getattr(arr, "dtype", np.asarray(arr).dtype))
    if dtype.kind not in "iu":
        raise ValueError(
            f"FLAC codes integer samples (int8, int16, int32, uint8, uint16, uint32) only; "
            f"got {dtype}: floating-point data must be converted first"
        )
    max_bits = lib.ephys_flac_max_bits_per_sample()
    if max_bits < 8 * dtype.itemsize <= 32:
        raise ValueError(
            f"this libFLAC ({library_version()}) encodes samples of at most {max_bits} bits, "
            f"so {dtype} is not supported; libFLAC >= 1.4 is needed for 32-bit samples"
        )
    return _container.as_samples(arr, "FLAC", _supported_dtypes())


def _check_int(name, value, lo, hi, what=""):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer from {lo} to {hi}{what}, got {value!r}")
    return int(value)


class FLAC(ChunkCodec):
    """FLAC compression of (samples, channels) chunks, lossless.

    Channels are cut into blocks of ``block_channels`` coded independently on
    ``num_threads`` C threads with the GIL released; inside a block, every
    ``channels_per_stream`` neighbouring channels form one FLAC stream. FLAC
    decorrelates the two channels of a stereo stream, which is why pairs (the default)
    compress Neuropixels data better than single channels or one flattened stream.
    The output does not depend on the thread count.

    Parameters
    ----------
    level : int
        libFLAC compression level, 0 (fastest) to 8 (smallest); default 5.
    blocksize : int
        Samples per FLAC frame, 16 to 65535; default 4096.
    channels_per_stream : int
        Channels per FLAC stream, 1 to 8 (FLAC's limit); default 2.
    block_channels : int
        Channels per independent block (the unit of threading and of partial reads);
        default 16, as for :class:`~numcodecs_ephys.WavPack`.
    num_threads : int or None
        C threads over channel blocks for this instance, in this process: overrides
        :func:`numcodecs_ephys.set_num_threads` (default: every core); never stored.
    exhaustive_stereo : bool
        Two-channel streams: True tries all four stereo modes (left/right, left/side,
        side/right, mid/side) in every frame, as libFLAC's own presets do at levels 2
        and 5-8. False (default) lets libFLAC pick the mode from a cheap estimate (its
        "loose mid-side" mode): faster encoding for slightly larger output (the
        benchmarks page of the docs has the figures). Decoding is the same either way.

    Notes
    -----
    Chunks may be int8, int16, int32, uint8, uint16 or uint32 (the 32-bit types need
    libFLAC >= 1.4; unsigned samples are stored losslessly as the signed type with the top
    bit flipped) and have 1 dimension (one channel) or more: axis 0 is time and all other
    axes are channels.
    """

    codec_id = "ephys_flac"
    _name = "FLAC"
    _c_info, _c_decode, _c_decode_blocks = lib.ephys_flac_info, lib.ephys_flac_decode, lib.ephys_flac_decode_blocks
    _c_encode = lib.ephys_flac_encode

    def __init__(
        self,
        level: int = 5,
        blocksize: int = 4096,
        channels_per_stream: int = 2,
        block_channels: int = 16,
        num_threads: int | None = None,
        exhaustive_stereo: bool = False,
    ) -> None:
        self.level = _check_int("level", level, 0, 8)
        self.blocksize = _check_int("blocksize", blocksize, MIN_BLOCKSIZE, MAX_BLOCKSIZE, " (samples per FLAC frame)")
        self.channels_per_stream = _check_int(
            "channels_per_stream", channels_per_stream, 1, MAX_CHANNELS_PER_STREAM, " (FLAC's limit)"
        )
        self.block_channels = _check_int("block_channels", block_channels, 1, MAX_BLOCK_CHANNELS)
        self.num_threads = _threads.validate_num_threads(num_threads)
        if not isinstance(exhaustive_stereo, (bool, np.bool_)):
            raise ValueError(f"exhaustive_stereo must be True or False, got {exhaustive_stereo!r}")
        self.exhaustive_stereo = bool(exhaustive_stereo)
        self._params = ffi.new("ephys_flac_params_t *")
        self._params.exhaustive_stereo = int(self.exhaustive_stereo)
        self._params.level, self._params.blocksize = self.level, self.blocksize
        self._params.channels_per_stream = self.channels_per_stream

    def _samples(self, buf):
        return _as_int_samples(buf)


class FLACNumcodecsFormat(ConfigCodec):
    """Reads and writes the chunks of the flac-numcodecs package, 0.1.2 (codec id ``"flac"``).

    Each chunk is a complete FLAC file. flac-numcodecs codes int16 only, and a chunk of
    more than 2 channels is flattened (time-major) into one mono stream, which costs a
    lot of compression; decoding returns a (samples, channels) array as flac-numcodecs
    does, the caller's ``out`` taking the chunk's real shape. Encoding writes the same
    bytes as flac-numcodecs for the same parameters. Use :class:`FLAC` for new data.

    ``tmpdir`` is accepted and ignored: nothing touches the disk.
    """

    codec_id = "flac"
    _max_blocksizes = (4608, 16384)  # flac-numcodecs: streamable subset limits

    def __init__(
        self,
        level: int = 5,
        blocksize: int | None = None,
        sample_rate: int = 48000,
        tmpdir: str | os.PathLike | None = None,
    ) -> None:
        self.level = _check_int("level", level, 0, 8)
        if blocksize is not None:
            blocksize = _check_int("blocksize", blocksize, MIN_BLOCKSIZE, MAX_BLOCKSIZE)
        self.blocksize = blocksize
        self.sample_rate = _check_int("sample_rate", sample_rate, 1, 655350)
        self.tmpdir = None if tmpdir is None else str(tmpdir)
        self._max_blocksize = self._max_blocksizes[0] if self.sample_rate <= 48000 else self._max_blocksizes[1]

    def encode(self, buf):
        arr = _container.as_samples(buf, "flac-numcodecs (codec id 'flac')", (np.dtype("int16"),))
        if arr.size == 0:
            raise ValueError("flac-numcodecs chunks cannot be empty; use numcodecs_ephys.FLAC")
        if arr.ndim == 1:
            data = arr[:, None]
        elif arr.ndim == 2 and arr.shape[1] <= 2:
            data = arr
        else:  # flac-numcodecs flattens anything wider into one mono stream
            data = np.ascontiguousarray(arr).reshape(-1, 1)
        n = data.shape[0]
        if self.blocksize is None:
            blocksize = min(n, self._max_blocksize) if n > 16 else 0
        else:
            blocksize = min(self.blocksize, self._max_blocksize)
        params = ffi.new("ephys_flac_stream_params_t *")
        params.level, params.blocksize, params.sample_rate = self.level, blocksize, self.sample_rate
        view, keep = _container.make_view(data)
        out_pp, out_len = ffi.new("uint8_t **"), ffi.new("size_t *")
        err = lib.ephys_flac_stream_encode(params, view, out_pp, out_len)
        del keep
        check(err, "encoding failed")
        return _container.take_output(out_pp, out_len)

    def decode(self, buf, out=None):
        src, ptr, nbytes = _container.input_bytes(buf)
        n, nc, bps = ffi.new("uint64_t *"), ffi.new("uint32_t *"), ffi.new("uint32_t *")
        check(lib.ephys_flac_stream_info(ptr, nbytes, n, nc, bps), "cannot decode FLAC file")
        dtype = np.dtype("int16") if bps[0] <= 16 else np.dtype("int32")
        return _container.decode_into(
            out,
            dtype,
            (n[0], nc[0]),
            "C",
            lambda view: check(lib.ephys_flac_stream_decode(ptr, nbytes, view), "cannot decode FLAC file"),
        )

    def get_config(self):
        # flac-numcodecs' own key order (and so this repr's)
        return dict(
            id=self.codec_id,
            tmpdir=self.tmpdir,
            level=self.level,
            blocksize=self.blocksize,
            sample_rate=self.sample_rate,
        )


FLACLegacy = FLACNumcodecsFormat  # its name in numcodecs-ephys 0.1.0
