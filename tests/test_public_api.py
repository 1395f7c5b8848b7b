"""What users, writers and installers see of the package, pinned so that moving modules inside it
cannot change it: the names of the public modules, the entry points of pyproject.toml (names
pinned, values importable), the codec ids the import registers, the command, and the plugin
folder that numcodecs_ephys_hdf5.pth puts on HDF5_PLUGIN_PATH (and that wheels must contain)."""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numcodecs
import pytest

import numcodecs_ephys

from conftest import fresh_python, require

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(numcodecs_ephys.__file__).parent

# the pinned names, as data: this test restates them on purpose, and a change to them is a change of the API
PINNED = json.loads((ROOT / "tests" / "fixtures" / "public_api.json").read_text())
TOP_LEVEL, HDF5, ZARR3 = (set(PINNED[k]) for k in ("top_level", "hdf5", "zarr3"))
NUMCODECS_IDS = PINNED["numcodecs_ids"]  # numcodecs codec id -> class of numcodecs_ephys
ZARR3_NAMES = PINNED["zarr3_entry_points"]  # zarr.codecs entry point name -> attribute of numcodecs_ephys.zarr3


def pyproject():
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        tomllib = require("tomli")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def resolve(value):
    """The object an entry point's value ("module:attribute") or a setuptools attr ("module.attribute") names."""
    module, _, attr = value.rpartition(":") if ":" in value else value.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def test_top_level_names():
    assert set(numcodecs_ephys.__all__) == TOP_LEVEL
    assert all(callable(getattr(numcodecs_ephys, name)) for name in TOP_LEVEL)
    assert numcodecs_ephys.__version__ == resolve(pyproject()["tool"]["setuptools"]["dynamic"]["version"]["attr"])


def test_hdf5_names():
    eh5 = require("numcodecs_ephys.hdf5")
    assert set(eh5.__all__) == HDF5 and all(hasattr(eh5, name) for name in HDF5)
    assert set(eh5.FILTERS) == {eh5.WAVPACK_FILTER_ID, eh5.FLAC_FILTER_ID, eh5.LPC_FILTER_ID} == {58736, 58737, 58738}
    # built on first use, from kerchunk
    require("kerchunk")
    assert eh5.EphysHdf5ToZarr.__name__ == "EphysHdf5ToZarr"


@pytest.mark.zarr3
def test_zarr3_names():
    z3 = require("numcodecs_ephys.zarr3")
    assert set(z3.__all__) == ZARR3 and all(hasattr(z3, name) for name in ZARR3)


def test_entry_points_resolve():
    project = pyproject()["project"]
    numcodecs_group = project["entry-points"]["numcodecs.codecs"]
    assert {name: value.split(":")[1] for name, value in numcodecs_group.items()} == NUMCODECS_IDS
    for codec_id, value in numcodecs_group.items():
        assert resolve(value).codec_id == codec_id
    assert set(project["entry-points"]["zarr.codecs"]) == set(ZARR3_NAMES)
    assert set(project["scripts"]) == {"numcodecs-ephys"}
    assert callable(resolve(project["scripts"]["numcodecs-ephys"]))


@pytest.mark.zarr3
def test_zarr3_entry_points_resolve():
    require("numcodecs_ephys.zarr3")
    for name, value in pyproject()["project"]["entry-points"]["zarr.codecs"].items():
        assert value == f"numcodecs_ephys.zarr3:{ZARR3_NAMES[name]}"
        assert resolve(value).codec_name == name


def test_import_registers_every_codec_id():
    """numcodecs' registry holds every id once the package is imported (NeuroConv reads it then)."""
    registered = fresh_python(f"""
        import numcodecs_ephys
        from numcodecs.registry import codec_registry
        print(sorted(i for i in {sorted(NUMCODECS_IDS)!r} if i in codec_registry))
    """)
    assert registered.strip() == repr(sorted(NUMCODECS_IDS))
    for codec_id, name in NUMCODECS_IDS.items():
        if codec_id.startswith("ephys_"):  # the peers' ids stay with a peer imported first
            assert type(numcodecs.get_codec({"id": codec_id})) is getattr(numcodecs_ephys, name)


def test_command_runs_as_module_and_script_entry():
    main = resolve(pyproject()["project"]["scripts"]["numcodecs-ephys"])
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    proc = subprocess.run([sys.executable, "-m", "numcodecs_ephys", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == f"numcodecs-ephys {numcodecs_ephys.__version__}\n", proc


def test_plugin_folder_is_the_one_the_pth_file_and_the_build_use():
    eh5 = require("numcodecs_ephys.hdf5")
    assert eh5.PLUGIN_PATH == str(PACKAGE / "plugins")
    for filter_id in eh5.FILTERS:
        library = eh5.plugin_library(filter_id)
        assert os.path.isfile(library) and os.path.dirname(library) == eh5.PLUGIN_PATH
    sys.path.insert(0, str(ROOT / "csrc"))
    try:
        build = importlib.import_module("build_hdf5_plugins")
    finally:
        sys.path.remove(str(ROOT / "csrc"))
    assert build.PACKAGE_DIR == "numcodecs_ephys.plugins"
    # the .pth line, run with the variable unset and without site (so no installed .pth ran
    # first), appends exactly that folder
    pth = next(
        line for line in (ROOT / "numcodecs_ephys_hdf5.pth").read_text().splitlines() if line.startswith("import")
    )
    env = {k: v for k, v in os.environ.items() if k not in ("HDF5_PLUGIN_PATH", "NUMCODECS_EPHYS_NO_PLUGIN_PATH")}
    env["PYTHONPATH"] = str(PACKAGE.parent)
    code = f"{pth}\nimport os; print(os.environ['HDF5_PLUGIN_PATH'])"
    proc = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and proc.stdout.strip().split(os.pathsep)[-1] == eh5.PLUGIN_PATH, proc


def test_wheels_list_every_subpackage():
    """setuptools puts in a wheel only the packages pyproject lists: every folder of the
    package with an __init__.py must be there."""
    listed = set(pyproject()["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(PACKAGE.parent).parts)
        for p in PACKAGE.rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert listed == found
