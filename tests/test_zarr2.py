"""zarr 2.18 (+ numcodecs 0.15): arrays written with zarr.open(compressor=..., filters=[...]),
to a directory and a zip store, read back in a fresh process with only numcodecs_ephys."""

import numpy as np
import pytest

from conftest import load_real, require, simulated
from writers import expected_chunked, read_back

pytestmark = pytest.mark.zarr2

CHUNKS = (1000, 96)


def chains(data_name, data):
    """name -> (compressor, filters, lossless) for one recording."""
    from numcodecs_ephys import FLAC, LSB, BitTruncation, Delta2D, WavPack

    out = {
        "wavpack": (WavPack(num_threads=1), [], True),
        "wavpack_delta_time": (WavPack(level=3), [Delta2D(axis="time")], True),
        "flac": (FLAC(num_threads=1), [], True),
        "flac_bittrunc": (FLAC(), [BitTruncation(bits=2)], False),
        "wavpack_hybrid": (WavPack(bps=3), [], False),
    }
    if data_name == "openephys_lfp":  # the LSB use case: values on a ~24.04 grid
        out["wavpack_lsb"] = (WavPack(), [LSB.from_data(data)], True)  # per-channel grid: whole-width chunks
    return out


def recording(name):
    if name == "simulated":
        return simulated(2500, 100, seed=3)  # not a multiple of the chunks: padded edges
    return load_real(name)[:2000]


READ = """
import sys, numpy as np, zarr
store = zarr.ZipStore(sys.argv[2], mode="r") if sys.argv[2].endswith(".zip") else zarr.DirectoryStore(sys.argv[2])
group = zarr.open_group(store, mode="r")
arrays = {name: group[name][:] for name in group.array_keys()}
codecs = {name: type(group[name].compressor).__module__ for name in group.array_keys()}
assert all(m.startswith("numcodecs_ephys") for m in codecs.values()), codecs
assert "wavpack_numcodecs" not in str(sys.modules.get("wavpack_numcodecs"))
store.close()
np.savez(sys.argv[1], **arrays)
"""


@pytest.mark.parametrize("store_kind", ["directory", "zip"])
@pytest.mark.parametrize("data_name", ["np_ultra", "np2", "openephys_lfp", "simulated"])
def test_zarr2_roundtrip_fresh_process(tmp_path, data_name, store_kind):
    zarr = require("zarr")
    assert zarr.__version__.startswith("2."), zarr.__version__
    import numcodecs_ephys  # noqa: F401  (registers the codecs)

    data = recording(data_name)
    path = tmp_path / ("store.zip" if store_kind == "zip" else "store.zarr")
    store = zarr.ZipStore(str(path), mode="w") if store_kind == "zip" else zarr.DirectoryStore(str(path))
    expected = {}
    for name, (compressor, filters, lossless) in chains(data_name, data).items():
        chunks = (CHUNKS[0], data.shape[1]) if "lsb" in name else CHUNKS
        z = zarr.open(
            store=store,
            path=name,
            mode="w",
            shape=data.shape,
            chunks=chunks,
            dtype=data.dtype,
            compressor=compressor,
            filters=filters or None,
        )
        z[:] = data
        expected[name] = data if lossless else expected_chunked(data, chunks, compressor, filters)
    store.close()

    got = read_back(tmp_path, READ, path)
    assert sorted(got) == sorted(expected)
    for name, want in expected.items():
        np.testing.assert_array_equal(got[name], want, err_msg=name)
    # the lossy ones are lossy, but not by much
    assert np.abs(got["wavpack_hybrid"].astype(int) - data).max() < 200


def test_zarr2_config_in_metadata(tmp_path):
    zarr = require("zarr")
    from numcodecs_ephys import Delta2D, WavPack

    z = zarr.open(
        str(tmp_path / "a.zarr"),
        mode="w",
        shape=(100, 4),
        chunks=(50, 4),
        dtype="int16",
        compressor=WavPack(level=3, num_threads=1),
        filters=[Delta2D(axis="time+space")],
    )
    z[:] = np.arange(400, dtype="int16").reshape(100, 4)
    meta = z.store[".zarray"]
    assert b'"ephys_wavpack"' in meta and b'"ephys_delta2d"' in meta and b'"time+space"' in meta


def test_zarr3_module_refuses_zarr2_clearly():
    require("zarr")
    with pytest.raises(ImportError, match="zarr-python >= 3"):
        import numcodecs_ephys.zarr3  # noqa: F401
