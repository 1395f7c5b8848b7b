"""HDF5 filters for h5py, pynwb and NeuroConv: WavPack (lossless and hybrid), FLAC and EphysLPC.

Importing this module registers both filters with h5py's HDF5, so that::

    import numcodecs_ephys.hdf5 as eh5
    f.create_dataset("data", data=x, chunks=(30000, 64), **eh5.WavPackH5())
    H5DataIO(x, **eh5.WavPackH5(bps=3), allow_plugin_filters=True)   # pynwb

write and read them. Programs outside Python (h5dump, HDFView, MATLAB, netCDF) read the
same files when the environment variable ``HDF5_PLUGIN_PATH`` names :data:`PLUGIN_PATH`.

Each HDF5 chunk is one numcodecs-ephys chunk, byte-identical to what
:class:`numcodecs_ephys.WavPack` / :class:`numcodecs_ephys.FLAC` with the same options
write for that chunk: axis 0 of the dataset is time, the other axes are channels.

Filter ids (HDF5's private range, 32768-65535): WavPack 58736, FLAC 58737, EphysLPC 58738. The FLAC
filter does not use FLAC's registered id 32027 because it stores our container (channel
blocks of stereo-paired FLAC streams), not one plain FLAC stream.
"""
import ctypes
import os
import struct

import h5py

from . import flac as _flac
from . import lpc as _lpc
from . import wavpack as _wavpack

__all__ = ["WavPackH5", "FLACH5", "LPCH5", "PLUGIN_PATH", "WAVPACK_FILTER_ID", "FLAC_FILTER_ID", "LPC_FILTER_ID",
           "plugin_library"]

PLUGIN_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plugins")
"""Directory of the filter libraries, for ``HDF5_PLUGIN_PATH``."""

WAVPACK_FILTER_ID = 58736
FLAC_FILTER_ID = 58737
LPC_FILTER_ID = 58738
_LIBRARIES = {WAVPACK_FILTER_ID: "libh5ephys_wavpack.so", FLAC_FILTER_ID: "libh5ephys_flac.so",
              LPC_FILTER_ID: "libh5ephys_lpc.so"}
MAX_THREADS = 256


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


def _threads(num_threads):
    """Option value for a thread count: 0 means every core of the reading/writing machine."""
    if num_threads is None:
        return 0
    if isinstance(num_threads, bool) or int(num_threads) != num_threads or not 1 <= num_threads <= MAX_THREADS:
        raise ValueError(f"num_threads must be None (all cores) or an integer from 1 to {MAX_THREADS}, "
                         f"got {num_threads!r}")
    return int(num_threads)


def _int32_bits(value):
    return struct.unpack("<I", struct.pack("<i", value))[0]


class _EphysFilter(h5py.filters.FilterRefBase):
    """Shared behaviour: equality by options, eval-able repr."""

    def _args(self):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self._args().items())})"


