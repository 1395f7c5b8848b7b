import hashlib
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from numcodecs_ephys import LSB, WavPack, estimate_lsb
from numcodecs_ephys._extension import lib

from conftest import load_real, simulated
from filter_helpers import chain_roundtrip, check_frozen_chunks_encode_the_same, check_roundtrip
from writers import format2_array

NP1_LFP_STEP = 1.2e6 / 1024 / 250 / 0.195  # 24.038...: 10-bit ADC, gain 250, in 0.195 uV units


def round_half_away(v):
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def on_grid(n=2000, channels=8, step=NP1_LFP_STEP, seed=0):
    """Values exactly on round_half_away(offset + k * step), like an ideal Open Ephys file."""
    rng = np.random.default_rng(seed)
    k = np.cumsum(rng.integers(-3, 4, size=(n, channels)), axis=0)
    offsets = rng.uniform(-5, 5, channels)
    return round_half_away(offsets + k * step).astype("int16"), offsets, k


def table_rows(enc, x):
    """Rows of the encoded chunk beyond the header and the samples (correction table, escapes)."""
    row_bytes = x.itemsize * (int(np.prod(x.shape[1:])) if x.ndim > 1 else 1)
    header = -(-(40 + 8 * x.ndim) // row_bytes)  # filter.h: format 2's fixed header, then the shape
    return enc.shape[0] - len(x) - header


def test_reconstruction_rule():
    for o, s, k in [(0.0, 2.5, 1), (0.0, 2.5, -1), (0.5, 1.0, 0), (-0.5, 1.0, 0), (0.4, NP1_LFP_STEP, 13)]:
        assert lib.ephys_lsb_reconstruct(o, s, k, 2) == round_half_away(o + k * s)
    assert lib.ephys_lsb_reconstruct(0.0, 24.0, 5000, 2) == 32767  # saturates


def test_exact_grid_needs_no_table_and_maps_to_k():
    x, offsets, k = on_grid()
    codec = LSB(offsets=offsets.tolist(), steps=NP1_LFP_STEP)
    enc = check_roundtrip(codec, x)
    assert table_rows(enc, x) == 0  # header only: no correction table
    assert LSB.escapes(enc) == 0
    np.testing.assert_array_equal(enc[-len(x) :], k)


def test_estimate_on_exact_grid():
    x, offsets, k = on_grid(channels=4)
    est_o, est_s = estimate_lsb(x)
    assert np.allclose(est_s, NP1_LFP_STEP, rtol=1e-3)
    codec = LSB.from_data(x)
    enc = check_roundtrip(codec, x)
    # k up to a per-channel constant shift
    d = enc[-len(x) :].astype(int) - k
    assert (d == d[0]).all()


@pytest.mark.parametrize("step", [3, 12])
def test_estimate_snaps_integer_grids(step):
    rng = np.random.default_rng(step)
    x = (np.cumsum(rng.integers(-2, 3, size=(3000, 5)), axis=0) * step + 7).astype("int16")
    offsets, steps = estimate_lsb(x)
    assert (steps == step).all() and (offsets % step == 7 % step).all()
    codec = LSB.from_data(x)
    enc = check_roundtrip(codec, x)
    assert table_rows(enc, x) == 0 and LSB.escapes(enc) == 0


def test_open_ephys_lossless_and_compresses():
    x = load_real("openephys_lfp")
    offsets, steps = estimate_lsb(x)
    assert abs(np.median(steps) - 24.04) < 0.02
    codec = LSB.from_data(x)
    enc = check_roundtrip(codec, x)
    assert LSB.escapes(enc) == 0
    wv = WavPack()
    cdata = wv.encode(enc)
    np.testing.assert_array_equal(codec.decode(wv.decode(cdata)), x)
    cr, cr_plain = x.nbytes / len(cdata), x.nbytes / len(wv.encode(x))
    assert cr >= 3.5, (cr, cr_plain)
    assert cr_plain < 2.1


@pytest.mark.parametrize("name", ["np_ultra", "np2", "np1_noise", "np2_4shank", "yass_10ch"])
def test_spikeglx_is_a_near_noop(name):
    x = load_real(name)
    offsets, steps = estimate_lsb(x)
    assert (steps == 1).all() and (offsets == 0).all()
    codec = LSB.from_data(x)
    enc = check_roundtrip(codec, x)
    np.testing.assert_array_equal(enc[-len(x) :], x)
    wv = WavPack()
    a, b = len(wv.encode(x)), len(wv.encode(enc))
    assert abs(b - a) / a < 0.01


def test_real_recordings(real_recording):
    name, x = real_recording
    check_roundtrip(LSB.from_data(x[:1000]), x)  # parameters from a part, applied to all


def test_escapes_where_k_does_not_fit():
    x = np.array([[-32768, 0], [32767, 5], [100, -32768]], "int16")
    codec = LSB(offsets=1000.0, steps=1.0)  # -32768 - 1000 does not fit int16
    assert LSB.escapes(check_roundtrip(codec, x)) == 2


def test_off_grid_values_and_collisions_roundtrip():
    x, offsets, _ = on_grid(channels=3)
    x[::7] += 1  # off the grid
    x[5::11, 1] = np.arange(len(x[5::11, 1]), dtype="int16")  # dense values: many share a grid index
    codec = LSB(offsets=offsets.tolist(), steps=NP1_LFP_STEP)
    check_roundtrip(codec, x)


def test_huge_table_falls_back_to_escapes():
    rng = np.random.default_rng(0)
    x = rng.integers(-(2**31), 2**31 - 1, size=(2000, 2)).astype("int32")
    codec = LSB(offsets=0.0, steps=1.37)
    assert LSB.escapes(check_roundtrip(codec, x)) > 0


@pytest.mark.parametrize("shape", [(0,), (0, 4), (5, 0), (1,), (1, 4), (300, 1), (10, 2, 2), ()])
def test_shapes(shape):
    x = np.random.default_rng(3).integers(-300, 300, size=shape).astype("int16")
    check_roundtrip(LSB(offsets=0.3, steps=2.7), x)


def test_channel_count_and_parameter_mismatch():
    x = simulated(100, 4)
    with pytest.raises(ValueError, match="channels"):
        LSB(offsets=[0.0] * 3, steps=1.0).encode(x)
    enc = LSB(offsets=0.0, steps=3.0).encode(x)
    with pytest.raises(ValueError, match="other offsets/steps"):
        LSB(offsets=0.0, steps=2.0).decode(enc)
    with pytest.raises(ValueError):
        LSB().encode(np.zeros(4, "float16"))


def test_from_recording_uses_get_traces():
    x, _, _ = on_grid(n=5000, channels=4)

    class Recording:
        def get_num_samples(self, segment_index=0):
            return len(x)

        def get_traces(self, start_frame=None, end_frame=None, segment_index=0):
            return x[start_frame:end_frame]

    codec = LSB.from_recording(Recording(), num_chunks=3, chunk_size=500)
    assert np.allclose(codec.steps, NP1_LFP_STEP, rtol=1e-3)
    check_roundtrip(codec, x)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(st.sampled_from(["int16", "int32"]), hnp.array_shapes(min_dims=1, max_dims=3, max_side=12)),
    st.floats(-1e4, 1e4),
    st.floats(1, 1e4),
)
def test_property_lossless(x, offset, step):
    check_roundtrip(LSB(offsets=offset, steps=step), x)


