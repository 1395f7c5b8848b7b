"""SpikeInterface (zarr 2 stack): recording.save(format="zarr", compressor=..., filters=[...])
of real SpikeGLX recordings, reloaded in a fresh process with spikeinterface.load."""

import numpy as np
import pytest

from conftest import require
from writers import read_back, spikeglx_folder

pytestmark = pytest.mark.zarr2

READ = """
import sys, numpy as np
import spikeinterface as si
rec = si.load(sys.argv[2])
np.savez(sys.argv[1], traces=rec.get_traces(), channel_ids=rec.get_channel_ids().astype(str))
"""


def _codecs():
    from numcodecs_ephys import FLAC, BitTruncation, Delta2D, WavPack

    return {
        "wavpack": (WavPack(num_threads=1), None, True),
        "wavpack_delta": (WavPack(level=1, num_threads=1), [Delta2D(axis="time", num_threads=1)], True),
        "flac": (FLAC(num_threads=1), None, True),
        "flac_bittrunc": (FLAC(num_threads=1), [BitTruncation(bits=1, num_threads=1)], False),
    }


@pytest.mark.parametrize(
    "codec,n_jobs",
    [
        ("wavpack", 1),
        ("wavpack_delta", 1),
        ("flac", 1),
        ("flac_bittrunc", 1),
        # a spawned process pool: the codecs travel pickled
        ("wavpack", 2),
        ("wavpack_delta", 2),
        ("flac_bittrunc", 2),
    ],
)
def test_save_zarr_and_reload(tmp_path, codec, n_jobs):
    require("spikeinterface")
    se = require("spikeinterface.extractors")
    folder = spikeglx_folder("np_ultra")
    rec = se.read_spikeglx(folder, stream_id="imec0.ap")
    compressor, filters, lossless = _codecs()[codec]
    out = tmp_path / "rec.zarr"
    rec.save(
        format="zarr",
        folder=out,
        compressor=compressor,
        filters=filters,
        n_jobs=n_jobs,
        chunk_size=1000,
        mp_context="spawn" if n_jobs > 1 else None,
        progress_bar=False,
    )
    got = read_back(tmp_path, READ, out)
    traces = rec.get_traces()
    assert got["traces"].shape == traces.shape == (5000, 384)
    np.testing.assert_array_equal(got["channel_ids"], rec.get_channel_ids().astype(str))
    if lossless:
        np.testing.assert_array_equal(got["traces"], traces)
    else:
        np.testing.assert_array_equal(got["traces"], filters[0].decode(filters[0].encode(traces)))


def test_lsb_from_recording_np2(tmp_path):
    """LSB estimated on a SpikeInterface recording (SpikeGLX: integer grid), with WavPack."""
    require("spikeinterface")
    se = require("spikeinterface.extractors")
    from numcodecs_ephys import LSB, WavPack

    rec = se.read_spikeglx(spikeglx_folder("np2"), stream_id="imec0.ap")
    lsb = LSB.from_recording(rec, num_threads=1)
    out = tmp_path / "rec.zarr"
    rec.save(format="zarr", folder=out, compressor=WavPack(num_threads=1), filters=[lsb], n_jobs=1, progress_bar=False)
    got = read_back(tmp_path, READ, out)
    np.testing.assert_array_equal(got["traces"], rec.get_traces())
