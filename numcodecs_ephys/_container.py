"""Glue between numpy arrays and the C chunk container shared by the block codecs
(WavPack, FLAC, EphysLPC): checking and viewing the samples, encoding, decoding into any
output buffer.

Python only validates and describes memory here; the C side does all per-sample
work, on its own threads, with the GIL released (cffi releases it around every
call into the extension).
"""

import math

import numpy as np
from numcodecs.compat import ensure_contiguous_ndarray, ensure_ndarray_like, ndarray_copy

from ._extension import CODE_DTYPES, DTYPE_CODES, check, ffi, lib
from ._threads import threads

_UNSIGNED_OF = {np.dtype(f"int{bits}"): np.dtype(f"uint{bits}") for bits in (8, 16, 32)}
MAX_NDIM = lib.EPHYS_MAX_NDIM


def accepted_dtypes(stream_dtypes):
    """The dtypes a codec of the chunk container takes, given those its streams code: those,
    and the unsigned integers of their signed widths, which the container stores losslessly
    as the signed type with the top bit flipped (``EPHYS_CHUNK_UNSIGNED``, csrc/chunk.h)."""
    stream_dtypes = tuple(stream_dtypes)
    return stream_dtypes + tuple(_UNSIGNED_OF[d] for d in stream_dtypes if d in _UNSIGNED_OF)


def as_samples(buf, codec_name, supported, min_ndim=1):
    """The chunk as a native-endian array with time on axis 0, checked against the dtypes a codec supports."""
    arr = ensure_ndarray_like(buf)
    if not isinstance(arr, np.ndarray):
        arr = np.asarray(arr)
    dtype = arr.dtype.newbyteorder("=") if arr.dtype.byteorder not in "=|" else arr.dtype
    if dtype not in supported:
        names = ", ".join(str(d) for d in supported)
        raise ValueError(f"{codec_name} supports dtypes {names}; got {arr.dtype}")
    if arr.dtype != dtype:
        arr = arr.astype(dtype)
    if not min_ndim <= arr.ndim <= MAX_NDIM:
        raise ValueError(
            f"{codec_name} takes arrays of {min_ndim} to {MAX_NDIM} dimensions (time first), got {arr.ndim}"
        )
    return arr


