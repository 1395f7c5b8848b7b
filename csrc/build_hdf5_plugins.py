"""Builds the HDF5 filter plugins (csrc/hdf5/) as plain shared libraries.

Each plugin is one library, numcodecs_ephys/plugins/libh5ephys_<codec>.so, made of
the same C as the numcodecs codec (chunk.c + the codec's block coder) plus the
filter glue in csrc/hdf5/, compiled with its filter id from
numcodecs_ephys/hdf5/_filter_ids.py (one more library per former id of a filter).
HDF5 loads every "lib*.so" of a plugin directory, so the
directory holds nothing else.  The plugins link libwavpack / libFLAC but not libhdf5
(see csrc/hdf5/h5plugin.c), so building them needs no HDF5 headers.
"""

import importlib.util
import os
import sys
from pathlib import Path

from setuptools import Extension
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
PACKAGE_DIR = "numcodecs_ephys.plugins"
# plugin (codec) name -> the pkg-config library it links, or None
PLUGINS = {"wavpack": "wavpack", "flac": "flac", "lpc": None}


def _filter_ids():
    """numcodecs_ephys/hdf5/_filter_ids.py (plain data: read without importing the package)."""
    path = HERE.parent / "numcodecs_ephys" / "hdf5" / "_filter_ids.py"
    spec = importlib.util.spec_from_file_location("_ephys_filter_ids", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _build_native():
    """csrc/build_native.py, for its pkg-config helper (one place says how to find the libraries)."""
    spec = importlib.util.spec_from_file_location("_ephys_build_native", HERE / "build_native.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class PluginExtension(Extension):
    """A shared library that is not a Python module: no ABI suffix, no PyInit_ symbol."""


class BuildExt(build_ext):
    def get_ext_filename(self, fullname):
        ext = self.ext_map.get(fullname)
        if isinstance(ext, PluginExtension):
            return os.path.join(*fullname.split(".")) + ".so"
        return super().get_ext_filename(fullname)

    def copy_extensions_to_source(self):
        # editable installs copy the built libraries into the source tree: make their folder
        build_py = self.get_finalized_command("build_py")
        for ext in self.extensions:
            if isinstance(ext, PluginExtension):
                package, _, _ = ext.name.rpartition(".")
                os.makedirs(build_py.get_package_dir(package), exist_ok=True)
        super().copy_extensions_to_source()

    def get_export_symbols(self, ext):
        if isinstance(ext, PluginExtension):
            return []
        return super().get_export_symbols(ext)


def plugin_extensions(libraries=None):
    """One PluginExtension per filter id; libraries: filter id -> (filter name, library file
    name), by default _filter_ids.libraries()."""
    if sys.platform == "win32":  # the plugins resolve HDF5 with dladdr/dlsym: POSIX only
        return []
    native = _build_native()
    root = HERE.parent

    def rel(p):
        return os.path.relpath(HERE / p, root)

    exts = []
    for filter_id, (name, library_file) in (libraries or _filter_ids().libraries()).items():
        library = PLUGINS[name]
        flags = (
            native._pkg_config(library)
            if library
            else {"include_dirs": [], "library_dirs": [], "libraries": ["m"], "extra_compile_args": []}
        )
        exts.append(
            PluginExtension(
                f"{PACKAGE_DIR}.{library_file.removesuffix('.so')}",
                sources=[rel("hdf5/h5plugin.c"), rel(f"hdf5/h5_{name}.c"), rel("chunk.c")] + native.codec_sources(name),
                include_dirs=[rel("."), rel("hdf5")] + flags["include_dirs"],
                define_macros=[("EPHYS_H5_FILTER_ID", str(int(filter_id)))],
                library_dirs=flags["library_dirs"],
                libraries=flags["libraries"] + ["pthread"] + (["dl"] if sys.platform.startswith("linux") else []),
                extra_compile_args=[
                    "-O3",
                    "-std=c99",
                    "-fvisibility=hidden",
                    "-Wall",
                    "-Wextra",
                    "-Wno-unused-parameter",
                ]
                + flags["extra_compile_args"],
            )
        )
    return exts
