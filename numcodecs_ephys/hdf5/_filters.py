"""The HDF5 filters as h5py ``FilterRefBase`` classes, and the table from filter id to numcodecs codec."""

import struct
import warnings

import h5py
import numpy as np

from .. import flac as _flac
from .. import lpc as _lpc
from .. import wavpack as _wavpack
from .._codec_base import stored_params
from ._filter_ids import FILTER_IDS, FORMER_IDS
from ._plugins import FLAC_FILTER_ID, LPC_FILTER_ID, WAVPACK_FILTER_ID


def _no_stored_threads(num_threads):
    """The cd_values slot where 0.1.0 stored a thread count: always 0 now, since the plugin
    takes the thread count from the process that runs it."""
    if num_threads is not None:
        warnings.warn(
            "HDF5 filters take their thread count from the process that reads or writes "
            "(numcodecs_ephys.set_num_threads or NUMCODECS_EPHYS_NUM_THREADS): num_threads is ignored",
            DeprecationWarning,
            stacklevel=3,
        )
    return 0


def _int32_bits(value):
    return struct.unpack("<I", struct.pack("<i", value))[0]


def _from_int32_bits(value):
    return struct.unpack("<i", struct.pack("<I", value))[0]


def _user_values(cls, cd_values):
    """The user part of a dataset's cd_values (what set_local appended is dropped)."""
    n = len(cls().filter_options)
    values = tuple(int(v) for v in cd_values)
    if len(values) < n:
        raise ValueError(f"{cls.__name__}: expected at least {n} cd_values, got {values}")
    return values[:n]


class _EphysFilter(h5py.filters.FilterRefBase):
    """Shared behaviour: equality by options, eval-able repr, the numcodecs codec. The
    options are the constructor's parameters but ``num_threads``, kept as attributes of the
    same names, as the numcodecs codec's."""

    _codec_cls: type  # the numcodecs codec that writes the same chunks

    def _take_options(self, codec):
        """The options as the numcodecs codec validated and normalized them."""
        for name in stored_params(type(self)):
            setattr(self, name, getattr(codec, name))

    def _args(self):
        return {name: getattr(self, name) for name in stored_params(type(self))}

    def codec(self):
        """The numcodecs codec that writes the same chunks."""
        return self._codec_cls(**self._args())

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self._args().items())})"


class WavPackH5(_EphysFilter):
    """HDF5 filter: WavPack, lossless or hybrid; the options of :class:`numcodecs_ephys.WavPack`.

    ``bps`` is stored in thousandths of a bit (HDF5 filter options are integers), so it is
    rounded to 0.001. The filter runs on as many threads as
    :func:`numcodecs_ephys.set_num_threads` (or ``NUMCODECS_EPHYS_NUM_THREADS``) says in the
    process that reads or writes, every core by default; nothing about threads is stored.

    Reading: any process of the Python environment where numcodecs-ephys is installed reads
    these datasets with plain h5py or pynwb, without importing this module (see the module
    docstring); elsewhere set ``HDF5_PLUGIN_PATH`` to :data:`PLUGIN_PATH`, or import this module.

    cd_values: ``(level, bps * 1000 or 0, dynamic_noise_shaping, shaping_weight * 1000 as
    int32 bits, block_channels, 0)``, then what the filter records when the
    dataset is created: layout version 1, dtype code (1 int8, 2 int16, 3 int32, 4 float32,
    5 uint8, 6 uint16, 7 uint32), chunk rank and chunk dims. Unsigned datasets are stored
    as the numcodecs codecs store unsigned chunks (the signed type, top bit flipped).
    """

    filter_id = WAVPACK_FILTER_ID
    _codec_cls = _wavpack.WavPack

    def __init__(
        self, level=2, bps=None, dynamic_noise_shaping=True, shaping_weight=0.0, block_channels=16, num_threads=None
    ):
        self._take_options(self._codec_cls(level, bps, dynamic_noise_shaping, shaping_weight, block_channels))
        self.bps = round(self.bps * 1000) / 1000 if self.bps else None
        self.shaping_weight = round(self.shaping_weight * 1000) / 1000
        self.filter_options = (
            self.level,
            round(self.bps * 1000) if self.bps else 0,
            int(self.dynamic_noise_shaping),
            _int32_bits(round(self.shaping_weight * 1000)),
            self.block_channels,
            _no_stored_threads(num_threads),
        )

    @classmethod
    def from_cd_values(cls, cd_values):
        """The filter of a dataset, from its cd_values (``dataset._filters[str(filter_id)]``)."""
        # (the slot where 0.1.0 stored a thread count is ignored: the reading machine decides)
        level, bps, shaping, weight, block_channels, _ = _user_values(cls, cd_values)
        return cls(
            level=level,
            bps=bps / 1000 if bps else None,
            dynamic_noise_shaping=bool(shaping),
            shaping_weight=_from_int32_bits(weight) / 1000,
            block_channels=block_channels,
        )


