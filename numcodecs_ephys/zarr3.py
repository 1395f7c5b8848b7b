"""Native zarr-python 3 codecs: the same C kernels as the numcodecs classes, for format-3 arrays.

zarr-python 3 refuses a plain numcodecs codec in a format-3 array: it wants
``zarr.abc.codec.ArrayBytesCodec`` (a serializer: array -> bytes) and
``ArrayArrayCodec`` (a filter: array -> array) objects whose JSON ``name`` is looked up
in the ``zarr.codecs`` entry-point group. This module provides one such class for every
codec of the package, each a frozen dataclass that wraps the numcodecs class (no second
implementation) and runs it off the event loop with ``asyncio.to_thread``, as zarr's own
numcodecs wrappers do; the C calls release the GIL, so zarr's concurrent chunk I/O runs
chunks in parallel.

==========================================  =========================  =====================
class (this module)                         JSON name                  wraps
==========================================  =========================  =====================
``WavPack``        (serializer)             numcodecs_ephys.wavpack        ``numcodecs_ephys.WavPack``
``FLAC``           (serializer)             numcodecs_ephys.flac           ``numcodecs_ephys.FLAC``
``WavPackLegacy``  (serializer)             numcodecs_ephys.wavpack_legacy ``WavPackLegacy`` (wavpack-numcodecs chunks)
``FLACLegacy``     (serializer)             numcodecs_ephys.flac_legacy    ``FLACLegacy`` (flac-numcodecs chunks)
``Delta2D``        (filter)                 numcodecs_ephys.delta2d        ``numcodecs_ephys.Delta2D``
``BitTruncation``  (filter)                 numcodecs_ephys.bittruncation  ``numcodecs_ephys.BitTruncation``
``LSB``            (filter)                 numcodecs_ephys.lsb            ``numcodecs_ephys.LSB``
``EphysLPC``       (serializer)             numcodecs_ephys.lpc            ``numcodecs_ephys.EphysLPC``
==========================================  =========================  =====================

Use them as ``zarr.create_array(..., serializer=WavPack(), filters=[Delta2D()],
compressors=None)``. Format-2 arrays (zarr 2, or ``zarr_format=2`` in zarr 3) keep using
the numcodecs classes from ``numcodecs_ephys``.

Importing this module needs zarr >= 3; ``import numcodecs_ephys`` never imports it (zarr 3
loads it through the entry points when it meets one of the names above), so the package
works unchanged with zarr 2.

Filters and the shape of their output
-------------------------------------
The numcodecs filters return arrays with header rows prepended (magic, dtype, shape and
parameter, see ``csrc/filter.h``) so that a chunk decodes from bare bytes, and LSB adds
a per-chunk number of correction-table and escape rows. A zarr 3 ``ArrayArrayCodec``
declares the spec of its output in ``resolve_metadata`` once for all chunks, and the
next codec (zarr's ``bytes`` serializer in particular) reshapes to that spec when
decoding. So:

* ``Delta2D`` and ``BitTruncation`` are shape- and dtype-preserving in zarr 3:
  ``resolve_metadata`` is the identity and is true. Their header only repeats what the
  array metadata already knows (dtype, chunk shape, the codec parameter), so encoding
  runs the numcodecs filter and drops the header rows; decoding rebuilds the header
  with the same C routines (``ephys_filter_layout`` / ``write_header`` / ``pad_header``)
  from the chunk spec and the codec's configuration, and runs the numcodecs decoder.
  They work with any serializer (``bytes``, sharding, ``numcodecs_ephys.wavpack``, ...),
  and they take the shape of the array they are given rather than the spec's, so they
  may also follow LSB.
* ``LSB`` cannot be shape-preserving: the correction table and escaped samples are
  per-chunk data whose size depends on the values. Its zarr 3 output is the numcodecs
  filter's array (header + table + samples + escape rows, channel axes kept), and
  ``resolve_metadata`` declares the chunk spec unchanged, as zarr's own numcodecs filter
  wrappers do. It therefore needs a self-describing serializer after it:
  ``numcodecs_ephys.wavpack`` or ``numcodecs_ephys.flac`` (optionally with filters or
  compressors around them, or inside a sharding codec). Those record the real dtype and
  shape in every chunk and decode to it, ignoring the declared shape when the sizes
  differ; LSB then restores the chunk's shape from its own header. zarr gives a filter
  no way to see the serializer that follows it, so this rule cannot be checked when the
  array is created: with zarr's ``bytes`` serializer writing would succeed and reading
  would fail (``bytes`` reshapes the longer chunk to the nominal shape and raises). The
  bytes written are complete LSB chunks, so nothing is lost, but use a self-describing
  serializer.
"""
from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np

