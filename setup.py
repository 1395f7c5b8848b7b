"""Builds the C extension numcodecs_ephys._native with cffi (see csrc/build_native.py)
and the HDF5 filter plugins numcodecs_ephys/plugins/libh5ephys_*.so (csrc/build_hdf5_plugins.py),
and puts numcodecs_ephys_hdf5.pth (HDF5_PLUGIN_PATH at start-up) beside the package."""

import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

PTH = "numcodecs_ephys_hdf5.pth"


class BuildPy(build_py):
    """Also copies the .pth file to the root of the build (site-packages once installed):
    setuptools installs only packages there, and data_files would go under sys.prefix."""

    def run(self):
        super().run()
        self.copy_file(PTH, str(Path(self.build_lib) / PTH))

    def get_outputs(self, include_bytecode=True):
        return super().get_outputs(include_bytecode) + [str(Path(self.build_lib) / PTH)]


class EditableWheel(editable_wheel):
    """The same .pth in an editable install (`pip install -e .`, as `make test` uses): there
    setuptools puts only its own path hook at the root of the wheel, so add ours beside it."""

    def _run_build_commands(self, dist_name, unpacked_wheel, build_lib, tmp_dir):
        result = super()._run_build_commands(dist_name, unpacked_wheel, build_lib, tmp_dir)
        shutil.copyfile(PTH, Path(unpacked_wheel) / PTH)
        return result


sys.path.insert(0, str(Path(__file__).resolve().parent / "csrc"))
from build_hdf5_plugins import BuildExt, plugin_extensions  # noqa: E402

setup(
    cffi_modules=["csrc/build_native.py:ffibuilder"],
    ext_modules=plugin_extensions(),
    cmdclass={"build_ext": BuildExt, "build_py": BuildPy, "editable_wheel": EditableWheel},
)
