"""Stores written by wavpack-numcodecs / flac-numcodecs (ids "wavpack", "flac"; committed
fixtures made by tests/fixtures/make_fixtures.py) open with numcodecs_ephys
alone: in a fresh process where the peers cannot be imported and numcodecs_ephys is not
imported either, numcodecs' entry points resolve the ids to our classes. Both stacks:
zarr 2, and zarr 3 reading format 2."""

from pathlib import Path

import numpy as np
import pytest

from conftest import require
from writers import format2_array, read_back

HERE = Path(__file__).resolve().parent / "fixtures" / "legacy_zarr2"

READ = """
import sys, numpy as np, zarr
out = {}
for path in sys.argv[2:]:
    z = zarr.open_array(path, mode="r")
    codec = z.compressor if zarr.__version__.startswith("2.") else z.compressors[0]
    assert type(codec).__module__.startswith("numcodecs_ephys."), type(codec)
    assert sys.modules["wavpack_numcodecs"] is None and sys.modules["flac_numcodecs"] is None
    out[path.rsplit("/", 1)[-1].split(".")[0]] = z[:]
    out["class_" + path.rsplit("/", 1)[-1].split(".")[0]] = type(codec).__name__
np.savez(sys.argv[1], **out)
"""


def test_peer_stores_open_without_peers(tmp_path):
    require("zarr")
    got = read_back(tmp_path, READ, *(HERE / f"{n}.zarr" for n in ("wavpack", "wavpack_hybrid", "flac")))
    expected = np.load(HERE / "expected.npy")
    np.testing.assert_array_equal(got["wavpack"], expected)
    np.testing.assert_array_equal(got["flac"], expected)
    np.testing.assert_array_equal(got["wavpack_hybrid"], np.load(HERE / "wavpack_hybrid.decoded.npy"))
    assert str(got["class_wavpack"]) == "WavPackNumcodecsFormat" and str(got["class_flac"]) == "FLACNumcodecsFormat"


@pytest.mark.zarr2
def test_write_legacy_format_with_zarr2(tmp_path):
    """Our legacy classes write stores the peers' id describes (readable by old installs)."""
    require("zarr")
    from numcodecs_ephys import FLACNumcodecsFormat, WavPackNumcodecsFormat

    expected = np.load(HERE / "expected.npy")
    paths = []
    for name, codec in [("wavpack", WavPackNumcodecsFormat(level=2)), ("flac", FLACNumcodecsFormat())]:
        p = tmp_path / f"{name}.zarr"
        format2_array(p, expected, (1000, 8), codec)
        assert f'"id": "{name}"' in (p / ".zarray").read_text()
        paths.append(p)
    got = read_back(tmp_path, READ, *paths)
    np.testing.assert_array_equal(got["wavpack"], expected)
    np.testing.assert_array_equal(got["flac"], expected)