try:
    from zarr.abc.codec import ArrayArrayCodec, ArrayBytesCodec, ArrayBytesCodecPartialDecodeMixin
    from zarr.core.common import parse_named_configuration
except ImportError as exc:  # zarr 2 (or no zarr): this module is only for zarr-python 3
    raise ImportError(
        "numcodecs_ephys.zarr3 needs zarr-python >= 3 (found an older or no zarr). With zarr 2, "
        "use the numcodecs classes from numcodecs_ephys directly (compressor=..., filters=[...])."
    ) from exc

from . import _filters as F
from .bittruncation import BitTruncation as _NcBitTruncation
from .delta2d import AXES as _DELTA_AXES
from .delta2d import Delta2D as _NcDelta2D
from .flac import FLAC as _NcFLAC
from .flac import FLACLegacy as _NcFLACLegacy
from .lpc import EphysLPC as _NcEphysLPC
from .lsb import LSB as _NcLSB
from .wavpack import WavPack as _NcWavPack
from .wavpack import WavPackLegacy as _NcWavPackLegacy

__all__ = ["WavPack", "FLAC", "WavPackLegacy", "FLACLegacy", "Delta2D", "BitTruncation", "LSB",
           "EphysLPC", "from_numcodecs"]

NAME_PREFIX = "numcodecs_ephys."


def _freeze(value):
    """JSON values as hashable values for a frozen dataclass (lists -> tuples)."""
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value):
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


def _native(spec_dtype):
    return np.dtype(spec_dtype.to_native_dtype()).newbyteorder("=")


class _Wrapper:
    """Shared by every codec here: a frozen dataclass whose fields are the numcodecs
    codec's parameters, validated and normalized by building that codec."""

    _numcodecs_cls: ClassVar[type]
    codec_name: ClassVar[str]

    def __post_init__(self):
        codec = self._numcodecs_cls(**self._params())
        for key, value in codec.get_config().items():
            if key != "id":
                object.__setattr__(self, key, _freeze(value))
        self.__dict__["_codec"] = codec

    def _params(self):
        return {f.name: _thaw(getattr(self, f.name)) for f in fields(self)}

    @property
    def numcodecs_codec(self):
        """The numcodecs codec this zarr 3 codec runs (for format-2 arrays and direct use)."""
        return self._codec

    @classmethod
    def from_numcodecs(cls, codec):
        config = dict(codec.get_config())
        config.pop("id", None)
        return cls(**config)

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        _, configuration = parse_named_configuration(data, cls.codec_name, require_configuration=False)
        configuration = dict(configuration or {})
        configuration.pop("num_threads", None)  # stored by 0.1.0: the machine that reads decides
        return cls(**configuration)

    def to_dict(self) -> dict[str, Any]:
        # the thread count belongs to the machine that runs the codec, not to the array
        config = {k: v for k, v in self._params().items() if k != "num_threads"}
        return {"name": self.codec_name, "configuration": config}

    def __getstate__(self):
        return self._params()

    def __setstate__(self, state):
        for key, value in state.items():
            object.__setattr__(self, key, _freeze(value))
        self.__post_init__()


