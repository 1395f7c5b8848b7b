"""EphysLPC on float32 / float64 chunks: bit-exact for every bit pattern, grids found by
themselves, ratio against pcodec 12 and WavPack's float mode on floats made from the real
recordings, the absolute error bound at every sample, kernels, threads, channel subsets,
hostile input, format."""

import float_cases as fc
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from numcodecs_ephys import EphysLPC, WavPack, lpc

from conftest import REAL, require, simulated, unavailable

FLOATS = ("float32", "float64")
MODES = {"grid": 1, "split": 2, "bounded": 3, "channels": 4, "raw": 5}


def first_stream(chunk):
    """The first block's stream of a container-format-2 chunk."""
    ndim, n_blocks = chunk[7], int.from_bytes(chunk[12:16], "little")
    start = 20 + 4 * ndim + 8 * n_blocks + 4
    return chunk[start : start + int.from_bytes(chunk[20 + 4 * ndim : 24 + 4 * ndim], "little")]


def lossless(arr, codec=None):
    codec = codec or EphysLPC(num_threads=2)
    chunk = codec.encode(arr)
    out = np.asarray(codec.decode(chunk))
    assert fc.same_bits(out.reshape(arr.shape), arr)
    return chunk


CASES = {
    "on_grid": lambda dt: fc.on_grid(3000, 9, dt, offset=3.25),
    "on_grid_specials": lambda dt: fc.sprinkle(fc.on_grid(3000, 9, dt), seed=1),
    "near_grid": lambda dt: fc.near_grid(4000, 4, dt),
    "gappy_grid": lambda dt: fc.gappy_grid(2500, 12, dt),
    "filtered": lambda dt: fc.filtered(3000, 40, dt),
    "filtered_specials": lambda dt: fc.sprinkle(fc.filtered(3000, 40, dt), seed=2, every=13),
    "bit_patterns": lambda dt: fc.bit_patterns(700, 5, dt),
    "all_nan": lambda dt: np.full((500, 3), np.nan, dt),
    "constant": lambda dt: np.full((500, 3), -1.5, dt),
    "zeros_and_negative_zeros": lambda dt: np.tile(np.array([0.0, -0.0], dt), (400, 3)),
    "huge_and_tiny": lambda dt: np.tile(np.array([np.finfo(dt).max, 1.0, np.finfo(dt).smallest_normal], dt), (300, 2)),
    "channel_offsets": lambda dt: fc.channel_offsets(3000, 9, dt),
    "channel_gains": lambda dt: fc.channel_gains(3000, 9, dt),
    "channel_gains_specials": lambda dt: fc.sprinkle(fc.channel_gains(2000, 12, dt), seed=3, every=31),
    "centred": lambda dt: fc.centred(3000, 9, dt),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("level", [1, 2, 3])
def test_roundtrip_bit_exact(name, dtype, level):
    lossless(CASES[name](dtype), EphysLPC(level=level, block_channels=8, num_threads=2))


@pytest.mark.parametrize(
    "name, mode", [("on_grid", "grid"), ("near_grid", "grid"), ("gappy_grid", "grid"), ("filtered", "split")]
)
@pytest.mark.parametrize("dtype", FLOATS)
def test_grids_are_found_by_themselves(name, mode, dtype):
    """Scaled traces (on a grid, up to rounding, or with gaps) take the grid mode; filtered
    data the split mode: no LSB step is needed."""
    x = CASES[name](dtype)
    chunk = lossless(x)
    assert first_stream(chunk)[:3] == bytes([5, 8 if dtype == "float64" else 4, MODES[mode]])
    if mode == "grid":  # an integer-like ratio, well above what zlib does on floats
        assert x.nbytes / len(chunk) > (4.0 if dtype == "float32" else 8.0)


@pytest.mark.parametrize(
    "shape", [(1,), (1, 1), (2, 3), (7, 3), (100, 1), (3000, 1), (17,), (200, 2, 3), (0, 4), (5, 0)]
)
@pytest.mark.parametrize("dtype", FLOATS)
def test_short_and_few_channel_chunks(shape, dtype):
    n = int(np.prod(shape))
    for x in (
        fc.on_grid(max(n, 1), 1, dtype)[:n, 0].reshape(shape),
        fc.bit_patterns(max(n, 1), 1, dtype)[:n, 0].reshape(shape),
    ):
        lossless(x)


# ---- a grid per channel (channel grids mode) ----


def _grid_channels(x):
    """x with a channel that drops out (NaN for a tenth of the samples), a constant one and
    a NaN-sprinkled one among its own."""
    x = np.array(x, copy=True)
    x[: len(x) // 10, 1] = np.nan
    x[:, 3] = x.dtype.type(-2.5)
    x[::7, 5] = np.nan
    return x


CHANNEL_CASES = {
    "offsets": lambda dt, n, nc: fc.channel_offsets(n, nc, dt, seed=nc),
    "gains": lambda dt, n, nc: fc.channel_gains(n, nc, dt, seed=nc),
    "centred": lambda dt, n, nc: fc.centred(n, nc, dt, seed=nc),
    "gains_mixed": lambda dt, n, nc: _grid_channels(fc.channel_gains(n, nc, dt, seed=nc)),
    "offsets_specials": lambda dt, n, nc: fc.sprinkle(fc.channel_offsets(n, nc, dt, seed=nc), seed=nc, every=53),
    "calibrated_midscale": lambda dt, n, nc: fc.calibrated_midscale(n, nc, dt, seed=nc),
}


@pytest.mark.parametrize("name", sorted(CHANNEL_CASES))
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(3000, 8), (1000, 64), (1000, 384)])
def test_channel_grids_bit_exact_and_beat_the_peers(name, dtype, shape):
    """Gains or offsets of each channel's own: bit for bit, and at least the better of
    pcodec 12 (channel-major) and WavPack's float mode."""
    x = CHANNEL_CASES[name](dtype, *shape)
    chunk = lossless(x)
    if shape[1] == 384 and name != "offsets":
        return  # the ratio is checked on the smaller shapes (pcodec on 384 channels is slow)
    pcodec = require("numcodecs.pcodec")
    peers = [x.nbytes / len(pcodec.PCodec(level=12).encode(np.ascontiguousarray(x.T)))]
    if dtype == "float32":
        peers.append(x.nbytes / len(WavPack().encode(x)))
    assert x.nbytes / len(chunk) >= max(peers), (name, x.nbytes / len(chunk), peers)


