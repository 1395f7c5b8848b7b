"""EphysLPC: exact round trips (real, simulated, edge cases, hypothesis), ratio against the
best peer on the real recordings, kernels writing identical bytes, the error bound of
near-lossless mode at every sample, hostile input, format stability (what every codec owes,
threads and refused dtypes and parameters included: test_codec_contract.py; HDF5:
test_hdf5.py; zarr 3: test_zarr3.py)."""

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from numcodecs_ephys import FLAC, LSB, EphysLPC, WavPack, estimate_lsb, lpc

from conftest import load_real, simulated

HERE = Path(__file__).resolve().parent
DTYPES = ("int8", "int16", "int32")


def available_kernels():
    names = []
    for name in ("scalar", "sse2", "avx2"):
        try:
            lpc.set_kernel(name)
            names.append(name)
        except ValueError:
            pass
    lpc.set_kernel("auto")
    return names


def roundtrip(arr, codec=None):
    codec = codec or EphysLPC(num_threads=2)
    chunk = codec.encode(arr)
    out = np.asarray(codec.decode(chunk)).reshape(arr.shape)
    assert out.dtype == arr.dtype
    if codec.max_error:
        assert int(np.abs(out.astype(np.int64) - arr.astype(np.int64)).max(initial=0)) <= codec.max_error
    else:
        np.testing.assert_array_equal(out, arr)
    return chunk


def behind_lsb(arr):
    offsets, steps = estimate_lsb(arr)
    return np.asarray(
        LSB(offsets=list(map(float, offsets)), steps=steps if np.isscalar(steps) else list(map(float, steps))).encode(
            arr
        )
    )


# ---- lossless ----


def test_real_roundtrip_and_ratio(real_recording):
    """Bit-exact on every real file, and never below the best of WavPack 1-4, FLAC 0-8 and
    pcodec 8/12 on channel-major data (the files are shorter than 1 s: one chunk each)."""
    from numcodecs import PCodec

    name, recorded = real_recording
    # the Open Ephys LFP file both as stored (on its ~24.04-count grid) and behind the LSB filter
    for arr in [recorded, behind_lsb(recorded)] if name == "openephys_lfp" else [recorded]:
        ours = len(roundtrip(arr, EphysLPC(num_threads=2)))
        peers = [len(WavPack(level=lv).encode(arr)) for lv in (1, 2, 3, 4)]
        peers += [len(FLAC(level=lv).encode(arr)) for lv in (0, 5, 8)]
        peers += [len(PCodec(level=lv).encode(np.asfortranarray(arr).T.copy())) for lv in (8, 12)]
        best_cr, our_cr = arr.nbytes / min(peers), arr.nbytes / ours
        assert our_cr >= best_cr, (name, our_cr, best_cr)


@pytest.mark.parametrize("level", [1, 2, 3])
@pytest.mark.parametrize("dtype", DTYPES)
def test_levels_and_dtypes(level, dtype):
    std = {"int8": 8.0, "int16": 20.0, "int32": 20000.0}[dtype]
    roundtrip(simulated(5000, 12, seed=level, dtype=dtype, std=std), EphysLPC(level=level, block_channels=5))


def test_level_3_keeps_the_shorter_partitioning():
    """Level 3 codes each block with long and with 64-sample Rice partitions: bursts of
    large amplitude (as LFP bands have) take the short ones, steady noise the long ones (there
    level 3 differs from level 2 only by coding more partitions with rANS, never longer)."""
    rng = np.random.default_rng(7)
    bursts = 1 + 40 * (np.sin(np.arange(8192) / 40.0) > 0.95)
    bursty = (rng.normal(size=(8192, 8)) * bursts[:, None]).astype("int16")
    steady = simulated(8192, 8, seed=7)
    for arr in (bursty, steady):
        roundtrip(arr, EphysLPC(level=3))
    assert len(EphysLPC(level=3).encode(bursty)) < 0.97 * len(EphysLPC(level=2).encode(bursty))
    assert len(EphysLPC(level=3).encode(steady)) <= len(EphysLPC(level=2).encode(steady))


