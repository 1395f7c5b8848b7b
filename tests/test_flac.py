"""FLAC codec: round trips, compression on the real recordings, flac-numcodecs
compatibility, hostile input (what every codec owes, threads and refused dtypes and
parameters included: test_codec_contract.py)."""

import json

import numpy as np
import pytest
from numcodecs.registry import codec_registry

from numcodecs_ephys import FLAC, FLACNumcodecsFormat
from numcodecs_ephys.flac import _supported_dtypes

from conftest import FIXTURES, simulated, unavailable
from fixtures.make_fixtures import PEERS

# CR of flac-numcodecs 0.1.2 at level 5 on 2-channel blocks of the whole 384-channel
# chunk (shared/data/README.md): ours, one chunk, must do at least as well.
PUBLISHED_PAIRED_CR = {"np_ultra": 3.79, "np2": 3.50, "np1_noise": 6.37, "yass_10ch": 3.44, "openephys_lfp": 2.03}
# ... and the same peer with its default of flattening everything into one mono stream.
PUBLISHED_FLAT_CR = {"np_ultra": 2.58, "np2": 1.60, "np1_noise": 1.79, "yass_10ch": 3.17, "openephys_lfp": 1.83}


def roundtrip(codec, arr):
    enc = codec.encode(arr)
    dec = codec.decode(enc)
    assert dec.dtype == arr.dtype and dec.shape == arr.shape
    np.testing.assert_array_equal(dec, arr)
    return enc


# ---- real recordings ----


def test_real_roundtrip(real_recording):
    name, x = real_recording
    roundtrip(FLAC(), x)
    # a block of channels decodes from a chunk written with any layout parameters
    roundtrip(FLAC(channels_per_stream=3, block_channels=50, blocksize=1000, level=1), x)


def test_real_compression_beats_flac_numcodecs(real_recording):
    name, x = real_recording
    cr = x.nbytes / len(FLAC().encode(x))
    if name in PUBLISHED_PAIRED_CR:
        assert cr >= PUBLISHED_PAIRED_CR[name], f"{name}: CR {cr:.3f} < flac-numcodecs 2-channel blocks"
        assert cr >= PUBLISHED_FLAT_CR[name]
    else:  # no published figure: compare with one channel per stream
        assert cr >= x.nbytes / len(FLAC(channels_per_stream=1).encode(x))


def test_real_exhaustive_stereo_close(real_recording):
    name, x = real_recording
    loose = len(FLAC().encode(x))
    exhaustive = len(roundtrip(FLAC(exhaustive_stereo=True), x))
    assert exhaustive <= loose * 1.002


# ---- shapes, dtypes, parameters ----


def _edge_cases():
    rng = np.random.default_rng(0)
    cases = {
        "constant": np.full((500, 4), 123, np.int16),
        "zeros": np.zeros((100, 2), np.int16),
        "int16_full_range": rng.integers(-(2**15), 2**15, size=(700, 3)).astype(np.int16),
        "int16_extremes": np.array([[-(2**15), 2**15 - 1]] * 50 + [[2**15 - 1, -(2**15)]] * 50, np.int16),
        "int8_full_range": rng.integers(-128, 128, size=(300, 5)).astype(np.int8),
        "one_sample": np.array([[1, -2, 3]], np.int16),
        "one_sample_1d": np.array([7], np.int16),
        "one_channel_1d": simulated(2000, 1)[:, 0].copy(),
        "one_channel_2d": simulated(2000, 1),
        "odd_channels": simulated(300, 7),
        "many_channels": simulated(20, 1100, std=5.0),
        "short_15": simulated(15, 3),
        "empty_samples": np.zeros((0, 4), np.int16),
        "empty_channels": np.zeros((10, 0), np.int16),
        "empty_1d": np.zeros(0, np.int16),
        "fortran": np.asfortranarray(simulated(300, 6)),
        "three_d": simulated(200, 12).reshape(200, 3, 4),
        "strided": simulated(400, 10)[::2, ::3],
        "big_endian": simulated(300, 4).astype(">i2"),
    }
    if np.dtype("int32") in _supported_dtypes():
        cases["int32_full_range"] = rng.integers(-(2**31), 2**31, size=(500, 3), dtype=np.int64).astype(np.int32)
        cases["int32_extremes"] = np.array([[-(2**31), 2**31 - 1]] * 40 + [[2**31 - 1, -(2**31)]] * 40, np.int32)
    return cases


EDGE_CASES = _edge_cases()


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
@pytest.mark.parametrize(
    "codec",
    [
        FLAC(num_threads=2),
        FLAC(channels_per_stream=3, block_channels=5, level=8),
        FLAC(channels_per_stream=1, blocksize=16, level=0),
    ],
    ids=repr,
)
def test_edge_roundtrip(name, codec):
    arr = EDGE_CASES[name]
    enc = codec.encode(arr)
    dec = codec.decode(enc)
    assert dec.shape == arr.shape and dec.dtype == arr.dtype.newbyteorder("=")
    np.testing.assert_array_equal(dec, arr)
    out = np.empty(arr.shape, arr.dtype.newbyteorder("="))
    assert codec.decode(enc, out=out) is out
    np.testing.assert_array_equal(out, arr)