class _Serializer(_Wrapper, ArrayBytesCodec):
    """Array -> bytes with a self-describing chunk: decodes to the dtype and shape it recorded."""

    is_fixed_size = False

    def _encode(self, arr):
        return self._codec.encode(arr)

    async def _encode_single(self, chunk_array, chunk_spec):
        arr = chunk_array.as_numpy_array()
        out = await asyncio.to_thread(self._encode, arr)
        return chunk_spec.prototype.buffer.from_bytes(bytes(out) if not isinstance(out, bytes) else out)

    async def _decode_single(self, chunk_bytes, chunk_spec):
        raw = chunk_bytes.as_numpy_array()
        out = await asyncio.to_thread(self._codec.decode, raw)
        out = np.asarray(out)
        if out.size == math.prod(chunk_spec.shape):
            out = out.reshape(chunk_spec.shape)
        # else: a preceding filter (LSB) made the chunk bigger than the array's chunk and
        # restores the shape from its own header
        return chunk_spec.prototype.nd_buffer.from_numpy_array(out)

    def compute_encoded_size(self, input_byte_length, chunk_spec):
        raise NotImplementedError  # variable-size output

    def validate(self, *, shape, dtype, chunk_grid):
        supported = self._supported_dtypes()
        native = _native(dtype)
        if native not in supported:
            names = ", ".join(str(d) for d in supported)
            raise ValueError(f"{type(self).__name__} (zarr codec {self.codec_name!r}) supports dtypes {names}; "
                             f"the array is {native}")

    def _supported_dtypes(self):
        from .wavpack import SUPPORTED_DTYPES
        return SUPPORTED_DTYPES


class _ChannelBlockSerializer(_Serializer, ArrayBytesCodecPartialDecodeMixin):
    """A serializer of the chunk container: a read of some channels decodes only the channel
    blocks holding them (zarr's partial decoding; inside a sharding codec too). zarr uses it
    when this serializer is the array's only codec (no filters, no compressors)."""

    async def _decode_partial_single(self, byte_getter, selection, chunk_spec):
        chunk_bytes = await byte_getter.get(prototype=chunk_spec.prototype)
        if chunk_bytes is None:
            return None
        raw = chunk_bytes.as_numpy_array()
        out = await asyncio.to_thread(self._decode_selection, raw, tuple(selection), tuple(chunk_spec.shape))
        return chunk_spec.prototype.nd_buffer.from_numpy_array(np.asarray(out))

    def _decode_selection(self, raw, selection, shape):
        out = self._codec.decode_selection(raw, selection, shape)
        if out is None:  # the chunk recorded another shape: decode it whole, as _decode_single does
            out = np.asarray(self._codec.decode(raw)).reshape(shape)[selection]
        return out


@dataclass(frozen=True)
class WavPack(_ChannelBlockSerializer):
    """zarr 3 serializer running :class:`numcodecs_ephys.WavPack` (same parameters)."""

    level: int = 2
    bps: float | None = None
    dynamic_noise_shaping: bool = True
    shaping_weight: float = 0.0
    block_channels: int = 16
    num_threads: int | None = field(default=None, compare=False)  # this process only: never stored

    _numcodecs_cls: ClassVar[type] = _NcWavPack
    codec_name: ClassVar[str] = NAME_PREFIX + "wavpack"


@dataclass(frozen=True)
class FLAC(_ChannelBlockSerializer):
    """zarr 3 serializer running :class:`numcodecs_ephys.FLAC` (same parameters)."""

    level: int = 5
    blocksize: int = 4096
    channels_per_stream: int = 2
    block_channels: int = 16
    num_threads: int | None = field(default=None, compare=False)  # this process only: never stored
    exhaustive_stereo: bool = False

    _numcodecs_cls: ClassVar[type] = _NcFLAC
    codec_name: ClassVar[str] = NAME_PREFIX + "flac"

    def _supported_dtypes(self):
        from .flac import _supported_dtypes
        return _supported_dtypes()


@dataclass(frozen=True)
class EphysLPC(_Serializer):
    """zarr 3 serializer running :class:`numcodecs_ephys.EphysLPC` (same parameters)."""

    level: int = 2
    max_error: int = 0
    block_channels: int = 64
    num_threads: int | None = field(default=None, compare=False)  # this process only: never stored

    _numcodecs_cls: ClassVar[type] = _NcEphysLPC
    codec_name: ClassVar[str] = NAME_PREFIX + "lpc"

    def _supported_dtypes(self):
        from .lpc import SUPPORTED_DTYPES
        return SUPPORTED_DTYPES