def test_chain_with_compressors():
    x = load_real("openephys_lfp")[:1000]
    chain_roundtrip(LSB.from_data(x), x)


def test_lossy_steps_after_a_filter_are_refused():
    """WavPack hybrid or BitTruncation after a filter would alter its header rows: a clear error."""
    from numcodecs_ephys import BitTruncation, Delta2D, WavPack

    data = (np.arange(6000, dtype=np.int16).reshape(1000, 6) % 97) * 12
    for flt in (LSB(offsets=0.0, steps=12.0), Delta2D("time")):
        filtered = flt.encode(data)
        with pytest.raises(ValueError, match="lossy"):
            WavPack(bps=3).encode(filtered)
        with pytest.raises(ValueError, match="lossy"):
            BitTruncation(bits=2).encode(filtered)
        assert np.array_equal(flt.decode(WavPack().decode(WavPack().encode(filtered))), data)  # lossless is fine
    # lossy first, then a lossless filter: fine
    bt, lsb = BitTruncation(bits=1), LSB(offsets=0.0, steps=6.0)
    restored = bt.decode(lsb.decode(WavPack().decode(WavPack().encode(lsb.encode(bt.encode(data))))))
    assert np.array_equal(restored, bt.decode(bt.encode(data)))
    assert np.abs(restored.astype(int) - data).max() <= 1


