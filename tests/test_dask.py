"""dask: dask.array.to_zarr of a recording-sized array through a dask.distributed
LocalCluster of 2 worker processes (the codecs travel pickled), read back bit-exact in a
fresh process. zarr 2 (format 2, numcodecs classes) and zarr 3 (format 3, zarr 3 codecs)."""

import numpy as np
import pytest

from conftest import load_real, require
from writers import read_back

CHUNKS = (1000, 192)
READ = """
import sys, numpy as np, zarr
np.savez(sys.argv[1], **{name: zarr.open_array(path, mode="r")[:]
                         for name, path in zip(sys.argv[2::2], sys.argv[3::2])})
"""


@pytest.fixture(scope="module")
def client():
    require("dask.array")
    distributed = require("distributed")
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _traces():
    return load_real("np_ultra")  # 5000 x 384 int16, 3.8 MB


def _check(client, tmp_path, writes):
    import dask.array as da

    traces = _traces()
    x = da.from_array(traces, chunks=CHUNKS)
    args = []
    for name, kwargs in writes.items():
        path = tmp_path / f"{name}.zarr"
        result = da.to_zarr(x, str(path), compute=False, **kwargs)
        client.compute(result).result()
        assert set(client.run(lambda: "numcodecs_ephys" in __import__("sys").modules).values()) == {True}
        args += [name, path]
    got = read_back(tmp_path, READ, *args)
    for name in writes:
        np.testing.assert_array_equal(got[name], traces, err_msg=name)


@pytest.mark.zarr2
def test_dask_distributed_to_zarr2(client, tmp_path):
    from numcodecs_ephys import FLAC, Delta2D, WavPack

    _check(
        client,
        tmp_path,
        {
            "wavpack_delta": dict(compressor=WavPack(num_threads=1), filters=[Delta2D(num_threads=1)]),
            "flac": dict(compressor=FLAC(num_threads=1)),
        },
    )


@pytest.mark.zarr3
def test_dask_distributed_to_zarr3(client, tmp_path):
    import numcodecs_ephys
    from numcodecs_ephys import zarr3 as z3

    _check(
        client,
        tmp_path,
        {
            "wavpack_delta": dict(
                zarr_format=3, serializer=z3.WavPack(num_threads=1), filters=[z3.Delta2D()], compressors=None
            ),
            "flac": dict(zarr_format=3, serializer=z3.FLAC(num_threads=1), compressors=None),
            "v2_wavpack": dict(
                zarr_format=2, compressors=numcodecs_ephys.WavPack(num_threads=1), filters=[numcodecs_ephys.Delta2D()]
            ),
        },
    )
