"""kerchunk references of HDF5 files that use our filters (numcodecs_ephys.hdf5.references):
opened with fsspec's reference filesystem + zarr, and with xarray, bit-exact against h5py."""

import json

import numpy as np
import pytest

from conftest import require, simulated


@pytest.fixture(scope="module")
def eh5():
    require("h5py")
    require("kerchunk")
    import numcodecs_ephys.hdf5 as module

    return module


def _mixed_file(eh5, path):
    """Datasets with each of our filters, with an HDF5 shuffle before ours, and with gzip only."""
    import h5py

    x = simulated(2500, 20)
    with h5py.File(path, "w") as f:
        f.create_dataset("wavpack", data=x, chunks=(1000, 8), **eh5.WavPackH5(level=3, block_channels=4))
        f.create_dataset("hybrid", data=x, chunks=(1000, 8), **eh5.WavPackH5(bps=3.5))
        f.create_dataset("flac", data=x, chunks=(1000, 8), **eh5.FLACH5(blocksize=512))
        f.create_dataset("flac_1d", data=x[:, 3], chunks=(700,), **eh5.FLACH5())
        f.create_dataset("shuffled", data=x, chunks=(1000, 20), shuffle=True, **eh5.WavPackH5())
        f.create_dataset("gzip", data=x, chunks=(1000, 8), shuffle=True, compression="gzip")
        f.create_dataset("plain", data=x[:10])
        f["flac"].attrs["unit"] = "uV"
        return {name: f[name][()] for name in f}


def open_references(refs):
    """The references as a zarr group: zarr 2, or zarr 3 reading format 2."""
    import fsspec
    import zarr

    kwargs = {"zarr_format": 2} if zarr.__version__.startswith("3") else {}
    return zarr.open_group(fsspec.get_mapper("reference://", fo=refs), mode="r", **kwargs)


def test_codec_table(eh5):
    from numcodecs_ephys import FLAC, WavPack

    assert sorted(eh5.FILTERS) == [eh5.WAVPACK_FILTER_ID, eh5.FLAC_FILTER_ID, eh5.LPC_FILTER_ID]
    for flt in (
        eh5.WavPackH5(level=4, bps=2.5, dynamic_noise_shaping=False, shaping_weight=-0.25, block_channels=10),
        eh5.FLACH5(level=7, blocksize=1024, channels_per_stream=4, block_channels=12, exhaustive_stereo=True),
        eh5.LPCH5(level=3, max_error=2, block_channels=7),
    ):
        cd_values = flt.filter_options + (1, 2, 2, 1000, 8)  # as in a file: set_local's part appended
        assert type(flt).from_cd_values(cd_values) == flt
        stored_threads = list(cd_values)
        stored_threads[{eh5.WavPackH5: 5, eh5.FLACH5: 4, eh5.LPCH5: 3}[type(flt)]] = 3  # a thread count, as 0.1.0 wrote
        assert type(flt).from_cd_values(stored_threads) == flt
        codec = eh5.codec_for_filter(str(flt.filter_id), cd_values)
        assert codec.num_threads is None  # the reading machine's setting, never the file's
        assert codec == flt.codec()
    # a float bound sits where earlier files hold 0 or a thread count: those read as no bound
    bounded = eh5.LPCH5(level=2, max_error=0.25, block_channels=7)
    assert eh5.LPCH5.from_cd_values(bounded.filter_options + (1, 2, 2, 1000, 8)) == bounded
    assert bounded.max_error == 0.25 and bounded.filter_options[1] == 0
    with pytest.raises(ValueError, match="smallest normal"):
        eh5.LPCH5(max_error=1e-40)  # its bit pattern would read as no bound
    assert isinstance(eh5.codec_for_filter(eh5.WAVPACK_FILTER_ID, eh5.WavPackH5().filter_options), WavPack)
    assert isinstance(eh5.codec_for_filter(eh5.FLAC_FILTER_ID, eh5.FLACH5().filter_options), FLAC)
    assert eh5.codec_for_filter("gzip", 4) is None and eh5.codec_for_filter("32001", (0,) * 7) is None
    with pytest.raises(ValueError):
        eh5.codec_for_filter(eh5.WAVPACK_FILTER_ID, (9, 0, 1, 0, 96, 0))  # level 9
    with pytest.raises(ValueError):
        eh5.codec_for_filter(eh5.FLAC_FILTER_ID, (5, 4096))  # too few values


def test_references_open_with_zarr(eh5, tmp_path):
    expect = _mixed_file(eh5, tmp_path / "m.h5")
    refs = eh5.references(str(tmp_path / "m.h5"))
    json.dumps(refs)  # plain JSON
    meta = json.loads(refs["refs"]["wavpack/.zarray"])
    assert meta["filters"] == [
        {
            "id": "ephys_wavpack",
            "level": 3,
            "bps": None,
            "dynamic_noise_shaping": True,
            "shaping_weight": 0.0,
            "block_channels": 4,
        }
    ]
    assert [f["id"] for f in json.loads(refs["refs"]["shuffled/.zarray"])["filters"]] == ["shuffle", "ephys_wavpack"]
    assert refs["refs"]["wavpack/0.0"][1:] != refs["refs"]["flac/0.0"][1:]  # chunks are referenced, not inlined
    group = open_references(refs)
    assert sorted(group.array_keys()) == sorted(expect)
    for name, data in expect.items():
        got = group[name][...]
        assert got.dtype == data.dtype and np.array_equal(got, data), name
    assert group["flac"].attrs["unit"] == "uV"


def test_plain_kerchunk_loses_our_datasets(eh5, tmp_path):
    """Why the subclass exists: kerchunk's own translator drops them (with a warning)."""
    from kerchunk.hdf import SingleHdf5ToZarr

    _mixed_file(eh5, tmp_path / "m.h5")
    with pytest.warns(UserWarning, match="58736"):
        refs = SingleHdf5ToZarr(str(tmp_path / "m.h5")).translate()
    assert "wavpack/.zarray" not in refs["refs"] and "gzip/.zarray" in refs["refs"]


def test_references_open_with_xarray(eh5, tmp_path):
    xr = require("xarray")
    expect = _mixed_file(eh5, tmp_path / "m.h5")
    refs = eh5.references(str(tmp_path / "m.h5"))
    # "plain" has kerchunk's phony dim names with another length: xarray refuses that
    ds = xr.open_dataset(
        "reference://",
        engine="zarr",
        mask_and_scale=False,
        chunks={},
        drop_variables=["plain"],
        backend_kwargs={"consolidated": False, "storage_options": {"fo": refs}},
    )
    for name in ("wavpack", "hybrid", "flac", "flac_1d", "gzip"):
        assert ds[name].dtype == expect[name].dtype and np.array_equal(ds[name].values, expect[name]), name
    assert int(ds["flac"][:, 5].max()) == expect["flac"][:, 5].max()


def test_corrupted_referenced_chunk_raises(eh5, tmp_path):
    expect = _mixed_file(eh5, tmp_path / "m.h5")
    refs = eh5.references(str(tmp_path / "m.h5"))
    _, offset, size = refs["refs"]["flac/1.0"]
    raw = bytearray((tmp_path / "m.h5").read_bytes())
    raw[offset + size // 2] ^= 0x10
    (tmp_path / "m.h5").write_bytes(bytes(raw))
    group = open_references(refs)
    assert np.array_equal(group["flac"][:1000, :8], expect["flac"][:1000, :8])
    with pytest.raises(ValueError):
        group["flac"][1000:2000, :8]
