"""Checks shared by the filter tests (Delta2D, BitTruncation, LSB)."""
import os

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
