"""Checks shared by the filter tests (Delta2D, BitTruncation, LSB)."""

import os
from pathlib import Path

import numpy as np
from numcodecs import Blosc, Zstd

from numcodecs_ephys import WavPack


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


def check_frozen_chunks_encode_the_same(codec_id):
    """The filter format is frozen both ways: encoding a fixture array (tests/fixtures/fixture/
    <codec id>, whose decoding test_codec_contract checks) again gives the stored chunk, for
    every chunk of the current format version (2, byte 4 of the header)."""
    from fixtures import make_fixtures

    codecs, arrays = make_fixtures.FROZEN[codec_id]()
    folder = Path(make_fixtures.HERE) / "fixture" / codec_id
    same = 0
    for i, arr in enumerate(arrays):
        for j, codec in enumerate(codecs):
            stored = folder / f"codec.{j:02d}" / f"encoded.{i:02d}.dat"
            if stored.exists() and stored.read_bytes()[4] == 2:
                assert np.asarray(codec.encode(arr)).tobytes() == stored.read_bytes(), (i, j)
                same += 1
    assert same, f"no {codec_id} fixture of the current format version"


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


os.environ.setdefault("HYPOTHESIS_NO_INTERNET", "1")
