"""SpikeInterface's preprocessed float32 recordings (band-pass with dtype="float32", then
whitening) saved to zarr with EphysLPC: lossless bit for bit, or with max_error as an absolute
bound, checked at every sample of every chunk the writer coded."""

import numpy as np
import pytest

from conftest import require
from writers import read_back, spikeglx_folder

pytestmark = pytest.mark.zarr2

READ = """
import sys, numpy as np
import spikeinterface as si
rec = si.load(sys.argv[2])
np.savez(sys.argv[1], traces=rec.get_traces())
"""
CHUNK = 1000


def _preprocessed():
    require("spikeinterface")
    se = require("spikeinterface.extractors")
    spre = require("spikeinterface.preprocessing")
    rec = se.read_spikeglx(spikeglx_folder("np_ultra"), stream_id="imec0.ap")
    rec = spre.bandpass_filter(rec, freq_min=300.0, freq_max=6000.0, dtype="float32")
    return spre.whiten(rec, dtype="float32", seed=0)


@pytest.mark.parametrize("max_error, n_jobs", [(0, 1), (0.05, 1), (0.05, 2)])
def test_save_preprocessed_float32_with_ephys_lpc(tmp_path, max_error, n_jobs):
    from numcodecs_ephys import EphysLPC

    rec = _preprocessed()
    assert rec.get_dtype() == np.float32
    out = tmp_path / "rec.zarr"
    rec.save(
        format="zarr",
        folder=out,
        compressor=EphysLPC(max_error=max_error, num_threads=1),
        n_jobs=n_jobs,
        chunk_size=CHUNK,
        mp_context="spawn" if n_jobs > 1 else None,
        progress_bar=False,
    )
    got = read_back(tmp_path, READ, out)["traces"]
    assert got.dtype == np.float32 and got.shape == (rec.get_num_samples(), rec.get_num_channels())
    for start in range(0, rec.get_num_samples(), CHUNK):  # what the writer coded, chunk by chunk
        want = rec.get_traces(start_frame=start, end_frame=start + CHUNK)
        part = got[start : start + CHUNK]
        # worker processes whiten with their own BLAS calls, a few ulps away from this process's
        slack = 1e-5 * float(np.abs(want).max()) if n_jobs > 1 else 0.0
        if max_error:
            assert np.abs(part.astype(np.float64) - want).max() <= max_error + slack
        else:
            assert part.view(np.uint32).tobytes() == np.ascontiguousarray(want).view(np.uint32).tobytes()
