"""Builds the C extension numcodecs_ephys._native with cffi (see csrc/build_native.py)
and the HDF5 filter plugins numcodecs_ephys/plugins/libh5ephys_*.so (csrc/build_hdf5_plugins.py)."""
import sys
from pathlib import Path

from setuptools import setup

sys.path.insert(0, str(Path(__file__).resolve().parent / "csrc"))
from build_hdf5_plugins import BuildExt, plugin_extensions  # noqa: E402

setup(
    cffi_modules=["csrc/build_native.py:ffibuilder"],
    ext_modules=plugin_extensions(),
    cmdclass={"build_ext": BuildExt},
)