@pytest.mark.parametrize("name", ["offsets", "gains_mixed", "centred"])
@pytest.mark.parametrize("dtype", FLOATS)
def test_channel_grids_are_found_by_themselves(name, dtype):
    x = CHANNEL_CASES[name](dtype, 3000, 6)
    codec = EphysLPC(block_channels=6)
    assert first_stream(codec.encode(x))[:3] == bytes([5, 8 if dtype == "float64" else 4, MODES["channels"]])
    assert first_stream(EphysLPC(level=1).encode(x))[2] == MODES["channels"]


def test_channel_grids_in_float32_arithmetic():
    """Float32 gains and offsets applied in float32 (SpikeInterface's scaled traces) where
    the product's rounding matters (a fifth of the samples differ from rounding once):
    channel grids in float32 arithmetic, byte 3 says so, every sample on its grid."""
    rng = np.random.default_rng(4)
    k = simulated(3000, 6, seed=4, std=40.0).astype("float32")
    gains = np.round(2.34375 * (1 + rng.normal(0, 0.01, 6)), 6).astype("float32")
    offsets = np.round(rng.uniform(-50, 50, 6), 3).astype("float32")
    x = k * gains + offsets
    assert np.mean((k.astype(np.float64) * gains + offsets).astype("float32") != x) > 0.1
    chunk = lossless(x, EphysLPC(block_channels=6))
    assert first_stream(chunk)[:4] == bytes([5, 4, MODES["channels"], 1])
    assert x.nbytes / len(chunk) > 4


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(30000, 16), (1000, 3), (7, 1)])
@pytest.mark.parametrize("params", [{}, {"level": 1}, {"level": 3}, {"max_error": 0.5}])
def test_incompressible_floats_cost_their_bits_only(dtype, shape, params):
    """Random bits (NaN, infinities and subnormals among them): what no model shortens is
    stored as it is (raw mode), so a chunk never costs more than its samples and the
    headers, bit for bit (also with an error bound: raw is exact). NaN everywhere costs 3
    bits a sample (raw exceptions that repeat)."""
    codec = EphysLPC(block_channels=8, **params)
    blocks = -(-shape[1] // 8)
    x = fc.incompressible(*shape, dtype, seed=shape[0])
    chunk = lossless(x, codec)
    assert len(chunk) <= x.nbytes + 24 + 4 * len(shape) + blocks * (8 + 36), (len(chunk), x.nbytes)
    assert first_stream(chunk)[2] == MODES["raw"]
    nan = np.full(shape, np.nan, dtype)
    chunk = lossless(nan, codec)
    assert len(chunk) <= nan.nbytes + 24 + 4 * len(shape) + blocks * (8 + 36)
    assert shape[0] < 1000 or len(chunk) * 3 <= nan.size * 4, nan.nbytes / len(chunk)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("max_error", [0, 0.5])
@pytest.mark.parametrize("make", [fc.channel_gains, fc.channel_offsets])
def test_nan_gaps_cost_little(dtype, max_error, make):
    """A stretch of NaN on every channel and a channel of NaN only (float NWB data marks
    missing samples so): each NaN after the first costs at most 6 bits more than the sample it
    replaces (raw exceptions that repeat, header byte 30), not 32 or 64 (a scaled float32
    recording with a fifth of its rows missing kept half its ratio before)."""
    clean = make(6000, 8, dtype, seed=8)
    gappy = fc.with_nan_gaps(clean, seed=8)
    codec = EphysLPC(block_channels=8, max_error=max_error)
    chunks = [codec.encode(x) for x in (clean, gappy)]
    decoded = np.asarray(codec.decode(chunks[1])).reshape(gappy.shape)
    assert fc.within(decoded, gappy, max_error) if max_error else fc.same_bits(decoded, gappy)
    assert first_stream(chunks[1])[30] == 1
    assert (len(chunks[1]) - len(chunks[0])) * 8 <= 6 * np.isnan(gappy).sum(), [len(c) for c in chunks]


def test_raw_mode_is_checked():
    """A raw stream's other fields are zero: a nonzero step, offset, exponent, arithmetic or
    integer stream length, or a chunk cut short, is a ValueError, never other data (a stream
    whose length is not exactly its samples' is refused in C: the mutation campaign)."""
    for dtype in FLOATS:
        x = fc.incompressible(50, 3, dtype, seed=3)
        chunk = EphysLPC(block_channels=3).encode(x)
        stream = first_stream(chunk)
        at = chunk.index(stream)
        assert stream[2] == MODES["raw"] and len(stream) == 36 + x.nbytes
        for where, value in [(3, b"\x01"), (12, b"\x01"), (20, b"\x01"), (28, b"\x01"), (32, b"\x01"), (30, b"\x01")]:
            data = bytearray(chunk)
            data[at + where : at + where + len(value)] = value
            with pytest.raises(ValueError):
                EphysLPC().decode(bytes(data))
        with pytest.raises(ValueError):  # the chunk cut inside the samples
            EphysLPC().decode(chunk[:-1])


def test_channel_grids_table_is_checked():
    """Each field of the table and the arithmetic byte: a step that is 0, negative, NaN or
    infinite, an offset that is not finite, arithmetic 1 on float64 or 2, a table cut
    short, a later mode: each a ValueError, never other data."""
    for dtype in FLOATS:
        x = fc.channel_offsets(400, 3, dtype)
        chunk = EphysLPC(block_channels=3).encode(x)
        stream = first_stream(chunk)
        at = chunk.index(stream)
        assert stream[2] == MODES["channels"]
        bad = []
        for c in range(3):
            for step in (0.0, -1.0, np.nan, np.inf):
                bad.append((36 + 16 * c, np.float64(step).tobytes()))
            for offset in (np.nan, -np.inf):
                bad.append((36 + 16 * c + 8, np.float64(offset).tobytes()))
        bad += [(3, bytes([2])), (2, bytes([5])), (2, bytes([6])), (2, bytes([255])), (12, np.float64(1.0).tobytes())]
        bad += [(30, bytes([2])), (31, bytes([1]))]  # the repeat byte is 0 or 1; byte 31 is zero
        if dtype == "float64":
            bad.append((3, bytes([1])))
        for where, value in bad:
            data = bytearray(chunk)
            data[at + where : at + where + len(value)] = value
            with pytest.raises(ValueError):
                EphysLPC().decode(bytes(data))
        # integer stream lengths that overrun the stream once the table is counted
        for length in (len(stream) - 36 - 4, len(stream) - 36 - 16 * 3 - 3, 2**32 - 1):
            data = bytearray(chunk)
            data[at + 32 : at + 36] = length.to_bytes(4, "little")
            with pytest.raises(ValueError):
                EphysLPC().decode(bytes(data))
        for cut in (36, 40, 36 + 16 * 3 - 1, 36 + 16 * 3 + 3):  # the chunk cut inside the table or after it
            with pytest.raises(ValueError):
                EphysLPC().decode(chunk[: at + cut])


@st.composite
def float_chunks(draw):
    dtype = draw(st.sampled_from(FLOATS))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=40))
    bits = fc._bits(dtype)
    kind = draw(st.sampled_from(["patterns", "grid", "mixed"]))
    if kind == "patterns":
        return draw(hnp.arrays(bits, shape)).view(dtype)
    k = draw(hnp.arrays(np.int16, shape))
    gain = draw(st.sampled_from([0.195, 2.34375, 10 / 32768, 1e-3, 3.0]))
    x = (k.astype(np.float64) * gain + draw(st.sampled_from([0.0, -7.5, 0.0371]))).astype(dtype)
    if x.ndim > 1 and draw(st.booleans()):  # gains and offsets of each channel's own
        rng = np.random.default_rng(draw(st.integers(0, 99)))
        x = (x * rng.uniform(0.5, 2, x.shape[-1]) + rng.uniform(-1, 1, x.shape[-1])).astype(dtype)
    if kind == "mixed":
        other = draw(hnp.arrays(bits, shape)).view(dtype)
        mask = draw(hnp.arrays(np.bool_, shape))
        x = np.where(mask, other, x)
    return x


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(x=float_chunks(), block_channels=st.integers(1, 9))
def test_hypothesis_every_bit_pattern(x, block_channels):
    lossless(x, EphysLPC(block_channels=block_channels, num_threads=2))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(x=float_chunks(), bound=st.sampled_from([1e-6, 0.01, 0.25, 1.0, 37.5]))
