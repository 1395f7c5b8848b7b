"""The HoloViz large-data scenario on our filters: a 60 s Neuropixels LFP recording (the real
Open Ephys file, repeated) written to NWB HDF5 through NeuroConv with WavPackH5, its kerchunk
references built (numcodecs_ephys.hdf5.references), opened lazily with xarray, and the min and
max of 1 s of three channels computed, from a local file and from a local S3 server (moto).
The bytes fetched are counted: only the chunks holding the selection are read."""

import os
from datetime import datetime, timezone

import numpy as np
import pytest

from conftest import REAL, load_real, require

pytestmark = pytest.mark.zarr2  # NeuroConv/pynwb: the zarr 2 stack

RATE = 2500.0
SECONDS = 60
CHUNKS = (2500, 64)  # 1 s x 64 channels
SERIES = "acquisition/ElectricalSeriesRaw"
CHANNELS = [5, 100, 300]  # in channel chunks 0, 1 and 4
SECOND = 10  # the second read: samples 25000-27500, chunk row 10


@pytest.fixture(scope="module")
def lfp_nwb(tmp_path_factory):
    """(path, traces of one second): NeuroConv's HDF5 backend with WavPackH5 on the data."""
    require("neuroconv")
    import pynwb
    import spikeinterface as si
    from neuroconv.tools.nwb_helpers import configure_backend, get_default_backend_configuration
    from neuroconv.tools.spikeinterface import add_recording_to_nwbfile

    import numcodecs_ephys.hdf5 as eh5

    one_second = load_real("openephys_lfp")  # (2500, 384) int16
    recording = si.read_binary(
        REAL / "openephys" / "Neuropix-PXI-116.1_continuous.dat",
        sampling_frequency=RATE,
        num_channels=384,
        dtype="int16",
        gain_to_uV=0.195,
        offset_to_uV=0.0,
    )
    recording = si.concatenate_recordings([recording] * SECONDS)
    nwbfile = pynwb.NWBFile(
        session_description="Neuropixels LFP",
        identifier="lfp",
        session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc),
    )
    add_recording_to_nwbfile(recording, nwbfile=nwbfile, parent_container="acquisition")
    config = get_default_backend_configuration(nwbfile=nwbfile, backend="hdf5")
    data = config.dataset_configurations[f"{SERIES}/data"]
    data.compressors, data.compressor_options = [eh5.WavPackH5()], None
    data.chunk_shape, data.buffer_shape = CHUNKS, (CHUNKS[0] * 10, 384)
    configure_backend(nwbfile=nwbfile, backend_configuration=config)
    path = tmp_path_factory.mktemp("nwb") / "lfp.nwb"
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return path, one_second


def _counting(base):
    """A subclass of an fsspec filesystem class that counts the bytes it returns."""

    class Counting(base):
        fetched = 0

        def cat_file(self, path, start=None, end=None, **kwargs):
            data = super().cat_file(path, start=start, end=end, **kwargs)
            type(self).fetched += len(data)
            return data

        async def _cat_file(self, path, start=None, end=None, **kwargs):
            data = await super()._cat_file(path, start=start, end=end, **kwargs)
            type(self).fetched += len(data)
            return data

    return Counting


def _min_max_of_one_second(refs, remote_fs, protocol):
    """The HoloViz reading: xarray over the references, then min/max of 1 s of 3 channels."""
    import fsspec
    import xarray as xr

    fs = fsspec.filesystem("reference", fo=refs, fs={protocol: remote_fs})
    # "electrodes" shares kerchunk's phony dim name with another length; fill value: keep int16
    ds = xr.open_dataset(
        fs.get_mapper(""),
        engine="zarr",
        group=SERIES,
        consolidated=False,
        drop_variables=["electrodes"],
        mask_and_scale=False,
    )
    assert ds["data"].shape == (SECONDS * CHUNKS[0], 384) and ds["data"].dtype == np.int16
    assert type(remote_fs).fetched == 0  # opening reads only the references
    t0 = SECOND * CHUNKS[0]
    sel = ds["data"][t0 : t0 + CHUNKS[0], CHANNELS].load()
    return sel.values, int(sel.min()), int(sel.max())


def _check(refs, remote_fs, protocol, one_second, path, where):
    values, lo, hi = _min_max_of_one_second(refs, remote_fs, protocol)
    assert np.array_equal(values, one_second[:, CHANNELS])  # bit-exact
    assert (lo, hi) == (one_second[:, CHANNELS].min(), one_second[:, CHANNELS].max())
    needed = sum(refs["refs"][f"{SERIES}/data/{SECOND}.{c // CHUNKS[1]}"][2] for c in CHANNELS)
    size = os.path.getsize(path)
    fetched = type(remote_fs).fetched
    print(
        f"{where}: fetched {fetched} bytes for 1 s x 3 channels; the 3 chunks holding them: {needed} bytes; "
        f"file: {size} bytes ({100 * fetched / size:.2f}%)"
    )
    assert 0 < fetched <= needed < 0.01 * size


def test_local_nwb_through_references(lfp_nwb):
    from fsspec.implementations.local import LocalFileSystem

    import numcodecs_ephys.hdf5 as eh5

    path, one_second = lfp_nwb
    refs = eh5.references(str(path))
    local = _counting(LocalFileSystem)(skip_instance_cache=True)
    # kerchunk writes local paths without a protocol: fsspec's reference filesystem calls that None
    _check(refs, local, None, one_second, path, "local")


def test_s3_nwb_through_references(lfp_nwb, s3_endpoint):
    import boto3
    import s3fs

    import numcodecs_ephys.hdf5 as eh5

    path, one_second = lfp_nwb
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="lfp")
    s3.upload_file(str(path), "lfp", "session/lfp.nwb")
    options = {"client_kwargs": {"endpoint_url": s3_endpoint}}
    refs = eh5.references("s3://lfp/session/lfp.nwb", **options)
    assert refs["refs"][f"{SERIES}/data/0.0"][0] == "s3://lfp/session/lfp.nwb"
    remote = _counting(s3fs.S3FileSystem)(skip_instance_cache=True, **options)
    _check(refs, remote, "s3", one_second, path, "s3 (moto)")
