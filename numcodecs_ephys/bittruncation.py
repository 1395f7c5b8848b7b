"""BitTruncation filter: drop low bits with rounding and saturation (lossy)."""

from __future__ import annotations

import numpy as np

from . import _filter_frame as F
from . import _threads
from ._codec_base import ConfigCodec
from ._extension import lib

SUPPORTED_DTYPES = (np.dtype("int16"), np.dtype("int32"))
MAX_BITS = {dt.itemsize: 8 * dt.itemsize - 1 for dt in SUPPORTED_DTYPES}  # q * 2**bits must fit the dtype


class BitTruncation(ConfigCodec):
    """Drops the ``bits`` least significant bits of int16 / int32 samples (lossy).

    Encoding stores q = round(x / 2**bits), rounding to nearest with **ties away from
    zero** (x = 2: bits=2 gives 1, x = -2 gives -1, x = 6 gives 2), clamped so that
    q * 2**bits still fits the dtype: values near the top of the range saturate
    (32767 with bits=1 decodes to 32766) instead of wrapping to negative numbers as
    ``FixedScaleOffset(scale=1/2**bits)`` does. Decoding returns q * 2**bits. The
    encoded array keeps the input dtype and channel axes (small values for the
    compressor that follows) behind a few header rows; the header records ``bits``,
    which is what decoding uses. ``bits``: 0..15 for int16, 0..31 for int32
    (encoding an int16 chunk with bits >= 16 raises).
    """

    codec_id = "ephys_bittruncation"

    def __init__(self, bits: int = 0, num_threads: int | None = None) -> None:
        if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 0 <= bits <= max(MAX_BITS.values()):
            raise ValueError(
                f"bits must be an integer from 0 to {MAX_BITS[2]} (int16) or {MAX_BITS[4]} (int32), got {bits!r}"
            )
        self.bits = int(bits)
        self.num_threads = _threads.validate_num_threads(num_threads)

    def encode(self, buf):
        arr, order = F.as_input(buf, "BitTruncation", SUPPORTED_DTYPES)
        if self.bits:
            F.refuse_filtered(arr, "BitTruncation")
        if self.bits > MAX_BITS[arr.itemsize]:
            raise ValueError(f"bits={self.bits} is too many for {arr.dtype}: at most {MAX_BITS[arr.itemsize]}")
        info, raw, enc = F.encode_samples(
            lib.ephys_bittruncation_encode,
            lib.EPHYS_FILTER_BITTRUNCATION,
            arr,
            self.bits,
            self.num_threads,
            "BitTruncation",
        )
        # the checksum is of what decoding gives: q * 2**bits (saturation keeps it in range)
        decoded = np.left_shift(raw[int(info.payload_offset) :].view(arr.dtype), self.bits)
        F.seal(raw, raw.nbytes, order, decoded)
        return enc

    def decode(self, buf, out=None):
        return F.decode_samples(
            lib.ephys_bittruncation_decode, lib.EPHYS_FILTER_BITTRUNCATION, buf, out, self.num_threads, "BitTruncation"
        )
