"""HDF5 filter ids: each stated once (numcodecs_ephys/hdf5/_filter_ids.py), carried by the plugin
libraries, and a former id (as the current ones will be once registered ids are adopted)
still reads: in h5py, in the system's h5dump, and in codec_for_filter."""

import ctypes
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from conftest import fresh_python, simulated, unavailable

ROOT = Path(__file__).resolve().parents[1]
FORMER = 65000  # a made-up former id, in the untracked range


@pytest.fixture(scope="module")
def eh5():
    try:
        import h5py  # noqa: F401
    except ImportError:  # pragma: no cover
        unavailable("h5py is not installed")
    import numcodecs_ephys.hdf5 as module

    return module


def test_ids_stated_once(eh5):
    from numcodecs_ephys.hdf5 import _filter_ids

    assert (eh5.WAVPACK_FILTER_ID, eh5.FLAC_FILTER_ID, eh5.LPC_FILTER_ID) == tuple(_filter_ids.FILTER_IDS.values())
    pattern = re.compile("|".join(str(i) for i in _filter_ids.FILTER_IDS.values()))
    stated = [
        str(path.relative_to(ROOT))
        for folder in ("csrc", "numcodecs_ephys")
        for path in sorted((ROOT / folder).rglob("*"))
        if path.suffix in (".c", ".h", ".py") and pattern.search(path.read_text(errors="replace"))
    ]
    assert stated == ["numcodecs_ephys/hdf5/_filter_ids.py"]


class _H5ZClass2(ctypes.Structure):
    _fields_ = [("version", ctypes.c_int), ("id", ctypes.c_int), ("encoder", ctypes.c_uint), ("decoder", ctypes.c_uint)]


def _library_id(path):
    lib = ctypes.CDLL(str(path))
    lib.H5PLget_plugin_info.restype = ctypes.POINTER(_H5ZClass2)
    return lib.H5PLget_plugin_info().contents.id


def test_libraries_carry_their_ids(eh5):
    for filter_id, cls in eh5.FILTERS.items():
        assert cls.filter_id == filter_id
        assert _library_id(eh5.plugin_library(filter_id)) == filter_id


def test_former_id_table_is_checked():
    from numcodecs_ephys.hdf5 import _filter_ids

    for bad in ({FORMER: "gzip"}, {_filter_ids.FILTER_IDS["flac"]: "wavpack"}):
        saved = dict(_filter_ids.FORMER_IDS)
        _filter_ids.FORMER_IDS.update(bad)
        try:
            with pytest.raises(ValueError, match="FORMER_IDS"):
                _filter_ids.libraries()
        finally:
            _filter_ids.FORMER_IDS.clear()
            _filter_ids.FORMER_IDS.update(saved)


@pytest.fixture(scope="module")
def former_library(eh5, tmp_path_factory):
    """A folder holding the FLAC plugin built for the former id FORMER, as the build makes it
    for an entry of FORMER_IDS."""
    if not (ROOT / "csrc" / "build_hdf5_plugins.py").exists():
        unavailable("needs the source checkout (csrc/)")
    from setuptools import Distribution

    sys.path.insert(0, str(ROOT / "csrc"))
    try:
        from build_hdf5_plugins import BuildExt, plugin_extensions
    finally:
        sys.path.remove(str(ROOT / "csrc"))
    tmp = tmp_path_factory.mktemp("former")
    cwd = os.getcwd()
    os.chdir(ROOT)  # the extensions name their sources relative to the checkout
    try:
        dist = Distribution({"ext_modules": plugin_extensions({FORMER: ("flac", f"libh5ephys_flac_{FORMER}.so")})})
        cmd = BuildExt(dist)
        cmd.build_lib, cmd.build_temp = str(tmp / "lib"), str(tmp / "temp")
        cmd.ensure_finalized()
        cmd.run()
    finally:
        os.chdir(cwd)
    (built,) = (tmp / "lib").rglob("*.so")
    folder = tmp / "plugins"
    folder.mkdir()
    shutil.copy(built, folder / built.name)
    assert built.name == f"libh5ephys_flac_{FORMER}.so" and _library_id(folder / built.name) == FORMER
    return folder


def test_files_with_a_former_id_still_read(eh5, former_library, tmp_path):
    x = simulated(3000, 6)
    np.save(tmp_path / "x.npy", x)
    code = textwrap.dedent(f"""
        import importlib.util, sys
        import numpy as np
        # the table as it will read once registered ids are adopted: FORMER is a former FLAC id
        spec = importlib.util.spec_from_file_location(
            "numcodecs_ephys.hdf5._filter_ids", {str(ROOT / "numcodecs_ephys" / "hdf5" / "_filter_ids.py")!r})
        ids = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(ids)
        ids.FORMER_IDS[{FORMER}] = "flac"
        sys.modules[spec.name] = ids
        import h5py
        import numcodecs_ephys.hdf5 as eh5
        assert eh5.FILTERS[{FORMER}] is eh5.FLACH5 and eh5.FLAC_FILTER_ID != {FORMER}
        x = np.load({str(tmp_path / "x.npy")!r})
        path = {str(tmp_path / "old.h5")!r}
        with h5py.File(path, "w") as f:   # a file as written before the ids changed
            f.create_dataset("x", data=x, chunks=(1000, 6), compression={FORMER},
                             compression_opts=eh5.FLACH5(level=3).filter_options)
        with h5py.File(path) as f:
            assert np.array_equal(f["x"][()], x)
            _, cd_values, _ = f["x"].id.get_create_plist().get_filter_by_id({FORMER})
            codec = eh5.codec_for_filter({FORMER}, cd_values)
            _, chunk = f["x"].id.read_direct_chunk((1000, 0))
        assert codec == eh5.FLACH5(level=3).codec()
        assert np.array_equal(np.asarray(codec.decode(chunk)).reshape(1000, 6), x[1000:2000])
    """)
    env = dict(os.environ, HDF5_PLUGIN_PATH=os.pathsep.join([str(former_library), eh5.PLUGIN_PATH]))
    fresh_python(code, env=env)
    h5dump = shutil.which("h5dump")
    if h5dump is None:
        unavailable("h5dump (apt-get install hdf5-tools) is not installed")
    run = subprocess.run([h5dump, "-y", "-d", "/x", str(tmp_path / "old.h5")], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    printed = re.findall(r"-?\d+", re.search(r"DATA \{(.*?)\}", run.stdout, re.S).group(1))
    assert np.array_equal(np.array(printed, dtype=int), x.ravel())
