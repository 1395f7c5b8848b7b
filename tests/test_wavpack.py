"""WavPack codec: round trips, peer parity, parameters, robustness, the build (what every
codec owes, threads and refused dtypes and parameters included: test_codec_contract.py)."""

import json
import subprocess
import sys

import numpy as np
import pytest
from numcodecs import get_codec
from numcodecs.compat import ensure_ndarray

from numcodecs_ephys import WavPack, WavPackNumcodecsFormat

from conftest import FIXTURES, HERE, REAL_FILES, fresh_python, load_real, simulated, unavailable

PEER_FIXTURES = FIXTURES / "peer" / "wavpack_numcodecs"
# Lossless CR of wavpack-numcodecs 0.1.5, level 2, 384 channels as one chunk (shared/data/README.md).
PEER_LOSSLESS_CR = {"np_ultra": 3.73, "np2": 3.45, "np1_noise": 5.36, "yass_10ch": 3.42}
HYBRID_BPS = [6, 5, 4, 3.5, 3, 2.5, 2.25]


def peer():
    try:
        import wavpack_numcodecs
    except ImportError:
        unavailable("wavpack-numcodecs 0.1.5 (the peer) is not installed")
    return wavpack_numcodecs


def rmse(a, b):
    return float(np.sqrt(np.mean((a.astype(np.float64) - b) ** 2)))


# ---- round trips -------------------------------------------------------------------------


def test_lossless_bit_exact_on_real_files(real_recording):
    name, data = real_recording
    codec = WavPack()
    chunk = codec.encode(data)
    out = codec.decode(chunk)
    assert out.dtype == data.dtype and out.shape == data.shape
    assert np.array_equal(out, data)
    if name in PEER_LOSSLESS_CR:
        assert data.nbytes / len(chunk) >= PEER_LOSSLESS_CR[name] * 0.99


EDGE_CASES = {
    "constant": np.full((1000, 8), 7, "int16"),
    "zeros_int32": np.zeros((300, 3), "int32"),
    "full_int16_range": np.tile(np.array([[-32768, 32767], [32767, -32768], [0, -1]], "int16"), (200, 3)),
    "full_int32_range": np.tile(np.array([[-(2**31), 2**31 - 1], [2**31 - 1, -(2**31)]], "int32"), (100, 1)),
    "full_int8_range": np.tile(np.array([[-128, 127], [127, -128]], "int8"), (50, 5)),
    "one_sample": np.array([5], "int16"),
    "one_sample_many_channels": np.arange(10, dtype="int16")[None, :],
    "fifteen_samples": np.arange(45, dtype="int16").reshape(15, 3),
    "one_channel_2d": simulated(2000, 1),
    "one_channel_1d": simulated(2000, 1)[:, 0],
    "odd_channels": simulated(500, 7),
    "many_channels": simulated(50, 1500),
    "over_4096_channels": simulated(20, 4100),
    "empty_time": np.zeros((0, 384), "int16"),
    "empty_channels": np.zeros((10, 0), "int16"),
    "empty_1d": np.zeros((0,), "int16"),
    "float32": (simulated(1000, 4) / 3.7).astype("float32"),
    "float32_specials": np.array([np.nan, np.inf, -np.inf, 1e-40, -0.0, 3.4e38, -1.5] * 20, "float32"),
    "three_d": simulated(400, 12).reshape(400, 3, 4),
}


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_lossless_edge_cases(name):
    data = EDGE_CASES[name]
    codec = WavPack(block_channels=4)
    out = codec.decode(codec.encode(data))
    assert out.dtype == data.dtype and out.shape == data.shape
    assert out.tobytes() == data.tobytes()  # bit-exact, NaN payloads and -0.0 included


@pytest.mark.parametrize("layout", ["fortran", "strided_time", "strided_channels", "reversed", "big_endian"])
def test_any_memory_layout(layout):
    base = simulated(1000, 10)
    data = {
        "fortran": np.asfortranarray(base),
        "strided_time": base[::2],
        "strided_channels": base[:, ::3],
        "reversed": base[::-1],
        "big_endian": base.astype(">i2"),
    }[layout]
    out = WavPack().decode(WavPack().encode(data))
    assert out.dtype == np.int16 and np.array_equal(out, data)


# ---- parameters --------------------------------------------------------------------------


def test_lossless_spellings():
    assert WavPack(bps=0) == WavPack(bps=None) == WavPack()
    assert WavPack(bps=0).bps is None


def test_noise_shaping_controls_change_the_output():
    data = simulated(5000, 4, seed=3)
    chunks = {
        "dynamic": WavPack(bps=3).encode(data),
        "off": WavPack(bps=3, dynamic_noise_shaping=False, shaping_weight=0.0).encode(data),
        "low": WavPack(bps=3, dynamic_noise_shaping=False, shaping_weight=-0.8).encode(data),
        "high": WavPack(bps=3, dynamic_noise_shaping=False, shaping_weight=0.8).encode(data),
    }
    assert len(set(chunks.values())) == 4
    for chunk in chunks.values():
        assert WavPack().decode(chunk).shape == data.shape


@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_levels_lossless_and_ordered(level):
    data = simulated(4000, 8)
    assert np.array_equal(WavPack(level=level).decode(WavPack(level=level).encode(data)), data)


def test_hybrid_keeps_level_and_pairing():
    """The peer's 0.1.0-0.1.3 dropped level flags and stereo pairing in hybrid mode."""
    data = simulated(6000, 8)
    sizes = {lvl: len(WavPack(level=lvl, bps=4).encode(data)) for lvl in (1, 3)}
    assert sizes[1] != sizes[3]
    paired = len(WavPack(bps=4, block_channels=8).encode(data))
    unpaired = len(WavPack(bps=4, block_channels=1).encode(data))
    assert paired != unpaired


