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
``WavPackNumcodecsFormat`` (serializer)     wavpack                        ``WavPackLegacy`` (0.3 arrays)
``Delta2D``        (filter)                 numcodecs_ephys.delta2d        ``numcodecs_ephys.Delta2D``
``BitTruncation``  (filter)                 numcodecs_ephys.bittruncation  ``numcodecs_ephys.BitTruncation``
``LSB``            (serializer, wrapping)   numcodecs_ephys.lsb            ``numcodecs_ephys.LSB``
``EphysLPC``       (serializer)             numcodecs_ephys.lpc            ``numcodecs_ephys.EphysLPC``
==========================================  =========================  =====================

Use them as ``zarr.create_array(..., serializer=WavPack(), filters=[Delta2D()],
compressors=None)``, or ``serializer=LSB(offsets, steps, serializer=WavPack())``;
:func:`from_numcodecs_chain` turns a numcodecs chain into these arguments. Format-2 arrays
(zarr 2, or ``zarr_format=2`` in zarr 3) keep using the numcodecs classes from
``numcodecs_ephys``.

Importing this module needs zarr >= 3; ``import numcodecs_ephys`` never imports it (zarr 3
loads it through the entry points when it meets one of the names above), so the package
works unchanged with zarr 2.

Filters, LSB, and the specs zarr relies on
------------------------------------------
A zarr 3 codec declares the spec (shape, dtype) of its output once for all chunks, and the
next codec (zarr's ``bytes`` serializer in particular) trusts it when decoding. So:

* ``Delta2D`` and ``BitTruncation`` are filters whose output has the chunk's shape and
  dtype, as they declare: they run the C kernels on the bare samples. The numcodecs
  classes put a header before the same samples because numcodecs codecs hand each other
  bare bytes; here the array metadata already holds what it says (dtype, chunk shape, the
  parameter), so it is not stored. They work before any serializer (``bytes``, sharding,
  ours). Stores written by 0.1.0 hold exactly these bytes.
* ``LSB`` is a serializer that wraps the next one: ``LSB(offsets, steps,
  serializer=WavPack())``. Its encoded chunk carries a per-chunk correction table and
  escaped samples, so it is bigger than the array's chunk by an amount that depends on the
  data: no filter could declare its output spec truthfully, and zarr gives a filter no way
  to check the serializer that follows it. As a serializer, LSB hands its chunk to the
  serializer it wraps with the chunk's true shape, and it checks when the array is created
  that this serializer records the shape (ours do; zarr's ``bytes`` cannot, and is
  refused). The bytes stored are those 0.1.0 stored with LSB as a filter before the same
  serializer, and arrays written that way still open (``LSB.from_dict`` reads that form).

Lossy steps after a filter follow one rule on both stacks (``_filter_frame.LOSSY_AFTER_FILTER_RULE``):
here a filter's declared spec tells the lossy codec after it, and LSB checks the serializer
it wraps when the array is created.
"""

from __future__ import annotations

import asyncio
import inspect
import math
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np

try:
    from zarr.abc.codec import ArrayArrayCodec, ArrayBytesCodec, ArrayBytesCodecPartialDecodeMixin
    from zarr.core.array_spec import ArraySpec
    from zarr.core.common import parse_named_configuration
    from zarr.core.dtype import get_data_type_from_native_dtype
except ImportError as exc:  # zarr 2 (or no zarr): this module is only for zarr-python 3
    raise ImportError(
        "numcodecs_ephys.zarr3 needs zarr-python >= 3 (found an older or no zarr). With zarr 2, "
        "use the numcodecs classes from numcodecs_ephys directly (compressor=..., filters=[...])."
    ) from exc

from . import _filter_frame as F
from . import _threads
from . import bittruncation as _bittruncation
from . import delta2d as _delta2d
from . import flac as _flac
from . import lpc as _lpc
from . import lsb as _lsb
from . import wavpack as _wavpack
from ._extension import check, ffi, lib
from .bittruncation import BitTruncation as _NcBitTruncation
from .delta2d import Delta2D as _NcDelta2D
from .flac import FLAC as _NcFLAC
from .flac import FLACLegacy as _NcFLACLegacy
from .lpc import EphysLPC as _NcEphysLPC
from .lsb import LSB as _NcLSB
from .wavpack import WavPack as _NcWavPack
from .wavpack import WavPackLegacy as _NcWavPackLegacy

__all__ = [
    "WavPack",
    "FLAC",
    "WavPackLegacy",
    "FLACLegacy",
    "WavPackNumcodecsFormat",
    "Delta2D",
    "BitTruncation",
    "LSB",
    "EphysLPC",
    "from_numcodecs",
    "from_numcodecs_chain",
]

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


def _default(numcodecs_cls, name):
    """A parameter's default in the numcodecs class's constructor: the dataclasses here take
    theirs from it, so that a default is stated once."""
    return inspect.signature(numcodecs_cls.__init__).parameters[name].default


class _FilteredSpec(ArraySpec):
    """The chunk spec after one of our filters: the names of the filters that transformed
    the chunk, so that a lossy codec after them can refuse it (the lossy-after-a-filter rule)."""

    filtered_by: tuple[str, ...] = ()


def _mark_filtered(chunk_spec, name):
    marked = _FilteredSpec(
        shape=chunk_spec.shape,
        dtype=chunk_spec.dtype,
        fill_value=chunk_spec.fill_value,
        config=chunk_spec.config,
        prototype=chunk_spec.prototype,
    )
    object.__setattr__(marked, "filtered_by", getattr(chunk_spec, "filtered_by", ()) + (name,))
    return marked


def _refuse_if_filtered(who, chunk_spec):
    filtered_by = getattr(chunk_spec, "filtered_by", ())
    if filtered_by:
        F.refuse_lossy_after_filter(who, " then ".join(filtered_by))


class _Wrapper:
    """Shared by every codec here: a frozen dataclass whose fields are the numcodecs
    codec's parameters, validated and normalized by building that codec."""

    _numcodecs_cls: ClassVar[type]
    codec_name: ClassVar[str]
    _supported: ClassVar[tuple]  # the dtypes of the arrays it takes

    def validate(self, *, shape, dtype, chunk_grid):
        native = _native(dtype)
        if native not in self._supported:
            names = ", ".join(str(d) for d in self._supported)
            raise ValueError(
                f"{type(self).__name__} (zarr codec {self.codec_name!r}) supports dtypes {names}; the array is {native}"
            )

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

    @property
    def lossy(self) -> bool:
        """Whether this serializer codes lossily (the lossy-after-a-filter rule applies)."""
        return bool(getattr(self, "bps", None) or getattr(self, "max_error", 0))

    def _encode(self, arr):
        return self._codec.encode(arr)

    async def _encode_single(self, chunk_array, chunk_spec):
        if self.lossy:
            _refuse_if_filtered(type(self).__name__ + " (lossy)", chunk_spec)
        arr = chunk_array.as_numpy_array()
        out = await asyncio.to_thread(self._encode, arr)
        return chunk_spec.prototype.buffer.from_bytes(bytes(out) if not isinstance(out, bytes) else out)

    async def _decode_single(self, chunk_bytes, chunk_spec):
        raw = chunk_bytes.as_numpy_array()
        out = await asyncio.to_thread(self._codec.decode, raw)
        out = np.asarray(out)
        if out.size == math.prod(chunk_spec.shape):
            out = out.reshape(chunk_spec.shape)
        # else: this serializer is wrapped by LSB (or follows LSB in a 0.1.0 array), whose
        # chunk is bigger than the array's chunk; LSB restores the shape from its own header
        return chunk_spec.prototype.nd_buffer.from_numpy_array(out)

    def compute_encoded_size(self, input_byte_length, chunk_spec):
        raise NotImplementedError  # variable-size output


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

    level: int = _default(_NcWavPack, "level")
    bps: float | None = _default(_NcWavPack, "bps")
    dynamic_noise_shaping: bool = _default(_NcWavPack, "dynamic_noise_shaping")
    shaping_weight: float = _default(_NcWavPack, "shaping_weight")
    block_channels: int = _default(_NcWavPack, "block_channels")
    num_threads: int | None = field(default=None, compare=False)  # this process only: never stored

    _numcodecs_cls: ClassVar[type] = _NcWavPack
    codec_name: ClassVar[str] = NAME_PREFIX + "wavpack"
    _supported: ClassVar[tuple] = _wavpack.SUPPORTED_DTYPES


@dataclass(frozen=True)
class FLAC(_ChannelBlockSerializer):
    """zarr 3 serializer running :class:`numcodecs_ephys.FLAC` (same parameters)."""

    level: int = _default(_NcFLAC, "level")
    blocksize: int = _default(_NcFLAC, "blocksize")
    channels_per_stream: int = _default(_NcFLAC, "channels_per_stream")
    block_channels: int = _default(_NcFLAC, "block_channels")
    num_threads: int | None = field(default=None, compare=False)  # this process only: never stored
    exhaustive_stereo: bool = _default(_NcFLAC, "exhaustive_stereo")

    _numcodecs_cls: ClassVar[type] = _NcFLAC
    codec_name: ClassVar[str] = NAME_PREFIX + "flac"
    _supported: ClassVar[tuple] = _flac._supported_dtypes()  # this libFLAC's


@dataclass(frozen=True)
class EphysLPC(_ChannelBlockSerializer):
    """zarr 3 serializer running :class:`numcodecs_ephys.EphysLPC` (same parameters)."""

    level: int = _default(_NcEphysLPC, "level")
    max_error: int = _default(_NcEphysLPC, "max_error")
    block_channels: int = _default(_NcEphysLPC, "block_channels")
    num_threads: int | None = field(default=None, compare=False)  # this process only: never stored

    _numcodecs_cls: ClassVar[type] = _NcEphysLPC
    codec_name: ClassVar[str] = NAME_PREFIX + "lpc"
    _supported: ClassVar[tuple] = _lpc.SUPPORTED_DTYPES


@dataclass(frozen=True)
class WavPackLegacy(_Serializer):
    """zarr 3 serializer writing/reading wavpack-numcodecs chunks (:class:`numcodecs_ephys.WavPackLegacy`)."""

    level: int = _default(_NcWavPackLegacy, "level")
    bps: float | None = _default(_NcWavPackLegacy, "bps")
    dynamic_noise_shaping: bool = _default(_NcWavPackLegacy, "dynamic_noise_shaping")
    shaping_weight: float = _default(_NcWavPackLegacy, "shaping_weight")
    num_encoding_threads: int = _default(_NcWavPackLegacy, "num_encoding_threads")
    num_decoding_threads: int = _default(_NcWavPackLegacy, "num_decoding_threads")

    _numcodecs_cls: ClassVar[type] = _NcWavPackLegacy
    codec_name: ClassVar[str] = NAME_PREFIX + "wavpack_legacy"
    _supported: ClassVar[tuple] = _wavpack.STREAM_DTYPES  # a bare stream cannot say its samples were unsigned


@dataclass(frozen=True)
class WavPackNumcodecsFormat(WavPackLegacy):
    """The zarr 3 codec of wavpack-numcodecs >= 0.3 (name ``"wavpack"``, its parameters at the
    top level of the codec entry, not under ``configuration``): the same bare WavPack chunks
    as :class:`WavPackLegacy`, so that zarr 3 arrays written by that package open with
    numcodecs-ephys alone. zarr gets this class for the name ``"wavpack"`` only when no other
    installed package declares that name (:func:`_wavpack_name_owner`). Its thread counts are
    accepted and not written back: the machine that runs the codec decides."""

    codec_name: ClassVar[str] = "wavpack"

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        data = dict(data)
        if data.pop("name", None) != cls.codec_name:
            raise ValueError(f"expected a codec entry named {cls.codec_name!r}, got {data!r}")
        params = data.pop("configuration", None) or {}  # the usual zarr 3 layout reads too
        params = {**data, **params}
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - names)
        if unknown:
            raise ValueError(f"codec 'wavpack': unknown parameters {unknown}; it takes {sorted(names)}")
        return cls(**params)

    def to_dict(self) -> dict[str, Any]:
        params = {k: v for k, v in self._params().items() if not k.endswith("_threads")}
        return {"name": self.codec_name, **params, "bps": params["bps"] or None}


