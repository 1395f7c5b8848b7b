"""NeuroConv (zarr 2 stack): the codecs in AVAILABLE_ZARR_COMPRESSION_METHODS, and an
NWB-Zarr file of a real SpikeGLX recording written with NeuroConv's zarr backend set to
WavPack (by name and by instance), read back with hdmf-zarr/pynwb in a fresh process.

Import order: NeuroConv builds AVAILABLE_ZARR_COMPRESSION_METHODS (and the pydantic
``Literal`` of accepted names) from the numcodecs registry when ``neuroconv`` is first
imported, and numcodecs loads third-party entry points only when asked for an unknown id.
So ``import numcodecs_ephys`` must come before the first neuroconv import for the codecs
to be usable *by name*; instances work in any order.
"""

from datetime import datetime

import numpy as np
import pytest

import numcodecs_ephys  # noqa: F401  before any neuroconv import, as users must (see above)

from conftest import fresh_python, require
from writers import read_back, spikeglx_folder

pytestmark = pytest.mark.zarr2

IDS = ["ephys_wavpack", "ephys_flac", "ephys_delta2d", "ephys_bittruncation", "ephys_lsb", "wavpack", "flac"]
CHECK = (
    "from neuroconv.tools.nwb_helpers import AVAILABLE_ZARR_COMPRESSION_METHODS as A\n"
    "import numcodecs_ephys\n"
    f"print(' '.join(sorted(k for k in A if k in {set(IDS)})))"
)


def test_codecs_listed_when_imported_first():
    require("neuroconv")
    out = fresh_python("import numcodecs_ephys\n" + CHECK)
    assert out.split() == sorted(IDS)
    # the same through NeuroConv's top-level import
    out = fresh_python("import numcodecs_ephys\nimport neuroconv\n" + CHECK)
    assert out.split() == sorted(IDS)


def test_import_order_finding():
    """Documents the order dependence (see the module docstring and README)."""
    require("neuroconv")
    out = fresh_python("import neuroconv\n" + CHECK)
    late = out.split()
    assert set(late) <= set(IDS)  # whatever neuroconv does, nothing else shows up
    if late:  # a future NeuroConv that reads the registry lazily: then any order works
        assert late == sorted(IDS)


READ = """
import sys, numpy as np
from hdmf_zarr.nwb import NWBZarrIO
with NWBZarrIO(sys.argv[2], mode="r") as io:
    nwbfile = io.read()
    series = nwbfile.acquisition["ElectricalSeriesAPImec0"]
    data = series.data
    np.savez(sys.argv[1], data=data[:], compressor=str(data.compressor.get_config()),
             filters=str([f.get_config() for f in (data.filters or [])]), module=type(data.compressor).__module__)
"""


@pytest.mark.parametrize("how", ["by_name", "by_instance"])
def test_nwb_zarr_with_wavpack(tmp_path, how):
    require("neuroconv")
    require("hdmf_zarr")
    from neuroconv.datainterfaces import SpikeGLXRecordingInterface
    from neuroconv.tools.nwb_helpers import get_default_backend_configuration

    from numcodecs_ephys import Delta2D, WavPack

    interface = SpikeGLXRecordingInterface(folder_path=spikeglx_folder("np_ultra"), stream_id="imec0.ap")
    metadata = interface.get_metadata()
    metadata["NWBFile"]["session_start_time"] = datetime(2024, 1, 1).astimezone()
    nwbfile = interface.create_nwbfile(metadata=metadata)
    config = get_default_backend_configuration(nwbfile, backend="zarr")
    dataset = config.dataset_configurations["acquisition/ElectricalSeriesAPImec0/data"]
    if how == "by_name":
        dataset.compressors = ["ephys_wavpack"]
        dataset.compressor_options = [{"level": 3, "num_threads": 1}]
        dataset.filters = ["ephys_delta2d"]
        dataset.filter_options = [{"axis": "time"}]
    else:
        dataset.compressors = [WavPack(level=3, num_threads=1)]
        dataset.filters = [Delta2D(axis="time")]
    dataset.chunk_shape = (1000, 384)
    path = tmp_path / "session.nwb.zarr"
    interface.run_conversion(
        nwbfile_path=path, metadata=metadata, backend="zarr", backend_configuration=config, overwrite=True
    )

    got = read_back(tmp_path, READ, path)
    np.testing.assert_array_equal(got["data"], interface.recording_extractor.get_traces())
    assert got["module"] == "numcodecs_ephys.wavpack"
    assert "'id': 'ephys_wavpack'" in str(got["compressor"]) and "'level': 3" in str(got["compressor"])
    assert "ephys_delta2d" in str(got["filters"])
