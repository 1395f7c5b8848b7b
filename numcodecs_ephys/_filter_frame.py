"""Glue shared by the filters (Delta2D, BitTruncation, LSB): the encoded chunk is an
array of the input dtype, (header rows + table rows + samples + escape rows, *channel
axes), so a following WavPack/FLAC still sees (time, channels); see csrc/filter.h.
"""

import numpy as np
from numcodecs.compat import ensure_contiguous_ndarray

from ._container import as_samples, copy_into, memory_order
from ._extension import check, ffi, lib
from ._threads import threads


def as_input(buf, name, supported):
    """The chunk as an aligned C-contiguous native-endian array of a supported dtype (0-d
    allowed), and the memory order it came in ("C" or "F")."""
    arr = as_samples(buf, name, supported, min_ndim=0)
    return np.require(arr, requirements=["C", "A"]).reshape(arr.shape), memory_order(arr)


def seal(raw, nbytes, order, samples):
    """Record the chunk's memory order and the checksum of its samples (C-contiguous) in
    an encoded chunk; raw is a cffi pointer or a buffer of nbytes bytes."""
    flags = lib.EPHYS_FILTER_FORTRAN if order == "F" else 0
    ptr = raw if isinstance(raw, ffi.CData) else ffi.from_buffer(raw)
    check(
        lib.ephys_filter_seal(ptr, nbytes, flags, ffi.from_buffer(samples), samples.nbytes), "cannot encode this chunk"
    )


def n_channels(shape):
    return int(np.prod(shape[1:], dtype=np.int64)) if len(shape) > 1 else 1


def layout(filter_id, arr, param, table_rows=0, n_escapes=0):
    info = ffi.new("ephys_filter_info_t *")
    shape = ffi.new("uint64_t[]", list(arr.shape) or [0])
    check(
        lib.ephys_filter_layout(filter_id, arr.itemsize, arr.ndim, shape, param, table_rows, n_escapes, info),
        "cannot encode this chunk",
    )
    return info, shape


FILTER_MAGIC = b"EPHF"

LOSSY_AFTER_FILTER_RULE = (
    "Lossy steps (WavPack(bps=...), BitTruncation(bits > 0), EphysLPC(max_error > 0)) come before "
    "the numcodecs-ephys filters (Delta2D, BitTruncation, LSB), never after: after Delta2D a lossy "
    "error would accumulate along the running sums, after LSB it would land on the wrong grid index, "
    "and in numcodecs it would alter the filter's header rows."
)
"""The one rule for lossy steps after a filter, on both stacks: numcodecs spots a filtered
chunk by its header (refuse_filtered), zarr 3 by the chunk spec a filter declares or, for
LSB's wrapped serializer, when the array is created (numcodecs_ephys.zarr3)."""


def refuse_lossy_after_filter(who, filters="a numcodecs-ephys filter"):
    raise ValueError(
        f"{who} is lossy and this chunk was already transformed by {filters}. "
        f"{LOSSY_AFTER_FILTER_RULE} Put lossy steps first (e.g. filters=[BitTruncation(...), "
        "LSB(...)]), or LSB-correct the recording beforehand when compressing with WavPack(bps=...)"
    )


def refuse_filtered(arr, who):
    """numcodecs: a lossy step refuses a chunk that starts with a filter header."""
    if arr.size * arr.itemsize >= 4 and np.ascontiguousarray(arr.reshape(-1)[:4]).tobytes()[:4] == FILTER_MAGIC:
        refuse_lossy_after_filter(who)


def samples_and_channels(shape):
    """(rows, channels) of a chunk for the kernels: axis 0 is time, the others are channels
    (a 0-d chunk is one sample of one channel), as in ephys_filter_layout."""
    return (int(shape[0]) if len(shape) else 1), n_channels(shape)


def encoded_array(raw, dtype, shape):
    """The encoded bytes as an array of dtype keeping the chunk's channel axes."""
    flat = np.frombuffer(raw, dtype=dtype) if not isinstance(raw, np.ndarray) else raw.view(dtype)
    if len(shape) >= 2 and n_channels(shape) > 0:
        return flat.reshape((-1,) + tuple(shape[1:]))
    return flat


def empty_encoded(info, dtype, shape):
    """An uninitialized output array for an encoded chunk described by info."""
    raw = np.empty(int(info.total_bytes), dtype=np.uint8)
    return raw, encoded_array(raw, dtype, shape)


def encode_samples(c_encode, filter_id, arr, param, num_threads, name):
    """A chunk of a filter whose kernel maps the samples one to one (Delta2D, BitTruncation):
    the header, then the kernel's output; not yet sealed. (info, raw bytes, encoded array)."""
    info, shape = layout(filter_id, arr, param)
    raw, enc = empty_encoded(info, arr.dtype, arr.shape)
    check(
        c_encode(
            ffi.from_buffer(arr),
            arr.nbytes,
            arr.itemsize,
            arr.ndim,
            shape,
            param,
            threads(num_threads),
            ffi.from_buffer(raw),
            raw.nbytes,
        ),
        f"{name} encoding failed",
    )
    return info, raw, enc


def decode_samples(c_decode, filter_id, buf, out, num_threads, name):
    """The samples of a chunk written by encode_samples (then sealed), as deliver returns them."""
    info, src, ptr = parse(buf, filter_id, name)
    result = np.empty(info_shape(info), info_dtype(info))
    check(
        c_decode(ptr, src.nbytes, ffi.from_buffer(result), result.nbytes, threads(num_threads)),
        f"cannot decode {name} chunk",
    )
    return deliver(info, src, result, out, name)


def parse(buf, filter_id, name):
    """(info, source array, cffi pointer) of an encoded chunk; aligned for the C side."""
    try:
        src = ensure_contiguous_ndarray(buf)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"cannot decode {name} chunk: {exc}") from exc
    src = src.view(np.uint8) if src.dtype != np.uint8 else src
    if src.ctypes.data % 8:
        src = src.copy()
    ptr = ffi.from_buffer(src)
    info = ffi.new("ephys_filter_info_t *")
    check(lib.ephys_filter_parse(ptr, src.nbytes, filter_id, info), f"cannot decode {name} chunk")
    return info, src, ptr


def info_shape(info):
    return tuple(int(x) for x in info.shape[0 : info.ndim])


def info_dtype(info):
    return np.dtype(f"<i{info.itemsize}").newbyteorder("=")


def deliver(info, src, result, out, name):
    """Check the decoded chunk (C order) against the encoded chunk's checksum, then return
    it in its recorded memory order, or write it into out: the values themselves when out
    has the chunk's dtype and shape (any layout), else its bytes as numcodecs does."""
    check(
        lib.ephys_filter_verify(ffi.from_buffer(src), src.nbytes, ffi.from_buffer(result), result.nbytes),
        f"cannot decode {name} chunk",
    )
    if info.flags & lib.EPHYS_FILTER_FORTRAN:
        result = np.asfortranarray(result)
    return result if out is None else copy_into(result, out)