def band_limited(n, n_channels, band, seed, std=3000.0, noise=2.0):
    """Noise with nothing above `band` (a fraction of the sampling rate) plus faint white
    noise: a signal whose best predictors have high orders and fine weights."""
    rng = np.random.default_rng(seed)
    f = np.fft.rfftfreq(n)
    spectrum = (rng.normal(size=(n_channels, len(f))) + 1j * rng.normal(size=(n_channels, len(f)))) * (f < band)
    x = np.fft.irfft(spectrum, n=n, axis=1).T
    return np.round(x / x.std() * std + rng.normal(size=x.shape) * noise).astype("int16")


def test_level_3_chooses_high_orders_and_fine_weights_where_they_pay():
    """Each channel's order is chosen per frame by the bits it would spend: level 3 tries up
    to 32, with weights in 1/16 and in 1/4096 and frames of 8192 and 2048 samples, and keeps
    the shortest coding. A band-limited signal wants high orders, fine weights, and short
    frames (a window of it has fewer spectral lines for the predictor to follow); level 2
    stops at order 4."""
    arr = band_limited(16384, 8, 0.15, seed=5)
    level2, level3 = roundtrip(arr, EphysLPC(level=2)), roundtrip(arr, EphysLPC(level=3))
    assert len(level3) < 0.8 * len(level2)
    assert len(level3) < min(len(WavPack(level=4).encode(arr)), len(FLAC(level=8).encode(arr)))


def test_smooth_signals_whose_amplitude_swings_take_short_partitions():
    """Smooth signals (LFP bands, wideband recordings) whose amplitude swings within a long
    Rice partition (spindles, slow waves) are coded with 512-sample partitions too at levels
    1 and 2 (level 3 tries 64), the shorter kept; steady AP-band noise keeps 2048."""
    swings = 1 + 20 * (np.sin(np.arange(16384) / 300.0) > 0.9)
    lfp = np.clip(band_limited(16384, 8, 0.05, seed=3, std=300) * swings[:, None], -32768, 32767).astype("int16")
    for level in (1, 2):
        chunk = roundtrip(lfp, EphysLPC(level=level))
        assert chunk[first_stream_at(chunk)[0] + 3] == 9  # the stream header's partition length (log2)
        chunk = EphysLPC(level=level).encode(simulated(16384, 8, seed=7))
        assert chunk[first_stream_at(chunk)[0] + 3] == 11


def test_wideband_ratio():
    """On the simulated wideband recordings of the benchmark (1/f spectra under an anti-alias
    low-pass, 4-32 channels, std 500-3,000 LSB), levels 2 and 3 are never below the best of
    WavPack 1-4, FLAC 0/5/8 and pcodec 8/12 (channel-major)."""
    from numcodecs import PCodec

    sys.path.insert(0, str(HERE.parent))
    from benchmarks.wideband import wideband_recordings

    for rec in wideband_recordings(duration=0.5, real=False):
        arr = rec.traces
        peers = [len(WavPack(level=lv).encode(arr)) for lv in (1, 2, 3, 4)]
        peers += [len(FLAC(level=lv).encode(arr)) for lv in (0, 5, 8)]
        peers += [len(PCodec(level=lv).encode(np.asfortranarray(arr).T.copy())) for lv in (8, 12)]
        for level in (2, 3):
            assert len(roundtrip(arr, EphysLPC(level=level))) <= min(peers), (rec.name, level)