def make_view(arr2d):
    """A C view (base pointer, element strides) of a 2-D (samples, channels) array; the
    base may be unaligned (the C side reads and writes through memcpy).

    Returns the view and the array it points into, which must outlive the call."""
    item = arr2d.itemsize
    sample_stride, channel_stride = arr2d.strides
    if sample_stride % item or channel_stride % item:
        arr2d = np.ascontiguousarray(arr2d)
        sample_stride, channel_stride = arr2d.strides
    flags = arr2d.flags
    if flags.c_contiguous and flags.writeable:  # the fast way to its address (small chunks)
        base = ffi.from_buffer(arr2d)
    else:
        base = ffi.cast("void *", arr2d.__array_interface__["data"][0])
    n_samples, n_channels = arr2d.shape
    fields = [base, DTYPE_CODES[arr2d.dtype], n_samples, n_channels, sample_stride // item, channel_stride // item]
    return ffi.new("ephys_view_t *", fields), arr2d


def to_2d(arr):
    """(samples, channels) without copying where numpy can: the trailing axes are the channels."""
    if arr.ndim == 2:
        return arr
    if arr.ndim == 1:
        return arr[:, None]
    return arr.reshape(arr.shape[0], math.prod(arr.shape[1:]))


def take_output(out_pp, out_len):
    """Copy a malloc'd C result into bytes and free it."""
    try:
        return ffi.buffer(out_pp[0], out_len[0])[:]
    finally:
        lib.ephys_free(out_pp[0])


def memory_order(arr):
    """ "F" for an array laid out in Fortran order only: zarr hands such a chunk to a codec
    and reads the decoded chunk's memory back in that order, so the order is recorded."""
    return "F" if arr.ndim > 1 and arr.flags.f_contiguous and not arr.flags.c_contiguous else "C"


def encode_chunk(encode_fn, params, arr, channels_per_block, num_threads):
    view, keep = make_view(to_2d(arr))
    shape = ffi.new("uint64_t[]", list(arr.shape))
    flags = lib.EPHYS_CHUNK_FORTRAN if memory_order(arr) == "F" else 0
    out_pp, out_len = ffi.new("uint8_t **"), ffi.new("size_t *")
    err = encode_fn(params, view, arr.ndim, shape, flags, channels_per_block, threads(num_threads), out_pp, out_len)
    del keep
    check(err, "encoding failed")
    return take_output(out_pp, out_len)


def input_bytes(buf):
    if type(buf) is bytes:  # what encode returns: no numpy view needed
        return buf, ffi.from_buffer(buf), len(buf)
    src = ensure_contiguous_ndarray(buf)
    return src, ffi.from_buffer(src), src.nbytes


_decode_pointers: dict = {}  # a codec's decode function -> its C address, for ephys_decode_contiguous


def decode_chunk(info_fn, decode_fn, buf, out, num_threads, codec_name):
    src, ptr, nbytes = input_bytes(buf)
    info = ffi.new("ephys_chunk_info_t *")
    what = f"cannot decode {codec_name} chunk"
    check(info_fn(ptr, nbytes, info), what)
    shape = tuple(info.shape[0 : info.ndim])
    order = "F" if info.flags & lib.EPHYS_CHUNK_FORTRAN else "C"
    if out is None and order == "C" and shape:  # the common case in one C call (small chunks: every microsecond shows)
        result = np.empty(shape, CODE_DTYPES[info.dtype])
        n_channels = math.prod(shape[1:])
        fn = _decode_pointers.get(decode_fn) or _decode_pointers.setdefault(
            decode_fn, ffi.addressof(lib, decode_fn.__name__)
        )
        err = lib.ephys_decode_contiguous(
            fn, ptr, nbytes, ffi.from_buffer(result), info.dtype, shape[0], n_channels, threads(num_threads)
        )
        check(err, what)
        return result
    if out is None and len(shape) <= 2:
        result = np.empty(shape, CODE_DTYPES[info.dtype], order=order)
        view, _ = make_view(to_2d(result))
        check(decode_fn(ptr, nbytes, view, threads(num_threads)), what)
        return result
    return decode_into(
        out,
        CODE_DTYPES[info.dtype],
        shape,
        order,
        lambda view: check(decode_fn(ptr, nbytes, view, threads(num_threads)), what),
    )


def decode_into(out, dtype, shape, order, fill):
    """Run fill(view) on a view of the decoded chunk's memory; returns what numcodecs'
    decode returns.

    Without out, the chunk is a new array in its recorded memory order. An out of the
    chunk's dtype and shape is written in place through its strides whatever its layout
    (C, Fortran, strided, unaligned) when the channel axes can be seen as one; any other
    out gets the values copied in as numcodecs' own codecs do (ndarray_copy: same bytes
    in memory order when the shapes differ)."""
    target = samples_view(out, dtype, shape)
    if target is not None:
        fill(make_view(target)[0])
        return out
    if out is not None:
        check_out_size(out, dtype, shape)
    result = np.empty(shape, dtype, order=order)
    target = samples_view(result, dtype, shape)
    if target is None:  # N-D Fortran order: the channel axes have no single stride
        c_order = np.empty(shape, dtype)
        fill(make_view(samples_view(c_order, dtype, shape))[0])
        np.copyto(result, c_order)
    else:
        fill(make_view(target)[0])
    return result if out is None else copy_into(result, out)


def samples_view(arr, dtype, shape):
    """arr as a (samples, channels) view of its own memory, or None where it has another
    dtype or shape, is read-only, or its channel axes do not form one strided axis."""
    if not isinstance(arr, np.ndarray) or arr.dtype != dtype or arr.shape != tuple(shape) or not arr.flags.writeable:
        return None
    view = to_2d(arr)
    if arr.ndim > 2 and view.size and not np.may_share_memory(view, arr):  # numpy had to copy
        return None
    sample_stride, channel_stride = view.strides
    if sample_stride % arr.itemsize or channel_stride % arr.itemsize:
        return None
    return view


def check_out_size(out, dtype, shape):
    """A caller's buffer must hold the decoded chunk's bytes: checked before decoding."""
    nbytes = ensure_ndarray_like(out).nbytes
    expected = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    if nbytes != expected:
        raise ValueError(
            f"the output buffer holds {nbytes} bytes, but the decoded chunk is "
            f"{tuple(shape)} {np.dtype(dtype)} ({expected} bytes)"
        )


def copy_into(result, out):
    """Copy a decoded chunk into a caller's buffer: its values when out has the chunk's
    dtype and shape (any layout), else its bytes in memory order, as numcodecs does."""
    dest = ensure_ndarray_like(out)
    if dest.dtype == result.dtype and dest.shape == result.shape:
        np.copyto(dest, result)
        return out
    check_out_size(out, result.dtype, result.shape)
    return ndarray_copy(result, out)