def _wavpack_name_owner():
    """The class zarr registers for the codec name ``"wavpack"`` (the entry point ``wavpack``
    of pyproject.toml names this function's result): another package's when one declares that
    name too (wavpack-numcodecs >= 0.3: then zarr finds one class, not two to choose from,
    and both read the same chunks), :class:`WavPackNumcodecsFormat` otherwise."""
    from importlib.metadata import entry_points

    for entry in entry_points(group="zarr.codecs", name="wavpack"):
        if entry.value.replace(" ", "") != f"{__name__}:WavPackByName":
            return entry.load()
    return WavPackNumcodecsFormat


def __getattr__(name):
    if name == "WavPackByName":  # resolved when zarr first meets the name "wavpack"
        return _wavpack_name_owner()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class FLACLegacy(_Serializer):
    """zarr 3 serializer writing/reading flac-numcodecs chunks (:class:`numcodecs_ephys.FLACLegacy`)."""

    level: int = _default(_NcFLACLegacy, "level")
    blocksize: int | None = _default(_NcFLACLegacy, "blocksize")
    sample_rate: int = _default(_NcFLACLegacy, "sample_rate")
    tmpdir: str | None = _default(_NcFLACLegacy, "tmpdir")

    _numcodecs_cls: ClassVar[type] = _NcFLACLegacy
    codec_name: ClassVar[str] = NAME_PREFIX + "flac_legacy"
    _supported: ClassVar[tuple] = (np.dtype("int16"),)