@pytest.mark.parametrize("level", range(9))
def test_levels_and_blocksizes(level):
    x = simulated(1500, 6, seed=level)
    for blocksize in (16, 1000, 4096, 65535):
        roundtrip(FLAC(level=level, blocksize=blocksize), x)


def test_block_layout_is_self_describing():
    x = simulated(500, 13)
    for writer in (FLAC(channels_per_stream=1), FLAC(channels_per_stream=5, block_channels=9)):
        np.testing.assert_array_equal(FLAC().decode(writer.encode(x)), x)


def test_pairs_compress_better_than_single_channels():
    x = simulated(3000, 16)
    assert len(FLAC().encode(x)) < len(FLAC(channels_per_stream=1).encode(x))


def test_decode_wrong_codec_and_garbage():
    from numcodecs_ephys import WavPack

    x = simulated(100, 4)
    with pytest.raises(ValueError, match="another codec"):
        FLAC().decode(WavPack().encode(x))
    with pytest.raises(ValueError, match="magic"):
        FLAC().decode(b"not a chunk at all")


# ---- flac-numcodecs compatibility ----

PEER_DIR = FIXTURES / "peer" / "flac_numcodecs"


@pytest.mark.parametrize("name", sorted(PEERS["flac_numcodecs"]()))
def test_peer_fixtures_decode(name):
    arr = np.load(PEER_DIR / f"{name}.npy")
    config = json.loads((PEER_DIR / f"{name}.json").read_text())
    data = (PEER_DIR / f"{name}.flac").read_bytes()
    codec = FLACNumcodecsFormat(**config)
    dec = codec.decode(data)
    assert dec.dtype == np.int16 and dec.ndim == 2
    np.testing.assert_array_equal(dec.reshape(arr.shape), arr)
    out = np.empty_like(arr)
    codec.decode(data, out=out)
    np.testing.assert_array_equal(out, arr)
    # our encoder writes the same file, but for the vendor string naming the libFLAC version
    assert _strip_vendor(codec.encode(arr)) == _strip_vendor(data)


def _strip_vendor(flac_file):
    """The file without its VORBIS_COMMENT block (which holds the libFLAC version)."""
    pos, out = 4, [flac_file[:4]]
    while True:
        header = flac_file[pos : pos + 4]
        length = int.from_bytes(header[1:4], "big")
        if header[0] & 0x7F != 4:
            out.append(bytes([header[0] & 0x7F]) + flac_file[pos + 1 : pos + 4 + length])
        pos += 4 + length
        if header[0] & 0x80:
            return b"".join(out) + flac_file[pos:]


@pytest.fixture
def peer():
    """flac-numcodecs, if installed; its import re-registers id "flac", so restore ours after."""
    saved = codec_registry.get("flac")
    try:
        import flac_numcodecs
    except ImportError:
        unavailable("flac-numcodecs not installed")
    yield flac_numcodecs
    codec_registry["flac"] = saved


@pytest.mark.parametrize("shape", [(3000,), (4000, 2), (2000, 1), (1200, 5), (200, 3, 2), (10, 2)])
def test_peer_live(peer, shape):
    x = simulated(shape[0], int(np.prod(shape[1:], dtype=int)), seed=len(shape)).reshape(shape)
    for config in ({}, {"level": 8, "blocksize": 2048}, {"level": 0, "sample_rate": 96000}):
        theirs, ours = peer.Flac(**config), FLACNumcodecsFormat(**config)
        enc_theirs, enc_ours = theirs.encode(x), ours.encode(x)
        assert _strip_vendor(enc_ours) == _strip_vendor(enc_theirs)
        np.testing.assert_array_equal(ours.decode(enc_theirs), theirs.decode(enc_theirs))
        np.testing.assert_array_equal(theirs.decode(enc_ours), ours.decode(enc_ours))
        np.testing.assert_array_equal(ours.decode(enc_theirs).reshape(x.shape), x)


def test_legacy_refuses_empty_chunks():
    with pytest.raises(ValueError, match="empty"):
        FLACNumcodecsFormat().encode(np.zeros((0, 2), np.int16))


# ---- hostile input ----


def test_legacy_hostile_header_cannot_demand_huge_output():
    legacy = bytearray(FLACNumcodecsFormat().encode(simulated(20, 2)))
    legacy[21] |= 0x0F  # total samples: upper 4 bits of 36
    with pytest.raises(ValueError):
        FLACNumcodecsFormat().decode(bytes(legacy))
