"""cffi build script (API mode) for numcodecs_ephys._native.

Compiles every csrc/*.c, and every .c of a codec's own folder (csrc/lpc/), into one
extension linked against the system libwavpack and libFLAC, found with pkg-config.
Every csrc/*.h except the internal ones, and the one public header of each codec
folder (<folder>/<folder>_codec.h), is plain C declarations, fed to cffi without its
preprocessor lines (integer #define constants excepted).
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
# A codec that outgrew one file has a folder of its own, whose public header is named
# after it; its other headers are internal.
CODEC_FOLDERS = sorted(p.parent.name for p in HERE.glob("*/*_codec.h") if p.name == f"{p.parent.name}_codec.h")
# Every header is a public cffi declaration file except the internal ones;
# chunk.h goes first because the others use its types.
INTERNAL_HEADERS = {"block_codec.h", "filter_frame.h"}
CDEF_HEADERS = (
    ["chunk.h"]
    + sorted(p.name for p in HERE.glob("*.h") if p.name not in INTERNAL_HEADERS | {"chunk.h"})
    + [f"{folder}/{folder}_codec.h" for folder in CODEC_FOLDERS]
)


def codec_sources(codec):
    """A codec's C files, relative to the project root: csrc/<codec>_codec.c, or every
    .c of its folder csrc/<codec>/."""
    paths = sorted((HERE / codec).glob("*.c")) if codec in CODEC_FOLDERS else [HERE / f"{codec}_codec.c"]
    return [os.path.relpath(p, HERE.parent) for p in paths]


# pkg-config name -> how to install the library and its headers
LIBRARIES = {
    "wavpack": "Debian/Ubuntu: apt-get install libwavpack-dev pkg-config; "
    "Homebrew: brew install wavpack pkg-config; conda-forge: conda install wavpack",
    "flac": "Debian/Ubuntu: apt-get install libflac-dev pkg-config; "
    "Homebrew: brew install flac pkg-config; conda-forge: conda install libflac",
}


def _fail(message):
    sys.stderr.write(f"\nnumcodecs-ephys build error: {message}\n\n")
    raise SystemExit(1)


def _pkg_config(name):
    """Compiler and linker flags for a system library, or a clear build error."""
    how = LIBRARIES[name]
    if shutil.which("pkg-config") is None:
        _fail(f"pkg-config is not installed, so lib{name} cannot be found. Install it: {how}")
    try:
        out = subprocess.run(
            ["pkg-config", "--cflags", "--libs", name], check=True, capture_output=True, text=True
        ).stdout.split()
    except subprocess.CalledProcessError:
        _fail(f"lib{name} and its headers were not found by pkg-config. Install them: {how}")
    flags = {"include_dirs": [], "library_dirs": [], "libraries": [], "extra_compile_args": []}
    for f in out:
        key = {"-I": "include_dirs", "-L": "library_dirs", "-l": "libraries"}.get(f[:2])
        if key:
            flags[key].append(f[2:])
        else:
            flags["extra_compile_args"].append(f)
    return flags


def _merge(*dicts):
    merged = {}
    for d in dicts:
        for k, v in d.items():
            merged.setdefault(k, []).extend(x for x in v if x not in merged.get(k, []))
    return merged


def _cdef_text():
    lines = []
    for name in CDEF_HEADERS:
        text = (HERE / name).read_text()
        # keep integer constants ("#define NAME value"), drop guards and includes
        lines += [ln for ln in text.splitlines() if not ln.lstrip().startswith("#") or re.match(r"#define \w+ \S+", ln)]
    return "\n".join(lines)


ffibuilder = FFI()
ffibuilder.cdef(_cdef_text())
_flags = _merge(*(_pkg_config(n) for n in LIBRARIES))
ffibuilder.set_source(
    "numcodecs_ephys._native",
    "\n".join(f'#include "{h}"' for h in CDEF_HEADERS),
    sources=[os.path.relpath(p, HERE.parent) for p in sorted(HERE.glob("*.c"))]
    + [src for folder in CODEC_FOLDERS for src in codec_sources(folder)],
    include_dirs=[str(HERE.relative_to(HERE.parent))] + _flags.get("include_dirs", []),
    library_dirs=_flags.get("library_dirs", []),
    libraries=_flags.get("libraries", []) + ["pthread", "m"],
    extra_compile_args=["-O3", "-std=c99", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    + _flags.get("extra_compile_args", []),
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