class _Filter(_Wrapper, ArrayArrayCodec):
    """A filter whose zarr 3 chunk is its C kernel's output alone: the chunk's shape and
    dtype, as declared (see the module docstring). Stores written by 0.1.0 hold the same bytes."""

    is_fixed_size = True

    def compute_encoded_size(self, input_byte_length, chunk_spec):
        return input_byte_length

    def resolve_metadata(self, chunk_spec):
        return _mark_filtered(chunk_spec, type(self).__name__)

    def _apply(self, src, out):
        """The kernel from src into out (both C-contiguous, aligned, of the chunk's shape)."""
        raise NotImplementedError

    def _invert(self, data):
        """The inverse kernel, in place."""
        raise NotImplementedError

    def _encode(self, arr):
        src, _ = F.as_input(arr, type(self).__name__, self._supported)
        out = np.empty(src.shape, src.dtype)
        self._apply(src, out)
        return out

    def _decode(self, arr, dtype):
        # the array's own shape, not the chunk spec's: in a 0.1.0 array this filter may follow
        # LSB, whose chunk is bigger than the spec (our serializers decode to the shape they recorded)
        data = np.array(arr, dtype=dtype, order="C")  # a copy of our own, inverted in place
        self._invert(data)
        return data

    async def _encode_single(self, chunk_array, chunk_spec):
        out = await asyncio.to_thread(self._encode, chunk_array.as_numpy_array())
        return chunk_spec.prototype.nd_buffer.from_numpy_array(out)

    async def _decode_single(self, chunk_array, chunk_spec):
        out = await asyncio.to_thread(self._decode, chunk_array.as_numpy_array(), _native(chunk_spec.dtype))
        return chunk_spec.prototype.nd_buffer.from_numpy_array(out)


