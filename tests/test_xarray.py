"""xarray: to_zarr / open_zarr with our codecs in each zarr stack's encoding keys, and a
multiscale pyramid (levels decimated in time) written with DataTree.to_zarr and read back
level by level. Bit-exact on a real recording."""

import numpy as np
import pytest

from conftest import load_real, require

LEVELS = 3  # level k: block means over 4**k samples


@pytest.fixture(scope="module")
def traces():
    require("xarray")
    return load_real("np_ultra")[:, :96]  # (5000, 96) int16


def _dataset(x):
    import xarray as xr

    return xr.Dataset(
        {"traces": (("time", "channel"), x)},
        coords={"time": np.arange(len(x)) / 30000.0, "channel": np.arange(x.shape[1])},
    )


def _pyramid(x):
    """Levels decimated in time: means of 4**k samples, rounded back to int16."""
    ds = _dataset(x)
    return {
        f"level{k}": ds.coarsen(time=4**k, boundary="trim").mean().round().astype("int16") if k else ds
        for k in range(LEVELS)
    }


def _read_levels(path, expect):
    import xarray as xr

    tree = xr.open_datatree(path, engine="zarr", consolidated=False)
    assert sorted(tree.children) == sorted(expect)
    for name, level in expect.items():  # one level at a time, as a viewer would
        got = xr.open_zarr(path, group=name, consolidated=False)
        assert got["traces"].dtype == np.int16 and got.sizes == level.sizes
        assert np.array_equal(got["traces"].values, level["traces"].values), name
        assert np.array_equal(got["time"].values, level["time"].values)
    return tree


@pytest.mark.zarr2
@pytest.mark.parametrize("make", ["wavpack_delta", "flac"])
def test_to_zarr_zarr2(traces, tmp_path, make):
    import xarray as xr

    from numcodecs_ephys import FLAC, Delta2D, WavPack

    encoding = {
        "wavpack_delta": {"compressor": WavPack(level=3), "filters": [Delta2D(axis="time")]},
        "flac": {"compressor": FLAC(), "filters": None},
    }[make]
    _dataset(traces).to_zarr(
        tmp_path / "t.zarr", mode="w", consolidated=False, encoding={"traces": dict(encoding, chunks=(2000, 48))}
    )
    back = xr.open_zarr(tmp_path / "t.zarr", consolidated=False)
    assert np.array_equal(back["traces"].values, traces)
    assert back["traces"].encoding["compressor"] == encoding["compressor"]


@pytest.mark.zarr3
@pytest.mark.parametrize("make", ["wavpack_delta", "flac", "sharded", "format2"])
def test_to_zarr_zarr3(traces, tmp_path, make):
    import xarray as xr

    import numcodecs_ephys
    from numcodecs_ephys import zarr3

    zarr_format = 2 if make == "format2" else 3
    encoding = {
        "wavpack_delta": {
            "serializer": zarr3.WavPack(level=3),
            "compressors": None,
            "filters": [zarr3.Delta2D(axis="time")],
        },
        "flac": {"serializer": zarr3.FLAC(), "compressors": None},
        "sharded": {"serializer": zarr3.WavPack(), "compressors": None, "shards": (4000, 96)},
        "format2": {"compressors": [numcodecs_ephys.FLAC()]},
    }[make]
    _dataset(traces).to_zarr(
        tmp_path / "t.zarr",
        mode="w",
        consolidated=False,
        zarr_format=zarr_format,
        encoding={"traces": dict(encoding, chunks=(2000, 48))},
    )
    back = xr.open_zarr(tmp_path / "t.zarr", consolidated=False)
    assert np.array_equal(back["traces"].values, traces)
    if make == "sharded":
        assert back["traces"].encoding["shards"] == (4000, 96)


@pytest.mark.zarr2
def test_pyramid_zarr2(traces, tmp_path):
    import xarray as xr

    from numcodecs_ephys import WavPack

    levels = _pyramid(traces)
    encoding = {f"/{name}": {"traces": {"compressor": WavPack(), "chunks": (2000, 96)}} for name in levels}
    xr.DataTree.from_dict(levels).to_zarr(tmp_path / "p.zarr", mode="w", encoding=encoding, consolidated=False)
    _read_levels(tmp_path / "p.zarr", levels)


@pytest.mark.zarr3
def test_pyramid_zarr3(traces, tmp_path):
    import xarray as xr

    from numcodecs_ephys import zarr3

    levels = _pyramid(traces)
    encoding = {
        f"/{name}": {
            "traces": {
                "serializer": zarr3.WavPack(),
                "compressors": None,
                "filters": [zarr3.Delta2D(axis="time")],
                "chunks": (2000, 96),
            }
        }
        for name in levels
    }
    xr.DataTree.from_dict(levels).to_zarr(
        tmp_path / "p.zarr", mode="w", encoding=encoding, zarr_format=3, consolidated=False
    )
    _read_levels(tmp_path / "p.zarr", levels)