def test_lossy_after_a_filter_is_refused_in_a_zarr_format_2_array(tmp_path):
    """The same rule through zarr's format 2 (zarr 2 stack, or zarr 3 with zarr_format=2);
    zarr 3's own codecs: test_zarr3.py."""
    from numcodecs_ephys import BitTruncation, Delta2D, WavPack

    from conftest import require

    require("zarr")
    x = simulated(500, 4, seed=7)
    for i, (filters, compressor) in enumerate(
        [([Delta2D()], WavPack(bps=3)), ([LSB(0.0, 1.0), BitTruncation(bits=2)], WavPack())]
    ):
        with pytest.raises(ValueError, match="is lossy and this chunk was already transformed by"):
            format2_array(tmp_path / f"{i}.zarr", x, x.shape, compressor, filters)


# ---- float samples on a grid (SpikeInterface's scaled traces) ----


def scaled(q, gains, offsets=0.0):
    """What SpikeInterface's get_traces(return_scaled=True) computes: float32 arithmetic."""
    return q.astype("float32") * np.asarray(gains, "float32") + np.asarray(offsets, "float32")


def bits(a):
    return np.asarray(a).view(f"u{np.asarray(a).itemsize}")


def test_integer_samples_need_steps_of_at_least_1():
    LSB(steps=0.195)  # a float grid's step
    with pytest.raises(ValueError, match="takes float samples"):
        LSB(steps=0.195).encode(simulated(10, 2))


@pytest.mark.parametrize("name", ["np_ultra", "np2", "np1_noise"])
def test_float32_scaled_traces_map_to_int16_bit_exact(name):
    q = load_real(name)[:3000, :16]
    gains = np.linspace(0.195, 2.34375, q.shape[1]).astype("float32")
    offsets = np.where(np.arange(q.shape[1]) % 2, -3.25, 0.0).astype("float32")
    x = scaled(q, gains, offsets)
    codec = LSB.from_data(x)
    enc = check_roundtrip(codec, x)
    assert enc.dtype == np.int16 and LSB.escapes(enc) == 0
    np.testing.assert_array_equal(bits(codec.decode(enc)), bits(x))
    cdata = WavPack().encode(enc)
    np.testing.assert_array_equal(bits(codec.decode(WavPack().decode(cdata))), bits(x))
    assert len(cdata) < len(zlib.compress(x.tobytes(), 6))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float_specials_and_off_grid_values_are_escaped_bit_exact(dtype):
    q = np.cumsum(np.random.default_rng(1).integers(-30, 31, size=(500, 3)), axis=0)
    x = (q * np.asarray(0.25, dtype)).astype(dtype)
    special = np.array([np.nan, -np.nan, np.inf, -np.inf, -0.0, 0.1, 3e38, 1e-30], dtype)
    x[7 : 7 + len(special), 1] = special
    x[20, 2] = np.nan
    x.view(f"u{x.itemsize}")[20, 2] |= 1  # a NaN with a payload of its own
    codec = LSB(0.0, 0.25)
    enc = check_roundtrip(codec, x, lossless=False)
    np.testing.assert_array_equal(bits(codec.decode(enc)), bits(x))
    assert LSB.escapes(enc) == len(special) + 1  # the specials, off-grid, out-of-range, the NaN payload
    out = np.empty_like(x)
    codec.decode(enc, out=out)
    np.testing.assert_array_equal(bits(out), bits(x))