def _ptr(arr):
    return ffi.from_buffer(arr)


@dataclass(frozen=True)
class Delta2D(_Filter):
    """zarr 3 filter running the kernel of :class:`numcodecs_ephys.Delta2D`; shape- and dtype-preserving."""

    axis: str = _default(_NcDelta2D, "axis")
    num_threads: int | None = field(default=None, compare=False)  # this process only: never stored

    _numcodecs_cls: ClassVar[type] = _NcDelta2D
    codec_name: ClassVar[str] = NAME_PREFIX + "delta2d"
    _supported: ClassVar[tuple] = _delta2d.SUPPORTED_DTYPES

    def _apply(self, src, out):
        check(
            lib.ephys_delta2d_apply(
                _ptr(src),
                _ptr(out),
                src.nbytes,
                src.itemsize,
                *F.samples_and_channels(src.shape),
                _delta2d.AXES[self.axis],
                _threads.threads(self.num_threads),
            ),
            "Delta2D encoding failed",
        )

    def _invert(self, data):
        check(
            lib.ephys_delta2d_invert(
                _ptr(data),
                data.nbytes,
                data.itemsize,
                *F.samples_and_channels(data.shape),
                _delta2d.AXES[self.axis],
                _threads.threads(self.num_threads),
            ),
            "cannot decode Delta2D chunk",
        )