def test_value_dictionaries_code_non_integer_grids():
    """Stream version 6: a channel whose values sit on a non-integer grid (Open Ephys stores
    ADC steps of ~24.04 counts) is coded as the ranks of its values among its distinct
    values, which follow the grid's index, and the stream carries the values once: about
    log2(24) bits per sample fewer than the values. A gap above the Rice escape among them, int8 samples,
    channels on an integer grid and plain ones beside them all come back exact."""
    sys.path.insert(0, str(HERE / "fixtures"))
    from make_fixtures import _dictionary_array

    mixed = _dictionary_array()
    for level in (1, 2, 3):
        roundtrip(mixed, EphysLPC(level=level, block_channels=4))
    steps = simulated(5000, 4, seed=41, std=40.0).astype(np.int64)
    gappy = np.round(steps * 24.038461538461537 + 0.4).astype("int16")
    # about the cost of the ADC steps themselves (the dictionaries and the ranks' missing values)
    assert len(roundtrip(gappy)) < 1.1 * len(EphysLPC().encode(steps.astype("int16")))
    small = (simulated(3000, 3, seed=43, std=8.0).astype(np.int64) * 5 // 2).astype("int8")
    roundtrip(small)


def test_capped_low_fields_code_gaussian_residuals_shorter():
    """Levels 2 and 3 let a channel's partition keep the first values of each high part in 2
    or 3 bits of its low fields (a flat code) and send only the values over that cap in unary:
    on white Gaussian noise that is 1.5% below Rice, which level 1 keeps. Escapes among the
    values over the cap and values at the int32 limits come back exact."""
    rng = np.random.default_rng(11)
    gaussian = np.round(rng.normal(size=(8192, 16)) * 40).astype("int16")
    assert len(EphysLPC(level=2).encode(gaussian)) < 0.99 * len(EphysLPC(level=1).encode(gaussian))
    spiky = gaussian.copy()
    spiky[::61, 5] = 30000
    wide = np.round(rng.normal(size=(3000, 4)) * 2e8).astype("int32")
    wide[::97, 1] = np.iinfo("int32").max
    wide[::89, 2] = np.iinfo("int32").min
    for arr in (gaussian, spiky, wide):
        for level in (2, 3):
            roundtrip(arr, EphysLPC(level=level))


def _edge_cases():
    i16, i32 = np.iinfo(np.int16), np.iinfo(np.int32)
    rng = np.random.default_rng(3)
    alt16 = np.where(np.arange(600)[:, None] % 2 == 0, i16.min, i16.max).astype("int16") * np.ones((1, 5), "int16")
    alt32 = np.where(np.arange(300)[:, None] % 2 == 0, i32.min, i32.max).astype("int32") * np.ones((1, 3), "int32")
    return {
        "empty": np.zeros((0, 8), "int16"),
        "no_channels": np.zeros((10, 0), "int16"),
        "one_sample": np.array([[7, -3, 32767]], "int16"),
        "one_sample_1d": np.array([-32768], "int16"),
        "one_channel": simulated(3000, 1)[:, 0],
        "odd_channels": simulated(1000, 7),
        "many_channels": simulated(40, 1030),
        "constant": np.full((5000, 4), -1234, "int16"),
        "zeros": np.zeros((9000, 3), "int32"),
        "alternating_int16": alt16,
        "alternating_int32": alt32,
        "full_range_int16": rng.integers(i16.min, i16.max + 1, (2000, 6), dtype="int16"),
        "full_range_int32": rng.integers(i32.min, i32.max + 1, (2000, 3), dtype="int32"),
        "full_range_int8": rng.integers(-128, 128, (3000, 5), dtype="int8"),
        "three_d": simulated(500, 12).reshape(500, 3, 4),
        "fortran": np.asfortranarray(simulated(700, 9)),
        "strided": simulated(900, 16)[::3, ::2],
        "frame_edges": simulated(8192 * 2 + 2048 + 1, 3),  # whole frames, a whole partition, one sample
        "wide_rice_parameter": np.array([0, 1946157056] + [8060929] * 13, "int32"),  # k = 30 at a stream's end
        "on_a_grid": simulated(3000, 6) * 12 + np.arange(6, dtype="int16") - 3,
        "grid_at_limits": np.where(np.arange(50)[:, None] % 3 == 0, -32768, 32767).astype("int16")
        * np.ones((1, 3), "int16"),
        "grid_int32": np.random.default_rng(5).integers(-(2**20), 2**20, (900, 3)).astype("int32") * 1000 - 7,
    }


@pytest.mark.parametrize("name", sorted(_edge_cases()))
def test_edge_roundtrip(name):
    arr = _edge_cases()[name]
    roundtrip(arr)
    roundtrip(arr, EphysLPC(level=3, block_channels=2, num_threads=1))
    roundtrip(arr, EphysLPC(max_error=2, block_channels=3))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hnp.arrays(
        st.sampled_from([np.int8, np.int16, np.int32]),
        hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=40),
    ),
    st.integers(0, 3),
    st.integers(1, 9),
)
def test_hypothesis_roundtrip(arr, max_error, block_channels):
    roundtrip(arr, EphysLPC(max_error=max_error, block_channels=block_channels, num_threads=2))