@dataclass(frozen=True)
class WavPackLegacy(_Serializer):
    """zarr 3 serializer writing/reading wavpack-numcodecs chunks (:class:`numcodecs_ephys.WavPackLegacy`)."""

    level: int = 1
    bps: float | None = None
    dynamic_noise_shaping: bool = True
    shaping_weight: float = 0.0
    num_encoding_threads: int = 1
    num_decoding_threads: int = 8

    _numcodecs_cls: ClassVar[type] = _NcWavPackLegacy
    codec_name: ClassVar[str] = NAME_PREFIX + "wavpack_legacy"

    def _supported_dtypes(self):
        from .wavpack import STREAM_DTYPES  # a bare stream cannot say its samples were unsigned
        return STREAM_DTYPES


@dataclass(frozen=True)
class FLACLegacy(_Serializer):
    """zarr 3 serializer writing/reading flac-numcodecs chunks (:class:`numcodecs_ephys.FLACLegacy`)."""

    level: int = 5
    blocksize: int | None = None
    sample_rate: int = 48000
    tmpdir: str | None = None

    _numcodecs_cls: ClassVar[type] = _NcFLACLegacy
    codec_name: ClassVar[str] = NAME_PREFIX + "flac_legacy"

    def _supported_dtypes(self):
        return (np.dtype("int16"),)


class _Filter(_Wrapper, ArrayArrayCodec):
    is_fixed_size = True
    _supported: ClassVar[tuple]

    def validate(self, *, shape, dtype, chunk_grid):
        native = _native(dtype)
        if native not in self._supported:
            names = ", ".join(str(d) for d in self._supported)
            raise ValueError(f"{type(self).__name__} (zarr codec {self.codec_name!r}) supports dtypes {names}; "
                             f"the array is {native}")

    def compute_encoded_size(self, input_byte_length, chunk_spec):
        return input_byte_length


class _HeaderlessFilter(_Filter):
    """A filter whose header holds only what the chunk spec and configuration know:
    stored without it (shape-preserving), rebuilt before decoding."""

    _filter_id: ClassVar[int]

    def _param(self) -> int:
        raise NotImplementedError

    def _encode(self, arr):
        enc = np.asarray(self._codec.encode(arr))
        src, _ = F.as_input(arr, type(self).__name__, self._supported)
        info, _ = F.layout(self._filter_id, src, self._param())
        raw = enc.reshape(-1).view(np.uint8)
        return raw[int(info.payload_offset):].view(src.dtype).reshape(src.shape)

    def _decode(self, arr, dtype):
        # the array's own shape, not the chunk spec's: after LSB the chunk is bigger than
        # the spec (our serializers decode to the shape they recorded)
        samples = np.ascontiguousarray(arr, dtype=dtype)
        shape = samples.shape
        info, _ = F.layout(self._filter_id, samples, self._param())
        if int(info.total_bytes) != int(info.payload_offset) + samples.nbytes:
            raise ValueError(f"cannot decode {type(self).__name__} chunk: unexpected layout")
        raw = np.empty(int(info.total_bytes), dtype=np.uint8)
        raw[int(info.payload_offset):] = samples.reshape(-1).view(np.uint8)
        F.lib.ephys_filter_write_header(info, F.ffi.from_buffer(raw))
        F.lib.ephys_filter_pad_header(info, F.ffi.from_buffer(raw))
        F.check(F.lib.ephys_filter_seal(F.ffi.from_buffer(raw), raw.nbytes, F.lib.EPHYS_FILTER_UNCHECKED,
                                        F.ffi.NULL, 0),
                f"cannot decode {type(self).__name__} chunk")
        return self._codec.decode(raw).reshape(shape)

    async def _encode_single(self, chunk_array, chunk_spec):
        out = await asyncio.to_thread(self._encode, chunk_array.as_numpy_array())
        return chunk_spec.prototype.nd_buffer.from_numpy_array(out)

    async def _decode_single(self, chunk_array, chunk_spec):
        out = await asyncio.to_thread(self._decode, chunk_array.as_numpy_array(), _native(chunk_spec.dtype))
        return chunk_spec.prototype.nd_buffer.from_numpy_array(out)


@dataclass(frozen=True)
class Delta2D(_HeaderlessFilter):
    """zarr 3 filter running :class:`numcodecs_ephys.Delta2D`; shape- and dtype-preserving."""

    axis: str = "time"
    num_threads: int | None = field(default=None, compare=False)  # this process only: never stored

    _numcodecs_cls: ClassVar[type] = _NcDelta2D
    codec_name: ClassVar[str] = NAME_PREFIX + "delta2d"
    _filter_id: ClassVar[int] = F.lib.EPHYS_FILTER_DELTA2D
    _supported: ClassVar[tuple] = tuple(np.dtype(t) for t in ("int8", "int16", "int32", "int64"))

    def _param(self):
        return _DELTA_AXES[self.axis]


