"""Whole-recording stores in the zarr 2 stack (.venv-zarr2): written with zarr-python 2,
opened by SpikeInterface as recordings with the right rate, channel ids, gains and probe."""

import numpy as np
import pytest
from test_cli import REAL_INPUTS, assert_round_trip, copy_recording

from numcodecs_ephys import compress_file, open_recording
from numcodecs_ephys.recordings import stores

from conftest import require

pytestmark = pytest.mark.zarr2


@pytest.mark.parametrize("name", ["np2", "openephys_lfp"])
def test_round_trip_with_zarr2(name, tmp_path):
    assert require("zarr").__version__.startswith("2.")
    data_path, meta_path = copy_recording(REAL_INPUTS[name], tmp_path / "in")
    assert_round_trip(data_path, meta_path, tmp_path, "--codec", "flac")


@pytest.mark.parametrize("name", ["np_ultra", "np2_4shank", "openephys_lfp"])
def test_spikeinterface_opens_store(name, tmp_path):
    si = require("spikeinterface")
    se = require("spikeinterface.extractors")
    data_path, _ = copy_recording(REAL_INPUTS[name], tmp_path / "in")
    store = compress_file(data_path, tmp_path / "rec.zarr")
    rec = si.load(store) if hasattr(si, "load") else si.load_extractor(store)
    src = stores.open_source(data_path)
    traces = np.fromfile(data_path, "int16").reshape(-1, src.n_channels)
    assert rec.get_sampling_frequency() == src.sampling_frequency
    if name == "openephys_lfp":
        assert list(rec.get_channel_ids()) == src.channel_ids and np.array_equal(rec.get_traces(), traces)
        assert np.allclose(rec.get_channel_gains(), 0.195, atol=1e-6)
        return
    # as SpikeInterface's own SpikeGLX reader: the probe's channels, their gains and positions; the sync
    # channel is kept beside them in the store (open_recording and decompress have it)
    ref = se.read_spikeglx(data_path.parent, stream_id="imec0.ap")
    assert list(rec.get_channel_ids()) == src.channel_ids[:384] == [c.split("#")[1] for c in ref.get_channel_ids()]
    assert np.array_equal(rec.get_traces(), traces[:, :384])
    assert np.allclose(rec.get_channel_gains(), ref.get_channel_gains())
    assert np.array_equal(rec.get_channel_locations(), ref.get_channel_locations())
    assert rec.get_probe().get_contact_count() == 384
    assert np.array_equal(open_recording(store)[:, [384]], traces[:, [384]])