def test_hypothesis_error_bound(x, bound):
    codec = EphysLPC(max_error=bound, num_threads=2)
    assert fc.within(codec.decode(codec.encode(x)).reshape(x.shape), x, bound)


def test_kernels_write_identical_bytes():
    arrays = [
        fc.on_grid(3000, 37, "float32", offset=1.5),
        fc.gappy_grid(2000, 9),
        fc.sprinkle(fc.filtered(3000, 40), seed=3),
        fc.filtered(2000, 7, "float64"),
    ]
    codecs = [EphysLPC(), EphysLPC(level=3), EphysLPC(max_error=0.25)]
    results = {}
    names = []
    try:
        for name in ("scalar", "sse2", "avx2"):
            try:
                lpc.set_kernel(name)
            except ValueError:
                continue
            names.append(name)
            results[name] = [c.encode(a) for c in codecs for a in arrays]
    finally:
        lpc.set_kernel("auto")
    assert "scalar" in names
    for name in names:
        assert results[name] == results["scalar"], name


def test_threads_give_identical_bytes():
    for x, codec in ((fc.filtered(3000, 100), EphysLPC), (fc.on_grid(3000, 100), EphysLPC)):
        one = codec(num_threads=1, block_channels=16).encode(x)
        assert codec(num_threads=4, block_channels=16).encode(x) == one
        bounded = codec(max_error=0.1, num_threads=1, block_channels=16).encode(x)
        assert codec(max_error=0.1, num_threads=4, block_channels=16).encode(x) == bounded


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("mode", ["split", "channels"])
def test_channel_subsets_and_out(dtype, mode):
    if mode == "split":
        x = fc.sprinkle(fc.filtered(1000, 20, dtype), seed=5)
    else:  # gains of each channel's own, with a dropout, a constant and a NaN-sprinkled channel
        x = _grid_channels(fc.channel_gains(1000, 20, dtype, seed=6))
    codec = EphysLPC(block_channels=6)
    chunk = codec.encode(x)
    assert first_stream(chunk)[2] == MODES[mode]
    assert EphysLPC(block_channels=6, num_threads=4).encode(x) == chunk
    for channels in ([0], [1], [3, 4], [5, 6], [19], list(range(7, 13)), [-1, 0]):
        assert fc.same_bits(codec.decode_channels(chunk, channels), x[:, channels])
    fortran = np.asfortranarray(np.empty_like(x))
    codec.decode(chunk, out=fortran)
    assert fc.same_bits(fortran, x)
    strided = np.empty((1000, 40), dtype)[:, ::2]
    codec.decode(chunk, out=strided)
    assert fc.same_bits(strided, x)
    assert fc.same_bits(codec.decode(codec.encode(np.asfortranarray(x))), x)
    strided[:] = x
    assert codec.encode(strided) == chunk