@dataclass(frozen=True)
class BitTruncation(_Filter):
    """zarr 3 filter running the kernel of :class:`numcodecs_ephys.BitTruncation` (lossy);
    shape- and dtype-preserving."""

    bits: int = _default(_NcBitTruncation, "bits")
    num_threads: int | None = field(default=None, compare=False)  # this process only: never stored

    _numcodecs_cls: ClassVar[type] = _NcBitTruncation
    codec_name: ClassVar[str] = NAME_PREFIX + "bittruncation"
    _supported: ClassVar[tuple] = _bittruncation.SUPPORTED_DTYPES

    def validate(self, *, shape, dtype, chunk_grid):
        super().validate(shape=shape, dtype=dtype, chunk_grid=chunk_grid)
        limit = _bittruncation.MAX_BITS[_native(dtype).itemsize]
        if self.bits > limit:
            raise ValueError(f"BitTruncation bits={self.bits} is too many for {_native(dtype)}: at most {limit}")

    async def _encode_single(self, chunk_array, chunk_spec):
        if self.bits:
            _refuse_if_filtered("BitTruncation", chunk_spec)
        return await super()._encode_single(chunk_array, chunk_spec)

    def _apply(self, src, out):
        check(
            lib.ephys_bittruncation_apply(
                _ptr(src), _ptr(out), src.nbytes, src.itemsize, self.bits, _threads.threads(self.num_threads)
            ),
            "BitTruncation encoding failed",
        )

    def _invert(self, data):
        check(
            lib.ephys_bittruncation_invert(
                _ptr(data), _ptr(data), data.nbytes, data.itemsize, self.bits, _threads.threads(self.num_threads)
            ),
            "cannot decode BitTruncation chunk",
        )


def _lsb_validate(codec, dtype, chunk_grid):
    """dtype and per-channel parameter counts of an LSB codec (either form) against the array."""
    native = _native(dtype)
    if native not in _lsb.SUPPORTED_DTYPES + _lsb.FLOAT_DTYPES:
        names = ", ".join(str(d) for d in _lsb.SUPPORTED_DTYPES + _lsb.FLOAT_DTYPES)
        raise ValueError(f"LSB (zarr codec {codec.codec_name!r}) supports dtypes {names}; the array is {native}")
    chunk_shape = getattr(chunk_grid, "chunk_shape", None)
    for name in ("offsets", "steps"):
        value = getattr(codec, name)
        if isinstance(value, tuple) and chunk_shape is not None:
            n = F.n_channels(tuple(chunk_shape))
            if len(value) != n:
                raise ValueError(f"LSB has {len(value)} {name} but the array's chunks have {n} channels")


def _codec_from_dict(data):
    from zarr.registry import get_codec_class

    name, _ = parse_named_configuration(data, require_configuration=False)
    return get_codec_class(name).from_dict(data)


