import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from numcodecs_ephys import Delta2D

from conftest import load_real, simulated
from filter_helpers import chain_roundtrip, check_frozen_chunks_encode_the_same, check_roundtrip

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


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_numpy_and_roundtrips(axis, dtype):
    x = simulated(300, 17, dtype="int64", std=1e3).astype(dtype)
    enc = check_roundtrip(Delta2D(axis), x)
    np.testing.assert_array_equal(enc[-x.shape[0] :], reference(x, axis))


@pytest.mark.parametrize("axis", AXES)
def test_real_recordings(real_recording, axis):
    name, x = real_recording
    check_roundtrip(Delta2D(axis), x)


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize(
    "shape", [(0,), (0, 384), (5, 0), (1,), (1, 384), (1000, 1), (7,), (10, 3, 4), (4, 2, 2, 2, 1, 1, 1, 2), ()]
)
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


def test_decode_rejects_other_filters_and_garbage():
    from numcodecs_ephys import BitTruncation

    x = simulated(50, 4)
    for data in (b"", b"EPHF", BitTruncation(2).encode(x).tobytes(), bytes(100), b"\xff" * 64):
        with pytest.raises(ValueError):
            Delta2D().decode(data)
    with pytest.raises(ValueError):
        Delta2D().decode(Delta2D().encode(x), out=np.empty(3, "int16"))


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(st.sampled_from(DTYPES), hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=12)),
    st.sampled_from(AXES),
)
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


def test_kernels_check_their_arguments():
    """The header-free kernels (what the zarr 3 filters call) refuse impossible sizes and
    overlapping buffers with an error code, never touching memory they were not given."""
    from numcodecs_ephys._extension import ffi, lib

    x = simulated(100, 4)
    out = np.empty_like(x)
    p, q = ffi.from_buffer(x), ffi.from_buffer(out)
    assert lib.ephys_delta2d_apply(p, q, x.nbytes, 2, 100, 4, lib.EPHYS_DELTA_TIME, 1) == lib.EPHYS_OK
    np.testing.assert_array_equal(out, reference(x, "time"))
    assert lib.ephys_delta2d_invert(q, out.nbytes, 2, 100, 4, lib.EPHYS_DELTA_TIME, 1) == lib.EPHYS_OK
    np.testing.assert_array_equal(out, x)
    for args in [
        (p, q, x.nbytes - 2, 2, 100, 4, 1),
        (p, q, x.nbytes, 3, 100, 4, 1),
        (p, q, x.nbytes, 2, 100, 4, 0),
        (p, q, x.nbytes, 2, 2**62, 2**3, 1),
        (p, p, x.nbytes, 2, 100, 4, 1),
        (p, ffi.from_buffer(x[1:]), x.nbytes - 8, 2, 99, 4, 1),
    ]:
        assert lib.ephys_delta2d_apply(*args, 1) == lib.EPHYS_ERR_ARGS, args
    assert lib.ephys_bittruncation_apply(p, p, x.nbytes, 2, 2, 1) == lib.EPHYS_OK  # in place is fine
    for args in [
        (p, q, x.nbytes - 1, 2, 2),
        (p, q, x.nbytes, 2, 16),
        (p, q, x.nbytes, 8, 2),
        (p, ffi.from_buffer(x[1:]), x.nbytes - 8, 2, 2),
    ]:
        assert lib.ephys_bittruncation_apply(*args, 1) == lib.EPHYS_ERR_ARGS, args
        assert lib.ephys_bittruncation_invert(*args, 1) == lib.EPHYS_ERR_ARGS, args


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(st.sampled_from(DTYPES), hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=12)),
    st.sampled_from(AXES),
)
def test_property_kernels_are_the_payload_of_the_numcodecs_chunk(x, axis):
    """apply gives the samples the numcodecs chunk holds after its header; invert undoes it."""
    from numcodecs_ephys._extension import ffi, lib
    from numcodecs_ephys._filter_frame import samples_and_channels
    from numcodecs_ephys.delta2d import AXES as CODES

    x = np.ascontiguousarray(x)
    out = np.empty_like(x)
    rows, channels = samples_and_channels(x.shape)
    assert (
        lib.ephys_delta2d_apply(
            ffi.from_buffer(x), ffi.from_buffer(out), x.nbytes, x.itemsize, rows, channels, CODES[axis], 2
        )
        == lib.EPHYS_OK
    )
    assert Delta2D(axis).encode(x).tobytes().endswith(out.tobytes())
    assert (
        lib.ephys_delta2d_invert(ffi.from_buffer(out), out.nbytes, x.itemsize, rows, channels, CODES[axis], 2)
        == lib.EPHYS_OK
    )
    np.testing.assert_array_equal(out, x)


def test_frozen_chunks_encode_the_same():
    check_frozen_chunks_encode_the_same("ephys_delta2d")