def test_hybrid_error_shrinks_with_bps():
    data = load_real("np_ultra")
    errors = [rmse(WavPack(bps=b).decode(WavPack(bps=b).encode(data)), data) for b in HYBRID_BPS]
    assert errors == sorted(errors)
    assert errors[-1] < 2.0  # about 1.5 LSB at 2.25 bits per sample


# ---- parity with wavpack-numcodecs 0.1.5 --------------------------------------------------


@pytest.mark.parametrize("name", sorted(set(REAL_FILES) - {"openephys_lfp"}))
def test_lossless_cr_matches_peer(name):
    wn = peer()
    data = load_real(name)
    ours = data.nbytes / len(WavPack(level=2).encode(data))
    theirs = data.nbytes / len(wn.WavPack(level=2).encode(data))
    assert ours >= theirs * 0.99


def test_hybrid_no_worse_than_peer():
    wn = peer()
    data = load_real("np_ultra")
    for bps in HYBRID_BPS:
        ours, theirs = WavPack(level=2, bps=bps, block_channels=96), wn.WavPack(level=2, bps=bps)
        c_ours, c_theirs = ours.encode(data), theirs.encode(data)
        dec_theirs = np.frombuffer(theirs.decode(c_theirs), "int16").reshape(data.shape)
        # the same WavPack streams; ours carry the container's checksums (4 bytes per
        # channel block and 4 for the header, 4 blocks here) and no RIFF header
        assert len(c_ours) <= len(c_theirs) + 4 * 4 + 4, bps
        assert rmse(ours.decode(c_ours), data) <= rmse(dec_theirs, data) + 1e-9, bps
    # the published point: CR 6.94 at RMSE 1.48 LSB at bps 2.25 (one stream per 96 channels)
    chunk = WavPack(bps=2.25, block_channels=96).encode(data)
    assert data.nbytes / len(chunk) >= 6.94
    assert rmse(WavPack().decode(chunk), data) <= 1.49


def test_legacy_writes_the_peer_format_byte_for_byte():
    wn = peer()
    data = simulated(3000, 6)
    for params in [dict(level=1), dict(level=2, bps=3), dict(level=3, bps=2.25, dynamic_noise_shaping=False)]:
        assert WavPackNumcodecsFormat(**params).encode(data) == bytes(wn.WavPack(**params).encode(data))


@pytest.mark.parametrize("case", sorted(p.stem for p in PEER_FIXTURES.glob("*.wv")))
def test_peer_fixtures_decode_without_the_peer(case):
    config = json.loads((PEER_FIXTURES / f"{case}.json").read_text())
    chunk = (PEER_FIXTURES / f"{case}.wv").read_bytes()
    original = np.load(PEER_FIXTURES / f"{case}.npy")
    expected_path = PEER_FIXTURES / f"{case}.decoded.npy"
    expected = np.load(expected_path) if expected_path.exists() else original
    codec = WavPackNumcodecsFormat.from_config({k: v for k, v in config.items() if k != "id"})
    out = codec.decode(chunk)
    assert out.dtype == expected.dtype
    assert np.array_equal(out.reshape(expected.shape), expected)
    # and through the numcodecs registry by the peer's id (the peer's class if it was imported)
    dec = ensure_ndarray(get_codec(config).decode(chunk)).view(expected.dtype)
    assert np.array_equal(dec.reshape(expected.shape), expected)


def test_peer_fixtures_exist():
    assert len(list(PEER_FIXTURES.glob("*.wv"))) >= 8


def test_importing_the_peer_takes_its_id_back():
    """Importing the package registers our class under the peer's id "wavpack"; importing
    the peer afterwards puts its own class back (both read the same format)."""
    peer()
    fresh_python(
        """
        import numcodecs_ephys
        from numcodecs.registry import codec_registry
        assert codec_registry["wavpack"] is numcodecs_ephys.WavPackNumcodecsFormat
        import wavpack_numcodecs
        assert codec_registry["wavpack"] is wavpack_numcodecs.WavPack
    """,
        block_peers=False,
    )


# ---- robustness --------------------------------------------------------------------------


def test_corrupted_header_is_a_clear_error():
    chunk = bytearray(WavPack(block_channels=2).encode(simulated(300, 5, seed=21)))
    with pytest.raises(ValueError, match="magic"):
        WavPack().decode(b"XXXX" + bytes(chunk[4:]))
    bad = bytearray(chunk)
    bad[4] = 99
    with pytest.raises(ValueError, match="version"):
        WavPack().decode(bytes(bad))
    with pytest.raises(ValueError, match="truncated"):
        WavPack().decode(bytes(chunk[:-1]))
    with pytest.raises(ValueError):
        WavPack().decode(bytes(chunk) + b"\0")


# ---- build -------------------------------------------------------------------------------


def test_build_names_the_missing_library(tmp_path):
    """Without libwavpack's development files the build stops with one clear message."""
    import os

    env = dict(os.environ, PKG_CONFIG_LIBDIR=str(tmp_path), PKG_CONFIG_PATH="")
    res = subprocess.run(
        [sys.executable, str(HERE.parent / "csrc" / "build_native.py")],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert res.returncode != 0
    assert "libwavpack-dev" in res.stderr and "brew install wavpack" in res.stderr
    assert "Traceback" not in res.stderr
