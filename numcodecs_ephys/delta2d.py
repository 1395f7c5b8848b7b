"""Delta2D filter: differences along time, channels, or both (C, threads, wrap-around)."""

from __future__ import annotations

import numpy as np

from . import _filter_frame as F
from . import _threads
from ._codec_base import ConfigCodec
from ._extension import lib

AXES = {"time": lib.EPHYS_DELTA_TIME, "space": lib.EPHYS_DELTA_SPACE, "time+space": lib.EPHYS_DELTA_TIME_SPACE}
SUPPORTED_DTYPES = tuple(np.dtype(t) for t in ("int8", "int16", "int32", "int64"))


class Delta2D(ConfigCodec):
    """Delta filter for (time, channels) chunks: the paper's 2d-time, 2d-space, 2d-time-space.

    ``axis="time"`` keeps the first sample of every channel and stores the differences
    between consecutive samples; ``"space"`` keeps the first channel of every sample and
    stores differences between neighbouring channels; ``"time+space"`` does both. Decoding
    is the running sum. Arithmetic wraps around (two's complement), so decoding is exact
    even where a difference overflows the dtype.

    Chunks may be 1-D (one channel), 2-D (samples, channels) or N-D (time, then any
    channel axes, treated as flattened channels); no channel count is needed. Dtypes
    int8, int16, int32, int64; the encoded array has the input dtype and the input's
    channel axes, with a few leading header rows (shape, dtype, axis) so that it can be
    decoded from bare bytes (e.g. after Blosc). ``num_threads``: C threads (None = all
    cores); the output does not depend on it.
    """

    codec_id = "ephys_delta2d"

    def __init__(self, axis: str = "time", num_threads: int | None = None) -> None:
        if axis not in AXES:
            raise ValueError(f"axis must be one of {', '.join(map(repr, AXES))}; got {axis!r}")
        self.axis = axis
        self.num_threads = _threads.validate_num_threads(num_threads)

    def encode(self, buf):
        arr, order = F.as_input(buf, "Delta2D", SUPPORTED_DTYPES)
        _, raw, enc = F.encode_samples(
            lib.ephys_delta2d_encode, lib.EPHYS_FILTER_DELTA2D, arr, AXES[self.axis], self.num_threads, "Delta2D"
        )
        F.seal(raw, raw.nbytes, order, arr)
        return enc

    def decode(self, buf, out=None):
        return F.decode_samples(
            lib.ephys_delta2d_decode, lib.EPHYS_FILTER_DELTA2D, buf, out, self.num_threads, "Delta2D"
        )