class WavPackH5(_EphysFilter):
    """HDF5 filter: WavPack, lossless or hybrid; the options of :class:`numcodecs_ephys.WavPack`.

    ``bps`` is stored in thousandths of a bit (HDF5 filter options are integers), so it is
    rounded to 0.001. ``num_threads`` is stored in the file and used by readers too; None
    (default) means every core of whichever machine writes or reads.

    cd_values: ``(level, bps * 1000 or 0, dynamic_noise_shaping, shaping_weight * 1000 as
    int32 bits, block_channels, num_threads or 0)``, then what the filter records when the
    dataset is created: layout version 1, dtype code (1 int8, 2 int16, 3 int32, 4 float32),
    chunk rank and chunk dims.
    """

    filter_id = WAVPACK_FILTER_ID

    def __init__(self, level=2, bps=None, dynamic_noise_shaping=True, shaping_weight=0.0,
                 block_channels=96, num_threads=None):
        bps = _wavpack._validate(level, bps, shaping_weight)
        if isinstance(block_channels, bool) or block_channels != int(block_channels) \
                or not 1 <= block_channels <= _wavpack.MAX_CHANNELS_PER_STREAM:
            raise ValueError(f"block_channels must be an integer from 1 to {_wavpack.MAX_CHANNELS_PER_STREAM}, "
                             f"got {block_channels!r}")
        self.level = int(level)
        self.bps = round(bps * 1000) / 1000 if bps else None
        self.dynamic_noise_shaping = bool(dynamic_noise_shaping)
        self.shaping_weight = round(float(shaping_weight) * 1000) / 1000
        self.block_channels = int(block_channels)
        self.num_threads = None if num_threads is None else _threads(num_threads)
        self.filter_options = (self.level, round(self.bps * 1000) if self.bps else 0,
                               int(self.dynamic_noise_shaping), _int32_bits(round(self.shaping_weight * 1000)),
                               self.block_channels, _threads(num_threads))

    def _args(self):
        return dict(level=self.level, bps=self.bps, dynamic_noise_shaping=self.dynamic_noise_shaping,
                    shaping_weight=self.shaping_weight, block_channels=self.block_channels,
                    num_threads=self.num_threads)

    def codec(self):
        """The numcodecs codec that writes the same chunks."""
        return _wavpack.WavPack(**self._args())


class FLACH5(_EphysFilter):
    """HDF5 filter: FLAC, lossless; the options of :class:`numcodecs_ephys.FLAC`.

    Signed integer data only (int8, int16; int32 with libFLAC >= 1.4).

    cd_values: ``(level, blocksize, channels_per_stream, block_channels, num_threads or 0,
    exhaustive_stereo)``, then layout version 1, dtype code, chunk rank and chunk dims.
    """

    filter_id = FLAC_FILTER_ID

    def __init__(self, level=5, blocksize=4096, channels_per_stream=2, block_channels=96, num_threads=None,
                 exhaustive_stereo=False):
        # the numcodecs codec validates the very same options
        codec = _flac.FLAC(level=level, blocksize=blocksize, channels_per_stream=channels_per_stream,
                           block_channels=block_channels, num_threads=num_threads,
                           exhaustive_stereo=exhaustive_stereo)
        self.level, self.blocksize = codec.level, codec.blocksize
        self.channels_per_stream, self.block_channels = codec.channels_per_stream, codec.block_channels
        self.num_threads, self.exhaustive_stereo = codec.num_threads, codec.exhaustive_stereo
        self.filter_options = (self.level, self.blocksize, self.channels_per_stream, self.block_channels,
                               _threads(self.num_threads), int(self.exhaustive_stereo))

    def _args(self):
        return dict(level=self.level, blocksize=self.blocksize, channels_per_stream=self.channels_per_stream,
                    block_channels=self.block_channels, num_threads=self.num_threads,
                    exhaustive_stereo=self.exhaustive_stereo)

    def codec(self):
        """The numcodecs codec that writes the same chunks."""
        return _flac.FLAC(**self._args())


class LPCH5(_EphysFilter):
    """HDF5 filter: EphysLPC, lossless or near-lossless; the options of :class:`numcodecs_ephys.EphysLPC`.

    Signed integer data only (int8, int16, int32).

    cd_values: ``(level, max_error, block_channels, num_threads or 0)``, then layout
    version 1, dtype code, chunk rank and chunk dims.
    """

    filter_id = LPC_FILTER_ID

    def __init__(self, level=2, max_error=0, block_channels=64, num_threads=None):
        codec = _lpc.EphysLPC(level=level, max_error=max_error, block_channels=block_channels,
                              num_threads=num_threads)  # validates the very same options
        self.level, self.max_error = codec.level, codec.max_error
        self.block_channels, self.num_threads = codec.block_channels, codec.num_threads
        self.filter_options = (self.level, self.max_error, self.block_channels, _threads(self.num_threads))

    def _args(self):
        return dict(level=self.level, max_error=self.max_error, block_channels=self.block_channels,
                    num_threads=self.num_threads)

    def codec(self):
        """The numcodecs codec that writes the same chunks."""
        return _lpc.EphysLPC(**self._args())