# ---- error-bounded ----


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("bound", [1e-3, 0.1, 0.25, 1.0, 50.0])
@pytest.mark.parametrize("case", ["filtered_specials", "on_grid", "gappy_grid"])
def test_error_bound_at_every_sample(dtype, bound, case):
    x = CASES[case](dtype)
    codec = EphysLPC(max_error=bound)
    chunk = codec.encode(x)
    out = np.asarray(codec.decode(chunk))
    assert fc.within(out, x, bound)
    assert len(chunk) <= len(EphysLPC().encode(x))


def test_error_bound_below_the_resolution_is_lossless():
    x = fc.filtered(2000, 8)
    for bound in (1e-30, 1e-9):
        assert fc.same_bits(EphysLPC(max_error=bound).decode(EphysLPC(max_error=bound).encode(x)), x)
    huge = np.array([[np.finfo("float32").max, 1.0]] * 100, "float32")  # its range does not fit the indices
    assert fc.same_bits(EphysLPC(max_error=0.5).decode(EphysLPC(max_error=0.5).encode(huge)), huge)


def test_integer_chunks_take_integer_bounds_only():
    with pytest.raises(ValueError, match="float chunks"):
        EphysLPC(max_error=0.5).encode(simulated(100, 2))
    arr = simulated(300, 3)
    assert np.abs(EphysLPC(max_error=2.0).decode(EphysLPC(max_error=2).encode(arr)) - arr).max() <= 2


