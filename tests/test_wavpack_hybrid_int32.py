"""WavPack hybrid mode (bps=...) and 32-bit integers: samples beyond 24 bits are refused with a
ValueError (numcodecs codecs, the wavpack-numcodecs format, the HDF5 filter), because
libwavpack's 32-bit extension does not keep hybrid errors within what the bit rate gives
(a sample of -2^31 used to decode far from its value and spoil its neighbours). Within
24 bits the errors are those of the same samples in int16, and lossless mode keeps the
whole range."""

import numpy as np
import pytest

import numcodecs_ephys as ne

from conftest import simulated, unavailable

LIMIT = 1 << (ne.wavpack.HYBRID_INT32_BITS - 1)
HYBRID = (ne.WavPack(bps=3), ne.WavPackNumcodecsFormat(bps=3), ne.WavPack(bps=6, block_channels=2))


def _roundtrip(codec, x):
    return np.asarray(codec.decode(codec.encode(x))).reshape(x.shape)


@pytest.mark.parametrize("codec", HYBRID, ids=repr)
@pytest.mark.parametrize("value", [-(1 << 31), (1 << 31) - 1, -LIMIT - 1, LIMIT])
def test_wide_int32_refused(codec, value):
    x = simulated(2000, 4, dtype="int32")
    x[1000, 1] = value
    with pytest.raises(ValueError, match=f"int32 samples from {-LIMIT} to {LIMIT - 1} \\(24 bits\\).*bps=None"):
        codec.encode(x)
    assert np.array_equal(_roundtrip(ne.WavPack(), x), x)  # lossless keeps the whole range


def test_wide_uint32_refused():
    x = (simulated(2000, 4).astype("int64") + (1 << 31)).astype("uint32")
    assert np.abs(_roundtrip(ne.WavPack(bps=3), x).astype("int64") - x).max() < 64
    x[5, 0] = 0
    with pytest.raises(ValueError, match="uint32 samples from 2139095040 to 2155872255"):
        ne.WavPack(bps=3).encode(x)


@pytest.mark.parametrize("codec", HYBRID, ids=repr)
def test_within_24_bits(codec):
    x = simulated(3000, 4, dtype="int32", std=10.0)
    # the same samples as int16 decode to the same values
    assert np.array_equal(_roundtrip(codec, x), _roundtrip(codec, x.astype("int16")))
    # a sample at either end of the range decodes close by and leaves its neighbours alone
    for value in (-LIMIT, LIMIT - 1):
        y = x.copy()
        y[1500, 2] = value
        err = np.abs(_roundtrip(codec, y).astype("int64") - y)
        assert err[1500, 2] < LIMIT >> 8 and np.delete(err, 1500 * 4 + 2).max() < 64, (value, err.max())


def test_hdf5_filter_refuses_wide_int32(tmp_path):
    try:
        import h5py
    except ImportError:  # pragma: no cover
        unavailable("h5py is not installed")
    import numcodecs_ephys.hdf5 as eh5

    x = simulated(2000, 4, dtype="int32")
    with h5py.File(tmp_path / "ok.h5", "w") as f:
        f.create_dataset("x", data=x, chunks=(1000, 4), **eh5.WavPackH5(bps=3))
    x[10, 0] = -(1 << 31)
    # h5py sets plugin filters optional: HDF5 stores the refused chunk as it is (exact), the
    # other chunk through the filter
    with h5py.File(tmp_path / "wide.h5", "w") as f:
        f.create_dataset("x", data=x, chunks=(1000, 4), **eh5.WavPackH5(bps=3))
    with h5py.File(tmp_path / "wide.h5") as f:
        d = f["x"]
        assert [d.id.get_chunk_info(i).filter_mask for i in range(2)] == [1, 0]
        assert np.array_equal(d[:1000], x[:1000]) and np.abs(d[1000:].astype("int64") - x[1000:]).max() < 64
