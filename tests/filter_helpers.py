"""Checks shared by the filter tests (Delta2D, BitTruncation, LSB)."""
import os
import pickle
from pathlib import Path

import numpy as np
from numcodecs import Blosc, Zstd
from numcodecs.registry import get_codec
from numcodecs.tests.common import check_backwards_compatibility, check_config

import numcodecs_ephys
from numcodecs_ephys import WavPack

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def check_codec_basics(codec, repr_stmt):
    check_config(codec)
    # numcodecs' check_repr evals in its own namespace; same check in ours
    assert repr(eval(repr_stmt, vars(numcodecs_ephys))) == repr_stmt
    assert get_codec(codec.get_config()) == codec
    assert pickle.loads(pickle.dumps(codec)) == codec
    assert eval(repr(codec), vars(numcodecs_ephys)) == codec


def check_roundtrip(codec, arr, lossless=True):
    """Encode/decode from the array, from bytes of the encoding, and into an out buffer."""
    enc = codec.encode(arr)
    assert enc.dtype == arr.dtype or (arr.dtype.kind == "f" and enc.dtype.kind == "i")  # LSB: floats -> grid
    for src in (enc, enc.tobytes(), bytearray(enc.tobytes()), memoryview(enc.tobytes())):
        dec = codec.decode(src)
        assert dec.shape == arr.shape and dec.dtype == arr.dtype
        if lossless:
            np.testing.assert_array_equal(dec, arr)
    out = np.empty(arr.size, arr.dtype)
    codec.decode(enc, out=out)
    np.testing.assert_array_equal(out.reshape(arr.shape), codec.decode(enc))
    return enc


def check_decode_never_crashes(codec, data):
    """Any bytes: a ValueError or a decoded array, never a crash."""
    try:
        codec.decode(data)
    except ValueError:
        pass


def mutations(enc_bytes, rng, n=20):
    """Truncations, bit flips and byte overwrites of an encoded chunk."""
    b = bytes(enc_bytes)
    out = [b[:k] for k in sorted(set(rng.integers(0, len(b) + 1, size=5).tolist()))]
    for _ in range(n):
        m = bytearray(b)
        for _ in range(int(rng.integers(1, 4))):
            i = int(rng.integers(0, len(m)))
            m[i] = int(rng.integers(0, 256)) if rng.random() < 0.5 else m[i] ^ (1 << int(rng.integers(0, 8)))
        out.append(bytes(m))
    return out


def chain_roundtrip(filt, arr, lossless=True):
    """zarr 2 order: filters then compressor, decode in reverse; with WavPack, Blosc, Zstd."""
    results = {}
    for comp in (WavPack(), Blosc(cname="zstd", clevel=5, shuffle=Blosc.BITSHUFFLE), Zstd(level=3)):
        cdata = comp.encode(filt.encode(arr))
        dec = filt.decode(comp.decode(cdata))
        dec = np.asarray(dec).view(arr.dtype).reshape(arr.shape)  # what zarr 2 does
        if lossless:
            np.testing.assert_array_equal(dec, arr)
        results[type(comp).__name__] = (len(cdata), dec)
    return results


def check_fixtures(name, codecs, arrays, monkeypatch, precision=None):
    """Frozen format: encoded fixture files (made by tests/fixtures/make_fixtures.py) must still decode."""
    folder = FIXTURES / name
    assert (folder / "fixture" / codecs[0].codec_id).is_dir(), \
        f"fixtures missing: run python tests/fixtures/make_fixtures.py ({folder})"
    monkeypatch.chdir(folder)
    check_backwards_compatibility(codecs[0].codec_id, arrays, codecs, precision=precision)
    # the format is frozen both ways: encoding a fixture array again gives the stored bytes
    # (for the chunks of the current format version, 2: byte 4 of the header)
    same = 0
    for i, arr in enumerate(arrays):
        for j, codec in enumerate(codecs):
            stored = folder / "fixture" / codecs[0].codec_id / f"codec.{j:02d}" / f"encoded.{i:02d}.dat"
            if stored.exists() and stored.read_bytes()[4] == 2:
                assert np.asarray(codec.encode(arr)).tobytes() == stored.read_bytes(), (i, j)
                same += 1
    assert same, "no fixture of the current format version"


def fixture_arrays(dtypes=("int16",)):
    """Small deterministic arrays for the backwards-compatibility fixtures."""
    rng = np.random.default_rng(42)
    arrays = []
    for dt in dtypes:
        info = np.iinfo(dt)
        walk = np.cumsum(rng.integers(-40, 41, size=(200, 6)), axis=0)
        arrays += [np.clip(walk, info.min, info.max).astype(dt),
                   rng.integers(info.min, info.max, size=50, endpoint=True).astype(dt),
                   np.clip(walk.reshape(200, 2, 3), info.min, info.max).astype(dt)]
    return arrays


os.environ.setdefault("HYPOTHESIS_NO_INTERNET", "1")
