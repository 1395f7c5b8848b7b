"""HDF5 filters for h5py, pynwb and NeuroConv: WavPack (lossless and hybrid), FLAC and EphysLPC.

Importing this module registers both filters with h5py's HDF5, so that::

    import numcodecs_ephys.hdf5 as eh5
    f.create_dataset("data", data=x, chunks=(30000, 64), **eh5.WavPackH5())
    H5DataIO(x, **eh5.WavPackH5(bps=3), allow_plugin_filters=True)   # pynwb

write and read them. Reading needs no import: the installed ``numcodecs_ephys_hdf5.pth``
appends :data:`PLUGIN_PATH` to ``HDF5_PLUGIN_PATH`` when Python starts (keeping a path the
user set), so plain h5py/pynwb read our files in any process of that environment.
Programs outside it (h5dump, HDFView, MATLAB, netCDF) read the same files when
``HDF5_PLUGIN_PATH`` names :data:`PLUGIN_PATH`.

Each HDF5 chunk is one numcodecs-ephys chunk, byte-identical to what
:class:`numcodecs_ephys.WavPack` / :class:`numcodecs_ephys.FLAC` with the same options
write for that chunk: axis 0 of the dataset is time, the other axes are channels.

:func:`references` builds kerchunk references of a file whose datasets use these filters
(fsspec ``reference://`` + zarr, xarray); ``EphysHdf5ToZarr`` (imported on first use, it
needs kerchunk) is kerchunk's ``SingleHdf5ToZarr`` with our filters mapped.

Filter ids (HDF5's private range, 32768-65535): WavPack 58736, FLAC 58737, EphysLPC 58738. The FLAC
filter does not use FLAC's registered id 32027 because it stores our container (channel
blocks of stereo-paired FLAC streams), not one plain FLAC stream.
"""

import ctypes
import os
import struct
import warnings

import h5py

from . import flac as _flac
from . import lpc as _lpc
from . import wavpack as _wavpack
from ._codec import stored_params

__all__ = [
    "WavPackH5",
    "FLACH5",
    "LPCH5",
    "PLUGIN_PATH",
    "WAVPACK_FILTER_ID",
    "FLAC_FILTER_ID",
    "LPC_FILTER_ID",
    "FILTERS",
    "plugin_library",
    "codec_for_filter",
    "references",
]

PLUGIN_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plugins")
"""Directory of the filter libraries, for ``HDF5_PLUGIN_PATH``."""

WAVPACK_FILTER_ID = 58736
FLAC_FILTER_ID = 58737
LPC_FILTER_ID = 58738
_LIBRARIES = {
    WAVPACK_FILTER_ID: "libh5ephys_wavpack.so",
    FLAC_FILTER_ID: "libh5ephys_flac.so",
    LPC_FILTER_ID: "libh5ephys_lpc.so",
}


def plugin_library(filter_id):
    """Path of the library of a filter id."""
    return os.path.join(PLUGIN_PATH, _LIBRARIES[filter_id])


def _register(filter_id):
    """Load a filter library with ctypes and register it with h5py's HDF5 (as hdf5plugin does).

    The library does not link libhdf5: it calls the HDF5 that calls it, so the same file
    works in h5py (which bundles its own libhdf5) and in programs linked to another one."""
    if h5py.h5z.filter_avail(filter_id):  # already registered, or found on HDF5_PLUGIN_PATH
        return None
    path = plugin_library(filter_id)
    if not os.path.exists(path):
        raise ImportError(f"the HDF5 filter library {path} is missing; reinstall numcodecs-ephys")
    lib = ctypes.CDLL(path)
    lib.H5PLget_plugin_info.restype = ctypes.c_void_p
    if not h5py.h5z.register_filter(lib.H5PLget_plugin_info()):
        raise ImportError(f"HDF5 refused to register the filter in {path}")
    return lib


_libraries = {fid: _register(fid) for fid in _LIBRARIES}  # keep the libraries loaded


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

    Integer data (int8, int16, int32, uint8, uint16, uint32). Threads as for :class:`WavPackH5`.

    cd_values: ``(level, max_error, block_channels, 0)``, then layout version 1, dtype code,
    chunk rank and chunk dims.
    """

    filter_id = LPC_FILTER_ID
    _codec_cls = _lpc.EphysLPC

    def __init__(self, level=2, max_error=0, block_channels=_lpc.BLOCK_CHANNELS, num_threads=None):
        self._take_options(self._codec_cls(level, max_error, block_channels))
        self.filter_options = (self.level, self.max_error, self.block_channels, _no_stored_threads(num_threads))

    @classmethod
    def from_cd_values(cls, cd_values):
        """The filter of a dataset, from its cd_values (``dataset._filters[str(filter_id)]``)."""
        level, max_error, block_channels, _ = _user_values(cls, cd_values)
        return cls(level=level, max_error=max_error, block_channels=block_channels)


FILTERS = {cls.filter_id: cls for cls in (WavPackH5, FLACH5, LPCH5)}
"""Our filter classes by HDF5 filter id: what maps a dataset's filter to a numcodecs codec
(references, :func:`codec_for_filter`). A new filter class is one more entry here."""


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


def references(path_or_url, *, inline_threshold=500, error="warn", **storage_options):
    """kerchunk references (a ``{"version": 1, "refs": ...}`` dict) of an HDF5/NWB file whose
    datasets may use our filters, for fsspec's ``reference://`` filesystem, zarr and xarray.

    Our HDF5 chunks are byte-identical to the chunks of the numcodecs codecs, so each
    reference points at the bytes in the file and the zarr metadata names the codec (with the
    file's options) in ``filters``. Other datasets are translated by kerchunk as usual;
    ``inline_threshold`` and ``error`` are kerchunk's (``error="warn"``: a dataset kerchunk
    cannot translate is left out with a warning). ``storage_options`` open ``path_or_url``
    with fsspec (e.g. ``anon=True`` or ``client_kwargs={"endpoint_url": ...}`` for S3).
    Needs kerchunk (``pip install numcodecs-ephys[references]``).
    """
    from ._kerchunk import EphysHdf5ToZarr

    translator = EphysHdf5ToZarr(
        path_or_url, inline_threshold=inline_threshold, error=error, storage_options=storage_options
    )
    try:
        return translator.translate()
    finally:
        if hasattr(translator, "close"):  # kerchunk >= 0.2.8; 0.2.7 leaves the file to the GC
            translator.close()


def __getattr__(name):
    # the kerchunk subclass is built on first use: kerchunk (and zarr) stay unimported otherwise
    if name == "EphysHdf5ToZarr":
        from ._kerchunk import EphysHdf5ToZarr

        return EphysHdf5ToZarr
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