def test_grid_indices_beyond_int16_give_int32():
    x = (np.arange(-70000, 70000, 7, dtype="float64") * 0.5)[:, None]
    enc = check_roundtrip(LSB(0.0, 0.5), x)
    assert enc.dtype == np.int32 and LSB.escapes(enc) == 0


def test_estimate_refuses_float_samples_off_any_grid():
    """The refusal says what fraction was off the grid and where such data goes instead."""
    with pytest.raises(ValueError, match=r"\d+\.\d% of its distinct float values are off.*EphysLPC"):
        estimate_lsb(np.random.default_rng(0).normal(0, 1, (2000, 2)).astype("float32"))


def test_estimate_tolerates_float_rounding():
    """Grid values computed in float64 and rounded to float32 (with an offset), some nudged
    off the grid by a few ulps: the grid is found, and LSB stays lossless (escapes)."""
    k = np.random.default_rng(3).integers(-300, 300, (3000, 3))
    x = (k * (10 / 32768) + 0.0371).astype("float32")
    x.view("uint32")[::50] += 2  # 2 ulps off
    offsets, steps = estimate_lsb(x)
    assert np.allclose(steps, 10 / 32768, rtol=1e-6)
    codec = LSB(offsets=offsets.tolist(), steps=steps.tolist())
    np.testing.assert_array_equal(codec.decode(codec.encode(x)).view("uint32"), x.view("uint32"))


def test_float_chunk_format_is_frozen():
    """A float32 chunk's encoding (filter format 2, parameter byte 4) must not change."""
    x = scaled(np.arange(-60, 60, dtype="int16").reshape(40, 3), [0.195, 2.34375, 0.7629], [0.0, 1.5, -3.25])
    x[3, 1] = np.nan
    enc = LSB([0.0, 1.5, -3.25], [float(np.float32(g)) for g in (0.195, 2.34375, 0.7629)]).encode(x).tobytes()
    assert enc[8] == 4 and enc[6] == 2  # float32 samples, int16 grid indices
    assert hashlib.sha256(enc).hexdigest() == FLOAT_CHUNK_SHA256


FLOAT_CHUNK_SHA256 = "73e352c390d2261904da779b5972bdc92c7c948a752213b6867cab5caada6002"


def test_mutated_float_chunks_are_refused_or_decoded_right():
    """Damaged float chunks (truncated, overwritten bytes): a ValueError or the right samples."""
    rng = np.random.default_rng(2)
    x = scaled(np.cumsum(rng.integers(-3, 4, size=(60, 3)), axis=0), 0.195)
    x[5, 0] = np.inf
    codec = LSB(0.0, float(np.float32(0.195)))
    enc = codec.encode(x).tobytes()
    for _ in range(300):
        m = bytearray(enc)
        for _ in range(int(rng.integers(1, 4))):
            m[int(rng.integers(0, len(m)))] = int(rng.integers(0, 256))
        m = m[: int(rng.integers(0, len(m) + 1))] if rng.random() < 0.3 else m
        try:
            got = codec.decode(bytes(m))
        except ValueError:
            continue
        np.testing.assert_array_equal(bits(got), bits(x))


@settings(max_examples=80, deadline=None)
@given(
    hnp.arrays(
        st.sampled_from(["float32", "float64"]),
        hnp.array_shapes(min_dims=1, max_dims=3, max_side=10),
        elements=st.floats(allow_nan=True, allow_infinity=True, width=32),
    ),
    st.floats(-1e3, 1e3),
    st.floats(1e-3, 1e3),
)
def test_property_float_lossless_bit_for_bit(x, offset, step):
    codec = LSB(offsets=offset, steps=step)
    enc = codec.encode(x)
    np.testing.assert_array_equal(bits(codec.decode(enc)), bits(x))
    np.testing.assert_array_equal(bits(codec.decode(enc.tobytes())), bits(x))


def test_frozen_chunks_encode_the_same():
    check_frozen_chunks_encode_the_same("ephys_lsb")