class FLACH5(_EphysFilter):
    """HDF5 filter: FLAC, lossless; the options of :class:`numcodecs_ephys.FLAC`.

    Integer data: int8, int16, uint8, uint16, and int32 and uint32 with libFLAC >= 1.4.
    Reading needs no import, as for :class:`WavPackH5`.

    cd_values: ``(level, blocksize, channels_per_stream, block_channels, 0,
    exhaustive_stereo)``, then layout version 1, dtype code, chunk rank and chunk dims. Threads
    as for :class:`WavPackH5`.
    """

    filter_id = FLAC_FILTER_ID
    _codec_cls = _flac.FLAC

    def __init__(
        self,
        level=5,
        blocksize=4096,
        channels_per_stream=2,
        block_channels=16,
        num_threads=None,
        exhaustive_stereo=False,
    ):
        self._take_options(
            self._codec_cls(level, blocksize, channels_per_stream, block_channels, exhaustive_stereo=exhaustive_stereo)
        )
        self.filter_options = (
            self.level,
            self.blocksize,
            self.channels_per_stream,
            self.block_channels,
            _no_stored_threads(num_threads),
            int(self.exhaustive_stereo),
        )

    @classmethod
    def from_cd_values(cls, cd_values):
        """The filter of a dataset, from its cd_values (``dataset._filters[str(filter_id)]``)."""
        level, blocksize, channels_per_stream, block_channels, _, exhaustive = _user_values(cls, cd_values)
        return cls(level, blocksize, channels_per_stream, block_channels, exhaustive_stereo=bool(exhaustive))


class LPCH5(_EphysFilter):
    """HDF5 filter: EphysLPC, lossless or near-lossless; the options of :class:`numcodecs_ephys.EphysLPC`.

    Integer data (int8, int16, int32, uint8, uint16, uint32) and float32 / float64. Threads
    as for :class:`WavPackH5`.

    cd_values: ``(level, max_error, block_channels, float bound)``, then layout version 1,
    dtype code, chunk rank and chunk dims. A non-integer ``max_error`` (float datasets only)
    is stored as the bit pattern of a float32 in the fourth value (the second is then 0):
    it is rounded down to a float32, so that the bound written is never above the one asked.
    A fourth value that reads as zero or a subnormal float is no bound: files written before
    float support hold 0 or a thread count there.
    """

    filter_id = LPC_FILTER_ID
    _codec_cls = _lpc.EphysLPC

    def __init__(self, level=2, max_error=0, block_channels=_lpc.BLOCK_CHANNELS, num_threads=None):
        _no_stored_threads(num_threads)
        if isinstance(max_error, (float, np.floating)) and float(max_error).is_integer():
            max_error = int(max_error)
        if isinstance(max_error, (float, np.floating)):
            bound = np.float32(max_error)
            if float(bound) > max_error:  # never a looser bound than asked
                bound = np.nextafter(bound, np.float32(0))
            if not bound >= np.finfo(np.float32).smallest_normal:
                raise ValueError(f"LPCH5: a float max_error below float32's smallest normal: {max_error}")
            max_error = float(bound)
        self._take_options(self._codec_cls(level, max_error, block_channels))
        float_bits = int(np.float32(self.max_error).view(np.uint32)) if isinstance(self.max_error, float) else 0
        int_bound = 0 if float_bits else self.max_error
        self.filter_options = (self.level, int_bound, self.block_channels, float_bits)

    @classmethod
    def from_cd_values(cls, cd_values):
        """The filter of a dataset, from its cd_values (``dataset._filters[str(filter_id)]``)."""
        level, max_error, block_channels, float_bits = _user_values(cls, cd_values)
        bound = np.array(float_bits, np.uint32).view(np.float32)
        if not abs(bound) < np.finfo(np.float32).smallest_normal:  # else no bound (0, or an old thread count)
            max_error = float(bound)
        return cls(level=level, max_error=max_error, block_channels=block_channels)


FILTERS = {cls.filter_id: cls for cls in (WavPackH5, FLACH5, LPCH5)}
FILTERS.update({fid: FILTERS[FILTER_IDS[name]] for fid, name in FORMER_IDS.items()})
"""Our filter classes by HDF5 filter id, former ids included: what maps a dataset's filter to a
numcodecs codec (references, :func:`codec_for_filter`). A new filter class is one more entry here."""


def codec_for_filter(filter_id, cd_values):
    """The numcodecs codec that decodes the chunks of one of our HDF5 filters, or None for
    a filter id that is not ours.

    The codec runs on the reading machine's thread setting, whatever thread count a file
    written by 0.1.0 records. Invalid cd_values raise ``ValueError``."""
    try:
        cls = FILTERS[int(filter_id)]
    except (KeyError, ValueError):  # not ours, or a named HDF5 filter ("gzip", "shuffle", ...)
        return None
    return cls.from_cd_values(cd_values).codec()