@pytest.mark.parametrize("value", [-0.5, float("nan"), float("inf"), "1", True, None])
def test_bad_bounds(value):
    with pytest.raises(ValueError):
        EphysLPC(max_error=value)


def test_config_roundtrip_keeps_a_float_bound():
    from numcodecs import get_codec

    codec = EphysLPC(max_error=0.25)
    assert get_codec(codec.get_config()) == codec
    assert eval(repr(codec), {"EphysLPC": EphysLPC}) == codec
    assert codec.get_config()["max_error"] == 0.25


# ---- hostile input ----


def _mutated(chunk, rng):
    data = bytearray(chunk)
    if rng.random() < 0.1:
        return bytes(data[: rng.integers(0, len(data))])
    for bit in rng.integers(0, len(data) * 8, rng.integers(1, 4)):
        data[bit // 8] ^= 1 << (bit % 8)
    return bytes(data)


@pytest.mark.parametrize(
    "x, bound",
    [
        (fc.sprinkle(fc.near_grid(600, 5), seed=7), 0),
        (fc.gappy_grid(500, 4), 0),
        (fc.sprinkle(fc.filtered(500, 5, "float64"), seed=8), 0),
        (fc.sprinkle(fc.filtered(500, 5), seed=9), 0.25),
        (_grid_channels(fc.channel_gains(500, 6)), 0),
        (fc.sprinkle(fc.channel_offsets(500, 4, "float64"), seed=10), 0),
    ],
)
def test_mutated_chunks_give_the_right_data_or_value_error(x, bound):
    """Right data (bit for bit, or as the intact chunk decodes) or ValueError; never a crash."""
    codec = EphysLPC(max_error=bound, block_channels=3, num_threads=1)
    chunk = codec.encode(x)
    expected = np.asarray(codec.decode(chunk))
    rng = np.random.default_rng(25)
    for _ in range(1500):
        try:
            out = np.asarray(codec.decode(_mutated(chunk, rng)))
        except ValueError:
            continue
        assert fc.same_bits(out, expected)


def test_float_chunks_are_stream_version_5_and_later_versions_are_refused():
    chunk = EphysLPC().encode(fc.filtered(300, 5))
    start = chunk.index(first_stream(chunk))
    assert chunk[start] == 5
    for version in (4, 6, 255):
        data = bytearray(chunk)
        data[start] = version
        with pytest.raises(ValueError):
            EphysLPC().decode(bytes(data))


def test_wavpack_float_chunks_are_not_lpc_chunks():
    with pytest.raises(ValueError):
        EphysLPC().decode(WavPack().encode(fc.filtered(200, 2)))


# ---- the real recordings as floats (benchmarks/float_datasets.py) ----


def _float_datasets():
    from benchmarks import float_datasets

    if not REAL.exists():
        unavailable(f"real recordings {REAL} not found")
    return float_datasets


def _peers_best(x):
    pcodec = require("numcodecs.pcodec")
    return max(
        x.nbytes / len(pcodec.PCodec(level=12).encode(np.ascontiguousarray(x.T))), x.nbytes / len(WavPack().encode(x))
    )


@pytest.mark.parametrize(
    "name", ["scaled_np_ultra", "scaled_lfp", "bandpass", "near_grid", "centred", "channel_gains", "channel_offsets"]
)
def test_real_floats_beat_pcodec_and_wavpack(name):
    """Issue 25's lossless targets: at least the better of pcodec 12 (channel-major) and
    WavPack's float mode on each kind of float data."""
    if name == "bandpass":
        require("spikeinterface")
    x = getattr(_float_datasets(), name)("float32")
    ours = x.nbytes / len(lossless(x))
    assert ours >= _peers_best(x), (name, ours)


@pytest.mark.parametrize("bound", [0.25, 0.5, 1.0])
def test_real_bandpass_error_bound_beats_quantizing_first(bound):
    require("spikeinterface")
    x = _float_datasets().bandpass("float32")
    codec = EphysLPC(max_error=bound)
    chunk = codec.encode(x)
    assert fc.within(codec.decode(chunk), x, bound)
    two_step = x.nbytes / len(EphysLPC().encode(np.round(x / (2 * bound)).astype(np.int16)))
    assert x.nbytes / len(chunk) >= two_step


# ---- zarr 3, HDF5 ----


@pytest.mark.zarr3
@pytest.mark.parametrize("dtype", FLOATS)
def test_zarr3_serializer_takes_floats(tmp_path, dtype):
    import zarr

    from numcodecs_ephys import zarr3 as z3

    x = fc.sprinkle(fc.filtered(2500, 70, dtype), seed=11)
    for serializer, bound in ((z3.EphysLPC(), 0), (z3.EphysLPC(max_error=0.25), 0.25)):
        a = zarr.create_array(
            str(tmp_path / "a.zarr"),
            shape=x.shape,
            chunks=(1000, 64),
            dtype=dtype,
            serializer=serializer,
            compressors=None,
            overwrite=True,
        )
        a[:] = x
        b = zarr.open_array(str(tmp_path / "a.zarr"))
        if bound:
            assert fc.within(b[:], x, bound)
        else:
            assert fc.same_bits(b[:], x)
            assert fc.same_bits(b[:, 60:66], x[:, 60:66])  # partial decoding of channel blocks
    assert z3.from_numcodecs(EphysLPC(max_error=0.25)) == z3.EphysLPC(max_error=0.25)


@pytest.mark.parametrize("dtype", FLOATS)
def test_hdf5_filter_takes_floats(tmp_path, dtype):
    import h5py

    import numcodecs_ephys.hdf5 as eh5

    x = fc.sprinkle(fc.filtered(3000, 40, dtype), seed=12)
    for flt, bound in ((eh5.LPCH5(), 0), (eh5.LPCH5(max_error=0.1), 0.1), (eh5.LPCH5(level=3, max_error=2), 2)):
        with h5py.File(tmp_path / "a.h5", "w") as f:
            f.create_dataset("x", data=x, chunks=(1000, 16), **flt)
        with h5py.File(tmp_path / "a.h5") as f:
            y = f["x"][:]
            stored = f["x"].id.read_direct_chunk((0, 0))[1]
            again = eh5.LPCH5.from_cd_values(f["x"]._filters[str(eh5.LPC_FILTER_ID)])
        assert again == flt
        assert fc.within(y, x, bound) if bound else fc.same_bits(y, x)
        assert bytes(stored) == flt.codec().encode(np.ascontiguousarray(x[:1000, :16]))
    assert eh5.LPCH5(max_error=0.1).max_error <= 0.1  # rounded down to a float32


def test_fixtures_hold_every_float_mode():
    """The frozen float chunks (make_fixtures: ephys_lpc arrays 9-15 and 19-21, the bounded lossy
    chunks) keep stream version 5 in each mode, float32 and float64."""
    from conftest import FIXTURES

    seen = set()
    for path in sorted((FIXTURES / "fixture" / "ephys_lpc" / "codec.00").glob("encoded.*.dat")):
        stream = first_stream(path.read_bytes())
        if stream[0] == 5:
            seen.add((stream[1], stream[2]))
    for name in ("ephys_lpc_float_bounded", "ephys_lpc_float64_bounded"):
        stream = first_stream((FIXTURES / "lossy" / name / "chunk.bin").read_bytes())
        seen.add((stream[1], stream[2]))
    assert seen >= {(4, 1), (4, 2), (8, 1), (8, 2), (4, 3), (8, 3), (4, 4), (8, 4)}, seen


# ---- the command line ----


def _compress(*args):
    from numcodecs_ephys.recordings import cli

    return cli.main([str(a) for a in args])


def test_cli_compresses_raw_float32_losslessly_and_within_a_bound(tmp_path):
    from numcodecs_ephys import decompress_file, open_recording

    x = fc.sprinkle(fc.filtered(3000, 8), seed=13)
    raw = tmp_path / "x.f32"
    x.tofile(raw)
    store = tmp_path / "x.zarr"
    assert _compress("compress", raw, "-n", 8, "-s", 30000, "-d", "float32", "--codec", "lpc", "-o", store, "-q") == 0
    assert fc.same_bits(open_recording(store)[:, :], x)
    assert decompress_file(store, tmp_path / "back.f32").read_bytes() == raw.read_bytes()
    bounded = tmp_path / "b.zarr"
    args = ("compress", raw, "-n", 8, "-s", 30000, "-d", "float32", "--codec", "lpc", "-o", bounded, "-q")
    assert _compress(*args, "--max-error", 0.25) == 0
    assert fc.within(open_recording(bounded)[:, :], x, 0.25)
    assert _compress("verify", bounded, "-q") == 0


def test_cli_max_error_reaches_lpc_for_integers(tmp_path):
    from numcodecs_ephys import open_recording

    x = simulated(3000, 6)
    raw = tmp_path / "x.i16"
    x.tofile(raw)
    common = ("compress", raw, "-n", 6, "-s", 30000, "-d", "int16", "-q")
    assert _compress(*common, "--codec", "lpc", "--max-error", 2, "-o", tmp_path / "a.zarr") == 0
    got = open_recording(tmp_path / "a.zarr")[:, :]
    assert 0 < np.abs(got.astype(int) - x).max() <= 2
    assert _compress(*common, "--codec", "lpc", "--max-error", 0.5, "-o", tmp_path / "b.zarr") == 1  # not whole
    assert _compress(*common, "--codec", "wavpack", "--max-error", 2, "-o", tmp_path / "c.zarr") == 1  # not LPC


# ---- make bench's float table ----


def test_float_table_rows(monkeypatch):
    """benchmarks/floats.py on small chunks: our rows and the peers', SZ3/ZFP missing without their
    environment, every bounded row of ours within its bound."""
    from benchmarks import floats as bench_floats
    from benchmarks.output import Tables

    monkeypatch.setattr(
        bench_floats.float_datasets,
        "float_recordings",
        lambda dtype: {"bandpass": fc.filtered(2000, 8), "near-grid": fc.near_grid(2000, 4)},
    )
    monkeypatch.setattr(bench_floats, "PEERS_PYTHON", "/nonexistent/python")

    class Run:
        threads, rows, tables = 1, [], Tables()

    bench_floats.float_table(Run(), passes=1)
    lossless = [r for r in Run.rows if r["table"] == "float lossless"]
    assert {r["codec"] for r in lossless} >= {"EphysLPC", "zlib 9", "blosc zstd bitshuffle", "WavPack float"}
    bounded = [r for r in Run.rows if r["table"] == "float bounded"]
    assert all(r["max_error"] <= r["bound"] for r in bounded if r["codec"] == "EphysLPC max_error")
    assert {r["codec"] for r in bounded if r["missing"]} == {"SZ3", "ZFP"}


def test_gappy_grid_spanning_the_whole_index_range():
    """A channel's map is used only where every coded index stays within the decoder's range."""
    k = np.concatenate([np.arange(-(2**30) + 2, -(2**30) + 2000, 3), np.arange(2**30 - 3000, 2**30 - 1, 3)])
    x = (np.random.default_rng(1).permutation(np.tile(k, 2)).astype(np.float64) * 0.5).reshape(-1, 2)
    lossless(x)
