"""Builds the C extension and the HDF5 filter plugins with AddressSanitizer and UBSan into
a copy of the package (``make sanitize``), leaving the normal build alone.

    python csrc/build_sanitized.py build/sanitize
    LD_PRELOAD=$(cc -print-file-name=libasan.so) PYTHONPATH=build/sanitize python ...

UBSan aborts on the first report (-fno-sanitize-recover), so any undefined behaviour ends
the process that runs into it, as an ASan report does.
"""

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SANITIZE_FLAGS = "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g"


def main(dest):
    dest = Path(dest).resolve()
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(ROOT / "csrc", dest / "csrc", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(
        ROOT / "numcodecs_ephys",
        dest / "numcodecs_ephys",
        ignore=shutil.ignore_patterns("*.so", "_native.c", "plugins", "__pycache__"),
    )
    os.chdir(dest)  # no pyproject.toml here: setuptools builds only what is named below
    os.environ["CFLAGS"] = os.environ["LDFLAGS"] = SANITIZE_FLAGS
    sys.path.insert(0, str(dest / "csrc"))
    from build_hdf5_plugins import BuildExt, plugin_extensions
    from setuptools import setup

    setup(
        name="numcodecs-ephys-sanitized",
        packages=[],
        cffi_modules=["csrc/build_native.py:ffibuilder"],
        ext_modules=plugin_extensions(),
        cmdclass={"build_ext": BuildExt},
        script_args=["-q", "build_ext", "--inplace"],
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build/sanitize")
