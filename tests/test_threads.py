"""The thread count is a setting of the process that runs the codecs, never part of the data."""

import json
import os
import pickle

import numcodecs
import numpy as np
import pytest

import numcodecs_ephys as ne

from conftest import fresh_python, simulated, unavailable
from writers import format2_array

CODECS = [ne.WavPack, ne.FLAC, ne.EphysLPC, ne.Delta2D, ne.BitTruncation, ne.LSB]


@pytest.fixture
def clean_env(monkeypatch):
    monkeypatch.delenv("NUMCODECS_EPHYS_NUM_THREADS", raising=False)


def test_process_setting(clean_env):
    cores = ne.get_num_threads()
    assert cores >= 1
    ne.set_num_threads(1)
    try:
        assert ne.get_num_threads() == 1 and os.environ["NUMCODECS_EPHYS_NUM_THREADS"] == "1"
        for bad in (0, 257, 1.5, True, "2"):
            with pytest.raises(ValueError, match="num_threads"):
                ne.set_num_threads(bad)
    finally:
        ne.set_num_threads(None)
    assert ne.get_num_threads() == cores and "NUMCODECS_EPHYS_NUM_THREADS" not in os.environ


def test_environment_variable(monkeypatch):
    monkeypatch.setenv("NUMCODECS_EPHYS_NUM_THREADS", "3")
    assert ne.get_num_threads() == 3
    monkeypatch.setenv("NUMCODECS_EPHYS_NUM_THREADS", "lots")
    with pytest.raises(ValueError, match="NUMCODECS_EPHYS_NUM_THREADS"):
        ne.WavPack().encode(simulated(100, 4))


@pytest.mark.parametrize("cls", CODECS)
def test_not_in_the_config(cls, clean_env):
    codec = cls(num_threads=1)
    assert "num_threads" not in codec.get_config() and "num_threads" not in repr(codec)
    assert codec == cls() and codec.num_threads == 1
    assert pickle.loads(pickle.dumps(codec)).num_threads == 1  # to dask workers of this run
    x = simulated(3000, 64, seed=1)
    outputs = set()
    for n in (None, 1, 2, 3):
        ne.set_num_threads(n)
        outputs.add(bytes(np.asarray(cls().encode(x)).tobytes()))
    ne.set_num_threads(None)
    assert len(outputs) == 1  # the output does not depend on the thread count


# WavPack's parameters as 0.1.0 stored them, num_threads included
WAVPACK_0_1_0 = {
    "level": 2,
    "bps": None,
    "dynamic_noise_shaping": True,
    "shaping_weight": 0.0,
    "block_channels": 96,
    "num_threads": 1,
}


def test_configs_written_by_0_1_0_still_load():
    for config in (
        {"id": "ephys_wavpack", **WAVPACK_0_1_0},
        {
            "id": "ephys_flac",
            "level": 5,
            "blocksize": 4096,
            "channels_per_stream": 2,
            "block_channels": 96,
            "num_threads": 2,
            "exhaustive_stereo": False,
        },
        {"id": "ephys_delta2d", "axis": "time", "num_threads": 1},
    ):
        codec = numcodecs.get_codec(dict(config))
        assert codec.num_threads is None  # the stored value is not this machine's
        assert "num_threads" not in codec.get_config()
        assert codec.get_config() == {k: v for k, v in config.items() if k != "num_threads"}


def test_zarr2_store_written_by_0_1_0_opens(tmp_path):
    """A format-2 store whose .zarray holds num_threads (as 0.1.0 wrote it) reads at full speed."""
    import zarr

    x = simulated(2000, 8, seed=2)
    path = tmp_path / "old.zarr"
    format2_array(path, x, (1000, 8), ne.WavPack(num_threads=1))
    meta = json.loads((path / ".zarray").read_text())
    assert "num_threads" not in meta["compressor"]
    meta["compressor"]["num_threads"] = 1
    (path / ".zarray").write_text(json.dumps(meta))
    back = zarr.open_array(str(path), mode="r")
    np.testing.assert_array_equal(back[:], x)
    compressor = back.compressor if zarr.__version__.startswith("2.") else back.compressors[0]
    assert compressor == ne.WavPack() and compressor.num_threads is None  # not 1: this machine decides


@pytest.mark.zarr3
def test_zarr3_metadata_written_by_0_1_0_opens():
    from numcodecs_ephys import zarr3 as z3

    codec = z3.WavPack.from_dict({"name": "numcodecs_ephys.wavpack", "configuration": WAVPACK_0_1_0})
    assert codec == z3.WavPack(block_channels=96) and codec.num_threads is None
    assert "num_threads" not in codec.to_dict()["configuration"]
    assert z3.Delta2D(num_threads=2) == z3.Delta2D() and "num_threads" not in z3.Delta2D(num_threads=2).to_dict()


def test_hdf5_files_written_by_0_1_0_read(tmp_path):
    """0.1.0 stored num_threads in cd_values; the plugin now ignores that slot and uses the
    reading process's setting (here through the environment, in a fresh process)."""
    try:
        import h5py

        import numcodecs_ephys.hdf5 as eh5
    except ImportError:
        unavailable("h5py is not installed")
    x = simulated(2000, 8, seed=3)
    path = tmp_path / "old.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset(
            "w", data=x, chunks=(1000, 8), compression=eh5.WAVPACK_FILTER_ID, compression_opts=(2, 0, 1, 0, 96, 2)
        )
        f.create_dataset(
            "f", data=x, chunks=(1000, 8), compression=eh5.FLAC_FILTER_ID, compression_opts=(5, 4096, 2, 96, 3, 0)
        )
    code = (
        f"import h5py, numpy as np, numcodecs_ephys.hdf5\n"
        f"f = h5py.File({str(path)!r}, 'r')\n"
        f"assert np.array_equal(f['w'][()], f['f'][()])\nprint(f['w'][()].sum())"
    )
    env = dict(os.environ, NUMCODECS_EPHYS_NUM_THREADS="1")
    assert int(fresh_python(code, env=env)) == int(x.astype(np.int64).sum())
