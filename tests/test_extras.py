"""The optional dependency groups (pyproject.toml) bring what the documented uses need."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _extra(name):
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11, as the test environments
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    return {re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower() for requirement in extras[name]}


def test_references_extra_reads_lazily_with_xarray():
    """numcodecs_ephys.hdf5.references' documented reader: xr.open_dataset("reference://",
    engine="zarr", chunks={}) needs xarray, and chunks= needs dask."""
    assert {"kerchunk", "fsspec", "h5py", "xarray", "dask"} <= _extra("references")
