import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numcodecs import FixedScaleOffset

from numcodecs_ephys import BitTruncation

from conftest import load_real
from filter_helpers import chain_roundtrip, check_frozen_chunks_encode_the_same, check_roundtrip


def reference(x, bits):
    """Round half away from zero, clamped so that q * 2**bits fits the dtype."""
    info = np.iinfo(x.dtype)
    v = x.astype(np.int64)
    q = np.sign(v) * ((np.abs(v) + (1 << bits >> 1)) >> bits)
    return np.clip(q, -((-int(info.min)) >> bits), int(info.max) >> bits)


def test_int16_limit_on_bits():
    with pytest.raises(ValueError, match="too many"):
        BitTruncation(16).encode(np.zeros(4, "int16"))
    check_roundtrip(BitTruncation(16), np.arange(-4, 4, dtype="int32") << 16)


def test_tie_rule_is_half_away_from_zero():
    x = np.array([2, -2, 6, -6, 1, -1, 3, -3], "int16")
    enc = BitTruncation(2).encode(x)[-len(x) :]
    np.testing.assert_array_equal(enc, [1, -1, 2, -2, 0, 0, 1, -1])


@pytest.mark.parametrize("dtype", ["int16", "int32"])
@pytest.mark.parametrize("bits", [0, 1, 3, 7, 15])
def test_matches_reference(dtype, bits):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(bits)
    x = np.concatenate(
        [
            rng.integers(info.min, info.max, 500, endpoint=True),
            [info.min, info.max, info.min + 1, info.max - 1, 0, -1, 1],
        ]
    ).astype(dtype)
    codec = BitTruncation(bits)
    enc = codec.encode(x)
    q = reference(x, bits)
    np.testing.assert_array_equal(enc[-len(x) :], q)
    dec = codec.decode(enc)
    np.testing.assert_array_equal(dec, q << bits)
    err = np.abs(dec.astype(np.int64) - x)
    assert err.max() <= 1 << bits  # half a step, or a full step where saturated
    assert (err[np.abs(x.astype(np.int64)) < int(info.max) - (1 << bits)] <= (1 << bits >> 1)).all()


def test_saturates_where_fixedscaleoffset_wraps():
    x = np.array([32767, 32766, -32768], "int16")
    fso = FixedScaleOffset(offset=0, scale=1 / 2, dtype="int16")
    assert fso.decode(fso.encode(x))[0] < 0  # the paper's filter wraps 32767 to -32768
    dec = BitTruncation(1).decode(BitTruncation(1).encode(x))
    np.testing.assert_array_equal(dec, [32766, 32766, -32768])


def test_bits_zero_is_lossless(real_recording):
    name, x = real_recording
    check_roundtrip(BitTruncation(0), x)


def test_real_lossy(real_recording):
    name, x = real_recording
    codec = BitTruncation(3)
    check_roundtrip(codec, x, lossless=False)
    np.testing.assert_array_equal(codec.decode(codec.encode(x)), reference(x, 3) << 3)


@pytest.mark.parametrize("shape", [(0,), (0, 384), (5, 0), (1,), (1, 384), (300, 1), (10, 3, 4), ()])
def test_shapes(shape):
    x = (np.random.default_rng(2).integers(-1000, 1000, size=shape) * 8).astype("int16")
    check_roundtrip(BitTruncation(3), x)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(st.sampled_from(["int16", "int32"]), hnp.array_shapes(min_dims=1, max_dims=3, max_side=12)),
    st.integers(0, 15),
)
def test_property(x, bits):
    codec = BitTruncation(bits)
    enc = codec.encode(x)
    np.testing.assert_array_equal(enc[-x.shape[0] :].reshape(x.shape) if x.size else x, reference(x, bits))
    np.testing.assert_array_equal(codec.decode(enc.tobytes()), reference(x, bits) << bits)


def test_chain_with_compressors():
    x = load_real("np_ultra")[:2000]
    chain_roundtrip(BitTruncation(0), x)
    res = chain_roundtrip(BitTruncation(2), x, lossless=False)
    for _size, dec in res.values():
        np.testing.assert_array_equal(dec, reference(x, 2) << 2)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(st.sampled_from(["int16", "int32"]), hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=12)),
    st.integers(0, 15),
)
def test_property_kernels_are_the_payload_of_the_numcodecs_chunk(x, bits):
    """apply gives the samples the numcodecs chunk holds after its header; invert (in place
    too) gives what numcodecs decoding gives."""
    from numcodecs_ephys._extension import ffi, lib

    x = np.ascontiguousarray(x)
    q = np.empty_like(x)
    assert (
        lib.ephys_bittruncation_apply(ffi.from_buffer(x), ffi.from_buffer(q), x.nbytes, x.itemsize, bits, 2)
        == lib.EPHYS_OK
    )
    codec = BitTruncation(bits)
    assert codec.encode(x).tobytes().endswith(q.tobytes())
    assert (
        lib.ephys_bittruncation_invert(ffi.from_buffer(q), ffi.from_buffer(q), q.nbytes, q.itemsize, bits, 2)
        == lib.EPHYS_OK
    )
    np.testing.assert_array_equal(q, codec.decode(codec.encode(x)))


def test_frozen_chunks_encode_the_same():
    check_frozen_chunks_encode_the_same("ephys_bittruncation")