@dataclass(frozen=True)
class BitTruncation(_HeaderlessFilter):
    """zarr 3 filter running :class:`numcodecs_ephys.BitTruncation` (lossy); shape- and dtype-preserving."""

    bits: int = 0
    num_threads: int | None = field(default=None, compare=False)  # this process only: never stored

    _numcodecs_cls: ClassVar[type] = _NcBitTruncation
    codec_name: ClassVar[str] = NAME_PREFIX + "bittruncation"
    _filter_id: ClassVar[int] = F.lib.EPHYS_FILTER_BITTRUNCATION
    _supported: ClassVar[tuple] = (np.dtype("int16"), np.dtype("int32"))

    def _param(self):
        return self.bits

    def validate(self, *, shape, dtype, chunk_grid):
        super().validate(shape=shape, dtype=dtype, chunk_grid=chunk_grid)
        limit = 15 if _native(dtype).itemsize == 2 else 31
        if self.bits > limit:
            raise ValueError(f"BitTruncation bits={self.bits} is too many for {_native(dtype)}: at most {limit}")


@dataclass(frozen=True)
class LSB(_Filter):
    """zarr 3 filter running :class:`numcodecs_ephys.LSB` (lossless).

    Its encoded chunk carries a per-chunk correction table, so it is bigger than the
    chunk (see the module docstring): put ``numcodecs_ephys.wavpack`` or
    ``numcodecs_ephys.flac`` after it as the serializer.
    """

    offsets: float | tuple = 0.0
    steps: float | tuple = 1.0
    num_threads: int | None = field(default=None, compare=False)  # this process only: never stored

    _numcodecs_cls: ClassVar[type] = _NcLSB
    codec_name: ClassVar[str] = NAME_PREFIX + "lsb"
    _supported: ClassVar[tuple] = (np.dtype("int16"), np.dtype("int32"))
    is_fixed_size = False

    def validate(self, *, shape, dtype, chunk_grid):
        super().validate(shape=shape, dtype=dtype, chunk_grid=chunk_grid)
        chunk_shape = getattr(chunk_grid, "chunk_shape", None)
        for name in ("offsets", "steps"):
            value = getattr(self, name)
            if isinstance(value, tuple) and chunk_shape is not None:
                n = F.n_channels(tuple(chunk_shape))
                if len(value) != n:
                    raise ValueError(f"LSB has {len(value)} {name} but the array's chunks have {n} channels")

    def compute_encoded_size(self, input_byte_length, chunk_spec):
        raise NotImplementedError  # the correction table's size depends on the data

    async def _encode_single(self, chunk_array, chunk_spec):
        out = await asyncio.to_thread(self._codec.encode, chunk_array.as_numpy_array())
        return chunk_spec.prototype.nd_buffer.from_numpy_array(np.asarray(out))

    async def _decode_single(self, chunk_array, chunk_spec):
        arr = chunk_array.as_numpy_array()
        out = await asyncio.to_thread(self._codec.decode, arr)
        out = np.asarray(out)
        if out.shape != tuple(chunk_spec.shape):
            out = out.reshape(chunk_spec.shape)
        return chunk_spec.prototype.nd_buffer.from_numpy_array(out)


_BY_NUMCODECS = {
    _NcWavPack: WavPack, _NcFLAC: FLAC, _NcWavPackLegacy: WavPackLegacy, _NcFLACLegacy: FLACLegacy,
    _NcDelta2D: Delta2D, _NcBitTruncation: BitTruncation, _NcLSB: LSB, _NcEphysLPC: EphysLPC,
}


def from_numcodecs(codec):
    """The zarr 3 codec for a numcodecs_ephys codec instance (same configuration)."""
    try:
        return _BY_NUMCODECS[type(codec)].from_numcodecs(codec)
    except KeyError:
        raise TypeError(f"not a numcodecs_ephys codec: {codec!r}") from None
