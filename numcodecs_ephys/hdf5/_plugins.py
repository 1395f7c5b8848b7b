"""The HDF5 filter plugins: their folder, their filter ids, and loading them into h5py's HDF5."""

import ctypes
import os

import h5py

from ._filter_ids import FILTER_IDS, libraries

PLUGIN_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "plugins")
"""Directory of the filter libraries, for ``HDF5_PLUGIN_PATH``: numcodecs_ephys/plugins, which
the build fills (csrc/build_hdf5_plugins.py) and numcodecs_ephys_hdf5.pth finds."""

WAVPACK_FILTER_ID = FILTER_IDS["wavpack"]
FLAC_FILTER_ID = FILTER_IDS["flac"]
LPC_FILTER_ID = FILTER_IDS["lpc"]
_LIBRARIES = {fid: library for fid, (_, library) in libraries().items()}  # current and former ids


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