def test_kernels_write_identical_bytes():
    arrays = [
        simulated(5000, 37, seed=1),
        simulated(3000, 9, seed=2, dtype="int32", std=1e6),
        simulated(8192 + 3000, 5, seed=4) + 700,
        simulated(2000, 8, seed=3, dtype="int8", std=10.0),
        simulated(3000, 12, seed=5, std=2000.0),  # Rice parameters of 8 to 14
        np.tile(np.array([[23170], [-23170]], "int16"), (700, 11)),  # the largest int16 autocorrelation terms
        np.tile(np.array([[23171], [-23171]], "int16"), (700, 11)),
        np.tile(np.array([[32767], [-32768]], "int16"), (700, 11)),
        simulated(3000, 40, seed=6) * 12 + 5,  # on a grid
        np.random.default_rng(0).integers(-(2**31), 2**31, (500, 8), dtype="int32"),
        np.round(np.random.default_rng(8).normal(size=(3000, 16)) * 40).astype("int16"),  # capped low fields
    ]
    arrays[-1][::61, 5] = 30000  # escapes among the values over the cap
    arrays += [
        band_limited(5000, 6, 0.15, seed=9),  # high orders, weights in 1/4096 (level 3)
        band_limited(3000, 4, 0.1, seed=10, std=12000.0),  # weights whose sums need the int64 path
        np.round(simulated(4000, 6, seed=12, std=60.0) * 24.04 + 0.3).astype("int16"),  # value dictionaries
        quiet_noise(3000, 37, seed=13),  # rANS (version 8), its escapes
        quiet_noise(20000, 4, seed=14),  # rANS in time segments, their partitions segment by segment
    ]
    codecs = [EphysLPC(), EphysLPC(level=3), EphysLPC(max_error=3)]
    names = available_kernels()
    assert "scalar" in names
    if sys.platform == "linux" and "x86_64" in __import__("platform").machine():
        assert "sse2" in names
    try:
        results = {}
        for name in names:
            lpc.set_kernel(name)
            assert lpc.kernel() == name
            results[name] = [c.encode(a) for c in codecs for a in arrays]
            for (c, a), chunk in zip([(c, a) for c in codecs for a in arrays], results[name]):
                out = np.asarray(c.decode(chunk)).reshape(a.shape)
                assert np.abs(out.astype(np.int64) - a).max() <= c.max_error
        for name in names:
            assert results[name] == results["scalar"], name
    finally:
        lpc.set_kernel("auto")
    with pytest.raises(ValueError):
        lpc.set_kernel("neon")


# ---- near-lossless ----


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [1, 2, 5, 100])
def test_error_bound_at_dtype_limits(dtype, k):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(k)
    arr = rng.integers(info.min, info.max + 1, (3000, 6), dtype=dtype)
    arr[:500] = info.max
    arr[500:1000] = info.min
    arr[1000:1500:2] = info.min
    arr[1001:1500:2] = info.max
    roundtrip(arr, EphysLPC(max_error=k))
    roundtrip(simulated(3000, 6, dtype=dtype, std=4.0 if dtype == "int8" else 30.0), EphysLPC(max_error=k))