@dataclass(frozen=True)
class LSB(_Wrapper, ArrayBytesCodec):
    """zarr 3 serializer running :class:`numcodecs_ephys.LSB` (lossless), then ``serializer``.

    ``LSB(offsets, steps, serializer=WavPack())``: the LSB chunk (header, correction table,
    grid indices, escapes: bigger than the array's chunk, by an amount that depends on the
    data) goes to ``serializer`` with its true shape. That serializer must record the shape
    it encodes (``WavPack``, ``FLAC``, ``EphysLPC`` of this module: zarr's ``bytes`` cannot)
    and be lossless; both are checked when the array is created. See the module docstring
    for why LSB is a serializer and not a filter.
    """

    offsets: float | tuple = _default(_NcLSB, "offsets")
    steps: float | tuple = _default(_NcLSB, "steps")
    serializer: ArrayBytesCodec = field(default_factory=lambda: WavPack())
    num_threads: int | None = field(default=None, compare=False)  # this process only: never stored

    _numcodecs_cls: ClassVar[type] = _NcLSB
    codec_name: ClassVar[str] = NAME_PREFIX + "lsb"
    is_fixed_size = False

    def _params(self):
        return {f.name: _thaw(getattr(self, f.name)) for f in fields(self) if f.name != "serializer"}

    @classmethod
    def from_numcodecs(cls, codec, serializer=None):
        """The zarr 3 LSB of a numcodecs LSB, wrapping ``serializer`` (default: ``WavPack()``)."""
        config = dict(codec.get_config())
        config.pop("id", None)
        return cls(**config) if serializer is None else cls(serializer=serializer, **config)

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        _, stored = parse_named_configuration(data, cls.codec_name, require_configuration=False)
        configuration: dict[str, Any] = dict(stored or {})
        configuration.pop("num_threads", None)  # stored by 0.1.0: the machine that reads decides
        if "serializer" not in configuration:
            # numcodecs-ephys 0.1.0 wrote LSB as a filter before one of our serializers: such
            # arrays open as written, with the same stored bytes
            return _LSBFilter(**configuration)
        serializer = _codec_from_dict(configuration.pop("serializer"))
        return cls(serializer=serializer, **configuration)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["configuration"]["serializer"] = self.serializer.to_dict()
        return out

    def __getstate__(self):
        return {**self._params(), "serializer": self.serializer}

    def validate(self, *, shape, dtype, chunk_grid):
        _lsb_validate(self, dtype, chunk_grid)
        inner = self.serializer
        if not isinstance(inner, _Serializer):
            raise ValueError(
                f"LSB wraps the serializer {type(inner).__name__}, which does not record the shape of the "
                "chunks it encodes: LSB's chunks are bigger than the array's (a per-chunk correction table) "
                "and could be written but never read back. Wrap numcodecs_ephys.zarr3.WavPack, FLAC or "
                "EphysLPC: LSB(offsets, steps, serializer=WavPack())."
            )
        if inner.lossy:
            F.refuse_lossy_after_filter(f"{type(inner).__name__} (lossy) wrapped by LSB", "LSB")
        # float samples reach the serializer as grid indices: int16, or int32 where they need it
        inner_dtype = get_data_type_from_native_dtype("int32") if _native(dtype).kind == "f" else dtype
        inner.validate(shape=shape, dtype=inner_dtype, chunk_grid=chunk_grid)

    def compute_encoded_size(self, input_byte_length, chunk_spec):
        raise NotImplementedError  # the correction table's size depends on the data

    async def _encode_single(self, chunk_array, chunk_spec):
        enc = np.asarray(await asyncio.to_thread(self._codec.encode, chunk_array.as_numpy_array()))
        # the serializer gets LSB's chunk with its true shape (and the mark of a filter)
        spec = _mark_filtered(
            ArraySpec(
                shape=enc.shape,
                dtype=get_data_type_from_native_dtype(enc.dtype),
                fill_value=0,
                config=chunk_spec.config,
                prototype=chunk_spec.prototype,
            ),
            "LSB",
        )
        (out,) = await self.serializer.encode([(chunk_spec.prototype.nd_buffer.from_numpy_array(enc), spec)])
        return out

    async def _decode_single(self, chunk_bytes, chunk_spec):
        # the wrapped serializer decodes to the shape it recorded (validate makes sure of it);
        # LSB's chunk shape is not known before that
        (enc,) = await self.serializer.decode([(chunk_bytes, chunk_spec)])
        out = await asyncio.to_thread(self._codec.decode, enc.as_numpy_array())
        return chunk_spec.prototype.nd_buffer.from_numpy_array(np.asarray(out).reshape(chunk_spec.shape))


