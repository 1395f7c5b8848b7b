import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from numcodecs_ephys import Delta2D

from conftest import load_real, simulated
from filter_helpers import (
    chain_roundtrip,
    check_roundtrip,
)

AXES = ["time", "space", "time+space"]
DTYPES = ["int8", "int16", "int32", "int64"]


def reference(x, axis):
    """The same transform in numpy (wrap-around), on (samples, channels)."""
    x2 = x.reshape(x.shape[0], -1) if x.ndim > 1 else x.reshape(-1, 1)
    y = x2.copy()
    with np.errstate(over="ignore"):
        if axis in ("time", "time+space"):
            y[1:] = x2[1:] - x2[:-1]
        if axis in ("space", "time+space"):
            y = np.concatenate([y[:, :1], y[:, 1:] - y[:, :-1]], axis=1)
    return y.reshape(x.shape)
@pytest.mark.parametrize("kwargs", [dict(axis="x"), dict(axis=0), dict(num_threads=0), dict(num_threads=1.5),
                                    dict(num_threads=True)])
def test_invalid_params(kwargs):
    with pytest.raises(ValueError):
        Delta2D(**kwargs)


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_numpy_and_roundtrips(axis, dtype):
    x = simulated(300, 17, dtype="int64", std=1e3).astype(dtype)
    enc = check_roundtrip(Delta2D(axis), x)
    np.testing.assert_array_equal(enc[-x.shape[0]:], reference(x, axis))


@pytest.mark.parametrize("axis", AXES)
def test_real_recordings(real_recording, axis):
    name, x = real_recording
    check_roundtrip(Delta2D(axis), x)


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("shape", [(0,), (0, 384), (5, 0), (1,), (1, 384), (1000, 1), (7,), (10, 3, 4),
                                   (4, 2, 2, 2, 1, 1, 1, 2), ()])
def test_shapes(axis, shape):
    rng = np.random.default_rng(1)
    x = rng.integers(-1000, 1000, size=shape).astype("int16")
    check_roundtrip(Delta2D(axis), x)


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_overflow_wraps(axis, dtype):
    info = np.iinfo(dtype)
    x = np.array([[info.max, info.min, info.max], [info.min, info.max, 0], [info.max, info.max, info.min]], dtype)
    enc = check_roundtrip(Delta2D(axis), x)
    np.testing.assert_array_equal(enc[-3:], reference(x, axis))


def test_thread_count_does_not_change_output():
    x = simulated(3000, 96, std=300)
    for axis in AXES:
        outs = [Delta2D(axis, num_threads=n).encode(x).tobytes() for n in (1, 2, 3, 7)]
        assert len(set(outs)) == 1
        for n in (1, 2, 5):
            np.testing.assert_array_equal(Delta2D(axis, num_threads=n).decode(outs[0]), x)


@pytest.mark.parametrize("bad", [np.zeros(10, "float32"), np.zeros(10, "uint16"), np.zeros((2,) * 9, "int16"),
                                 b"abc"])
def test_bad_input(bad):
    with pytest.raises(ValueError):
        Delta2D().encode(bad)


def test_decode_rejects_other_filters_and_garbage():
    from numcodecs_ephys import BitTruncation
    x = simulated(50, 4)
    for data in (b"", b"EPHF", BitTruncation(2).encode(x).tobytes(), bytes(100), b"\xff" * 64):
        with pytest.raises(ValueError):
            Delta2D().decode(data)
    with pytest.raises(ValueError):
        Delta2D().decode(Delta2D().encode(x), out=np.empty(3, "int16"))
@settings(max_examples=60, deadline=None)
@given(hnp.arrays(st.sampled_from(DTYPES), hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=12)),
       st.sampled_from(AXES))
def test_property_roundtrip(x, axis):
    check_roundtrip(Delta2D(axis), x)
def test_chain_with_compressors():
    x = load_real("np_ultra")[:2000]
    for axis in AXES:
        chain_roundtrip(Delta2D(axis), x)


def test_zarr2_style_flat_bytes_decode():
    """numcodecs filters may get flat bytes back from the compressor: the header restores the shape."""
    x = simulated(100, 8)
    flat = np.frombuffer(Delta2D("time+space").encode(x).tobytes(), "uint8")
    np.testing.assert_array_equal(Delta2D().decode(flat), x)