@pytest.mark.parametrize("name", ["np_ultra", "np2"])
def test_near_lossless_real(name):
    arr = load_real(name)
    for k in (1, 2, 3):
        chunk = roundtrip(arr, EphysLPC(max_error=k))
        assert arr.nbytes / len(chunk) > arr.nbytes / len(EphysLPC().encode(arr))


def test_near_lossless_refuses_filtered_chunks():
    filtered = LSB(offsets=[0.0] * 4, steps=[2.0] * 4).encode(simulated(100, 4) * 2)
    with pytest.raises(ValueError, match="lossy"):
        EphysLPC(max_error=1).encode(filtered)


# ---- hostile input ----

_VALID = simulated(700, 6, seed=11)
_VALID_CHUNK = EphysLPC(block_channels=4).encode(_VALID)


def test_mutation_loop():
    """Every single-bit flip of a small chunk decodes to the right data or raises ValueError,
    never crashes (the make target `lpc-fuzz` runs many more under ASan/UBSan)."""
    assert mutation_loop(_VALID_CHUNK, seed=0, n=3000) == 0


def mutation_loop(chunk, seed, n):
    rng = np.random.default_rng(seed)
    wrong = 0
    for _ in range(n):
        data = bytearray(chunk)
        for bit in rng.integers(0, len(data) * 8, rng.integers(1, 4)):
            data[bit // 8] ^= 1 << (bit % 8)
        try:
            out = np.asarray(EphysLPC(num_threads=1).decode(bytes(data))).reshape(_VALID.shape)
        except ValueError:
            continue
        wrong += not np.array_equal(out, _VALID)
    return wrong


def stream_starts(chunk):
    """Where each block's stream of a container-format-2 chunk starts."""
    ndim, n_blocks = chunk[7], int.from_bytes(chunk[12:16], "little")
    table = 20 + 4 * ndim
    ends = [int.from_bytes(chunk[table + 8 * b : table + 8 * b + 4], "little") for b in range(n_blocks)]
    payload = table + 8 * n_blocks + 4
    return [payload + start for start in [0] + ends[:-1]]


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_blocks_decoded_in_turn_on_each_thread(threads):
    """A thread decodes its blocks a partition of each in turn, sharing their work areas:
    blocks of other partition lengths (chosen per block: steady and swinging channels here),
    or cut into time segments, the last one narrower, decode as they do one at a time; where two blocks
    are damaged, the error is the first one's, however the blocks fall on the threads."""
    rng = np.random.default_rng(11)
    noisy = np.round(rng.normal(0, 30, (9000, 7))).astype("int16")
    swings = 1 + 20 * (np.sin(np.arange(9000) / 300.0) > 0.9)
    lfp = np.clip(band_limited(9000, 4, 0.05, seed=3, std=300) * swings[:, None], -32768, 32767).astype("int16")
    x = np.concatenate([band_limited(9000, 6, 0.02, seed=5), noisy, lfp, band_limited(9000, 5, 0.1, seed=6)], axis=1)
    codec = EphysLPC(level=2, block_channels=4, num_threads=threads)
    chunk = codec.encode(x)
    partitions = {chunk[at + 3] for at in stream_starts(chunk)}
    assert len(partitions) > 1  # noisy blocks' 2048 values, the swinging ones' 512
    assert np.array_equal(codec.decode(chunk), x)
    for first in range(0, x.shape[1], 4):
        block = list(range(first, min(first + 4, x.shape[1])))
        assert np.array_equal(codec.decode_channels(chunk, block), x[:, block])
    starts = stream_starts(chunk)

    def damaged(*blocks):
        data = bytearray(chunk)
        for b, (at, value) in blocks:
            data[starts[b] + at] = value
        with pytest.raises(ValueError) as error:
            codec.decode(bytes(data))
        return str(error.value)

    version, dtype = (0, 99), (1, chunk[starts[3] + 1] ^ 3)
    assert damaged((1, version), (3, dtype)) == damaged((1, version))
    assert damaged((1, dtype), (3, version)) == damaged((1, dtype)) != damaged((1, version))


# ---- format ----


def first_stream_at(chunk):
    """Where the first block's stream of a container-format-2 chunk starts, and its length."""
    ndim = chunk[7]
    return stream_starts(chunk)[0], int.from_bytes(chunk[20 + 4 * ndim : 24 + 4 * ndim], "little")


def stream_version(chunk):
    return chunk[first_stream_at(chunk)[0]]


def test_fixtures_hold_every_stream_version():
    """The frozen chunks (make_fixtures.FROZEN / FROZEN_LOSSY) keep stream versions 1 (no channel
    offsets), 2 (four most-significant-bit-first lanes), 3 (split entropy areas), 4 (capped
    low fields), 6 (value dictionaries), 7 (time segments, segment starts) and 8 (rANS), so that all
    stay decodable (version 5, the float stream, has its own tests)."""
    fixtures = HERE / "fixtures"
    lpc = fixtures / "fixture" / "ephys_lpc"
    chunks = {
        "codec.00": lpc / "codec.00" / "encoded.00.dat",
        "codec.03": lpc / "codec.03" / "encoded.00.dat",
        "codec.04": lpc / "codec.04" / "encoded.00.dat",
        "array.07": lpc / "codec.00" / "encoded.07.dat",
        "codec.05": lpc / "codec.05" / "encoded.00.dat",
        "array.08": lpc / "codec.00" / "encoded.08.dat",
        "codec.06": lpc / "codec.06" / "encoded.00.dat",
        "array.16": lpc / "codec.00" / "encoded.16.dat",
        "near": fixtures / "lossy" / "ephys_lpc_near" / "chunk.bin",
        "near stream 2": fixtures / "lossy" / "ephys_lpc_near_stream2" / "chunk.bin",
        "near stream 3": fixtures / "lossy" / "ephys_lpc_near_stream3" / "chunk.bin",
        "near stream 4": fixtures / "lossy" / "ephys_lpc_near_stream4" / "chunk.bin",
        "near stream 6": fixtures / "lossy" / "ephys_lpc_near_stream6" / "chunk.bin",
        "codec.07": lpc / "codec.07" / "encoded.17.dat",
        "array.18": lpc / "codec.07" / "encoded.18.dat",
        "near stream 7": fixtures / "lossy" / "ephys_lpc_near_stream7" / "chunk.bin",
        "codec.08": lpc / "codec.08" / "encoded.25.dat",
        "near stream 8": fixtures / "lossy" / "ephys_lpc_near_stream8" / "chunk.bin",
    }
    versions = {name: stream_version(path.read_bytes()) for name, path in chunks.items()}
    assert versions == {
        "codec.00": 1,
        "codec.03": 2,
        "codec.04": 3,
        "array.07": 3,
        "codec.05": 4,
        "array.08": 4,
        "near": 1,
        "near stream 2": 2,
        "near stream 3": 3,
        "near stream 4": 4,
        "codec.06": 6,
        "array.16": 6,
        "near stream 6": 6,
        "codec.07": 7,
        "array.18": 7,
        "near stream 7": 7,
        "codec.08": 8,
        "near stream 8": 8,
    }
    # version 8's frozen streams hold a rANS area (the 4 bytes after the header: its length)
    for name in ("codec.08", "near stream 8"):
        chunk = chunks[name].read_bytes()
        start = first_stream_at(chunk)[0]
        assert int.from_bytes(chunk[start + 20 : start + 24], "little") > 0, name
    # version 4's default streams say that their partitions may cap (byte 6 of the stream header)
    for name in ("codec.05", "array.08", "near stream 4"):
        chunk = chunks[name].read_bytes()
        assert chunk[first_stream_at(chunk)[0] + 6] == 1, name
    # version 7's segment counts (byte 7): 6 (a block of 5 channels), 8 (4 channels, near-lossless);
    # array 18, a smooth signal, is not cut (its segment starts: the first bit after its maps)
    segments = {name: chunks[name].read_bytes()[first_stream_at(chunks[name].read_bytes())[0] + 7] for name in chunks}
    assert (segments["codec.07"], segments["near stream 7"], segments["array.18"]) == (6, 8, 1)
    assert segments["codec.06"] == segments["near stream 6"] == 0


def test_new_chunks_are_stream_version_8_and_later_versions_are_refused():
    """Integer chunks of levels 2 and 3 are version 8 (rANS may code), of level 1 version 7;
    5 is the float stream's number, refused in an integer chunk."""
    x = simulated(300, 5)
    assert stream_version(EphysLPC(level=1).encode(x)) == 7
    chunk = EphysLPC().encode(x)
    start = first_stream_at(chunk)[0]
    assert stream_version(chunk) == 8
    for version in (0, 5, 9, 255):
        data = bytearray(chunk)
        data[start] = version
        with pytest.raises(ValueError):
            EphysLPC().decode(bytes(data))


# ---- rANS (stream version 8) ----


def quiet_noise(n, nc, seed, std=1.2):
    """Near-Gaussian noise of a few LSB (as a quiet Neuropixels channel's residual: Rice
    codes are furthest from its entropy there, so rANS codes it), spikes far above it (values
    that escape the rANS alphabet, some past the unary escape), a constant channel."""
    x = np.round(np.random.default_rng(seed).normal(size=(n, nc)) * std).astype("int16")
    x[::211, 0] = 40
    if nc > 2:
        x[::503, 1] = -20000
        x[:, nc - 1] = 3
    return x


@pytest.mark.parametrize("shape", [(1000, 2), (3000, 37), (20000, 4), (4096 + 17, 9)])
@pytest.mark.parametrize("codec", [EphysLPC(), EphysLPC(level=3), EphysLPC(max_error=1), EphysLPC(block_channels=3)])
def test_rans_round_trip(shape, codec):
    """Quiet channels are rANS coded (version 8, its area named in byte 6 and the 4 bytes after
    the header) where the stream is long enough to pay for the rANS states, bit-exact or within
    the bound, and never longer than with Rice codes (level 1's entropy stage)."""
    x = quiet_noise(*shape, seed=shape[0] + shape[1])
    chunk = roundtrip(x, codec)
    if codec.block_channels == 32 and shape[0] * min(shape[1], 32) >= 9000:
        start = first_stream_at(chunk)[0]
        assert stream_version(chunk) == 8 and chunk[start + 6] % 2 == 1
        assert int.from_bytes(chunk[start + 20 : start + 24], "little") > 0  # a rANS area
    if not codec.max_error:
        rice = len(EphysLPC(level=1, block_channels=codec.block_channels).encode(x))
        assert len(chunk) < (0.98 if shape[0] * shape[1] >= 9000 else 1) * rice


@pytest.mark.parametrize("level", [2, 3])
def test_rans_at_every_block_size(level):
    """Quiet channels in blocks of 1 to 8 channels (time segments: each stream's headers
    and partitions few bits long, far below Rice's) and of 32 and 40, round trip."""
    x = quiet_noise(3001, 40, seed=5)
    for block in (1, 2, 3, 4, 5, 8, 32, 40):
        roundtrip(x, EphysLPC(level=level, block_channels=block))


def test_rans_damage_is_refused_or_exact():
    """Every byte of a version-8 stream's rANS area and of its states flipped: the decoder
    refuses (ValueError) or, never otherwise, returns the original."""
    x = quiet_noise(4000, 5, seed=3)
    chunk = EphysLPC(block_channels=5).encode(x)
    start = first_stream_at(chunk)[0]
    assert stream_version(chunk) == 8
    area = int.from_bytes(chunk[start + 20 : start + 24], "little")
    for at in range(start + 20, start + 24 + area):
        data = bytearray(chunk)
        data[at] ^= 0x5A
        try:
            out = np.asarray(EphysLPC().decode(bytes(data))).reshape(x.shape)
        except ValueError:
            continue
        np.testing.assert_array_equal(out, x)


# ---- time segments (stream version 7) ----


def segment_count(chunk):
    return chunk[first_stream_at(chunk)[0] + 7]


@pytest.mark.parametrize("dtype", DTYPES)
def test_few_channels_are_cut_into_time_segments(dtype):
    """A block of few channels is coded as time segments side by side (stream version 7:
    up to 32 lanes of the prediction), and decodes exactly into every layout of the output,
    also channel by channel; near-lossless keeps its bound; level 3 may keep them or not."""
    std = 4.0 if dtype == "int8" else 20.0
    for shape, segments in (((3001, 4), 8), ((1000, 4), 8), ((999, 3), 8), ((2000, 1), 16), ((2500, 16), 2)):
        arr = simulated(*shape, seed=shape[0], dtype=dtype, std=std)
        chunk = roundtrip(arr, EphysLPC(num_threads=1))
        assert segment_count(chunk) == segments, shape
        codec = EphysLPC()
        fortran = np.asfortranarray(np.zeros_like(arr))
        codec.decode(chunk, out=fortran)
        np.testing.assert_array_equal(fortran, arr)
        strided = np.zeros((arr.shape[0], 2 * arr.shape[1]), dtype)[:, ::2]
        codec.decode(chunk, out=strided)
        np.testing.assert_array_equal(strided, arr)
        raw = np.zeros(arr.nbytes + 1, np.uint8)
        unaligned = raw[1:].view(dtype).reshape(arr.shape)
        codec.decode(chunk, out=unaligned)
        np.testing.assert_array_equal(unaligned, arr)
        np.testing.assert_array_equal(codec.decode_channels(chunk, [arr.shape[1] - 1]), arr[:, -1:])
        roundtrip(arr, EphysLPC(max_error=3))
        roundtrip(arr, EphysLPC(level=3))
    # too few samples for segments of 100 rows, and smooth signals (their segments would each
    # start with residuals as large as the signal): not cut
    assert segment_count(roundtrip(simulated(150, 4, seed=1))) == 1
    walk = np.cumsum(np.random.default_rng(2).normal(size=(3000, 4)) * 30, axis=0).astype("int16")
    assert segment_count(roundtrip(walk)) == 1


def test_time_segments_with_grids_dictionaries_and_escapes():
    arr = simulated(4000, 5, seed=3)
    arr[::97, 0] = 30000
    arr[:, 1] = arr[:, 1] * 3 + 1
    arr[:, 2] = np.round(arr[:, 2] * 24.04 + 0.3).astype("int16")
    arr[:, 3] = -7
    chunk = roundtrip(arr)
    assert segment_count(chunk) > 1
    assert segment_count(roundtrip(arr.astype("int32") * 70000)) > 1


def test_segment_count_in_the_stream_header_is_checked():
    """Byte 7 of a version-7 stream: 0, above 64, more lanes than 64, or segments without
    samples are refused, never decoded into wrong data."""
    arr = simulated(1000, 4, seed=5)
    chunk = EphysLPC().encode(arr)
    at = first_stream_at(chunk)[0] + 7
    assert chunk[at] == 8
    for count in (0, 17, 65, 255):
        data = bytearray(chunk)
        data[at] = count
        with pytest.raises(ValueError):
            EphysLPC().decode(bytes(data))
    for count in range(1, 17):  # other valid counts: the stream no longer parses
        if count != 8:
            data = bytearray(chunk)
            data[at] = count
            with pytest.raises(ValueError):
                EphysLPC().decode(bytes(data))