@dataclass(frozen=True)
class _LSBFilter(_Wrapper, ArrayArrayCodec):
    """LSB as numcodecs-ephys 0.1.0 wrote it in zarr 3 arrays: a filter before one of our
    serializers, whose declared output spec (the chunk's) is not its true one. Kept only so
    that those arrays open (``LSB.from_dict`` returns it for that form); new arrays get the
    serializer :class:`LSB`, which writes the same bytes."""

    offsets: float | tuple = _default(_NcLSB, "offsets")
    steps: float | tuple = _default(_NcLSB, "steps")
    num_threads: int | None = field(default=None, compare=False)  # this process only: never stored

    _numcodecs_cls: ClassVar[type] = _NcLSB
    codec_name: ClassVar[str] = NAME_PREFIX + "lsb"
    is_fixed_size = False

    def validate(self, *, shape, dtype, chunk_grid):
        _lsb_validate(self, dtype, chunk_grid)

    def compute_encoded_size(self, input_byte_length, chunk_spec):
        raise NotImplementedError  # the correction table's size depends on the data

    async def _encode_single(self, chunk_array, chunk_spec):
        out = await asyncio.to_thread(self._codec.encode, chunk_array.as_numpy_array())
        return chunk_spec.prototype.nd_buffer.from_numpy_array(np.asarray(out))

    async def _decode_single(self, chunk_array, chunk_spec):
        out = await asyncio.to_thread(self._codec.decode, chunk_array.as_numpy_array())
        return chunk_spec.prototype.nd_buffer.from_numpy_array(np.asarray(out).reshape(chunk_spec.shape))


_BY_NUMCODECS = {
    _NcWavPack: WavPack,
    _NcFLAC: FLAC,
    _NcWavPackLegacy: WavPackLegacy,
    _NcFLACLegacy: FLACLegacy,
    _NcDelta2D: Delta2D,
    _NcBitTruncation: BitTruncation,
    _NcLSB: LSB,
    _NcEphysLPC: EphysLPC,
}


def from_numcodecs(codec):
    """The zarr 3 codec for a numcodecs_ephys codec instance (same configuration); an LSB
    wraps ``WavPack()`` (see :func:`from_numcodecs_chain` for another serializer)."""
    try:
        return _BY_NUMCODECS[type(codec)].from_numcodecs(codec)
    except KeyError:
        raise TypeError(f"not a numcodecs_ephys codec: {codec!r}") from None


def from_numcodecs_chain(compressor, filters=()):
    """``dict(filters=..., serializer=...)`` for ``zarr.create_array`` from a numcodecs chain of
    numcodecs_ephys codecs (``filters``, then ``compressor``, as zarr 2 runs them): an LSB
    filter becomes the serializer wrapping the compressor, so it must be the last filter."""
    filters = list(filters)
    serializer = from_numcodecs(compressor)
    lsb = [i for i, f in enumerate(filters) if isinstance(f, _NcLSB)]
    if lsb:
        if lsb[0] != len(filters) - 1:
            raise ValueError(
                f"in zarr 3, LSB wraps the serializer, so it must be the last filter; got filters {filters!r}"
            )
        serializer = LSB.from_numcodecs(filters.pop(), serializer=serializer)
    return dict(filters=[from_numcodecs(f) for f in filters], serializer=serializer)
