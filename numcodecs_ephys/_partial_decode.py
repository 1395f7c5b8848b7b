"""Decoding some channels of a chunk: only the channel blocks that hold them are decoded.

A chunk's channels are cut into blocks of ``channels_per_block`` (the codec's
``block_channels``), each an independent stream found through the container's offset
table; the C side decodes a range of blocks (``ephys_*_decode_blocks``), verifying each
block's checksum as a whole decode does. Channel numbers count the channel axes flattened
in C order, as the codecs see a (time, channels...) chunk.
"""

import math

import numpy as np

from . import _container, _threads
from ._extension import CODE_DTYPES, check, ffi


def _info(info_fn, buf, what):
    src, ptr, nbytes = _container.input_bytes(buf)
    info = ffi.new("ephys_chunk_info_t *")
    check(info_fn(ptr, nbytes, info), what)
    return (src, ptr, nbytes), info


def _runs(blocks):
    """Runs of consecutive block numbers, as (first, count)."""
    runs = []
    for b in blocks:
        if runs and runs[-1][0] + runs[-1][1] == b:
            runs[-1][1] += 1
        else:
            runs.append([int(b), 1])
    return runs


def _decode_runs(decode_blocks_fn, source, info, channels, target_for, num_threads, what):
    """Decode the blocks holding `channels` (sorted, unique) into target_for(c0, c1), a
    (samples, c1 - c0) array for each run of consecutive blocks."""
    _, ptr, nbytes = source
    cpb = int(info.channels_per_block)
    threads = _threads.threads(num_threads)
    for first, count in _runs(np.unique(channels // cpb) if len(channels) else []):
        c0, c1 = first * cpb, min(int(info.n_channels), (first + count) * cpb)
        view, keep = _container.make_view(target_for(c0, c1))
        check(decode_blocks_fn(ptr, nbytes, first, count, view, threads), what)
        del keep


def decode_channels(info_fn, decode_blocks_fn, buf, channels, num_threads, codec_name):
    """Samples x len(channels) array of the given channels (any order, repeats allowed,
    negative numbers count from the end)."""
    what = f"cannot decode {codec_name} chunk"
    source, info = _info(info_fn, buf, what)
    n_channels, n_samples = int(info.n_channels), int(info.n_samples)
    idx = np.asarray(channels)
    if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
        raise ValueError(f"channels must be a 1-D sequence of channel numbers, got {channels!r}")
    idx = idx.astype(np.int64)
    if idx.size and (idx.min() < -n_channels or idx.max() >= n_channels):
        raise ValueError(
            f"channel numbers must be in [-{n_channels}, {n_channels}) for this chunk of "
            f"{n_channels} channels, got {channels!r}"
        )
    idx = np.where(idx < 0, idx + n_channels, idx)
    dtype = CODE_DTYPES[info.dtype]
    out = np.empty((n_samples, idx.size), dtype)
    parts = []

    def target_for(c0, c1):
        parts.append((c0, np.empty((n_samples, c1 - c0), dtype)))
        return parts[-1][1]

    _decode_runs(decode_blocks_fn, source, info, np.unique(idx), target_for, num_threads, what)
    for c0, part in parts:
        inside = (idx >= c0) & (idx < c0 + part.shape[1])
        out[:, inside] = part[:, idx[inside] - c0]
    return out


def decode_selection(info_fn, decode_blocks_fn, buf, selection, num_threads, codec_name, shape=None):
    """chunk[selection] (a tuple of slices, integers or index arrays, one per axis of the
    chunk's recorded shape), decoding only the channel blocks the selection touches.
    None when `shape` is given and the chunk recorded another shape."""
    what = f"cannot decode {codec_name} chunk"
    source, info = _info(info_fn, buf, what)
    recorded = tuple(int(x) for x in info.shape[0 : info.ndim])
    if shape is not None and tuple(shape) != recorded:
        return None
    shape = recorded
    n_channels = int(info.n_channels)
    full = np.empty(shape, CODE_DTYPES[info.dtype])  # untouched channels are never read
    if len(selection) != len(shape):
        raise ValueError(f"a selection of {len(selection)} axes for a chunk of shape {shape}")
    grid = np.arange(n_channels, dtype=np.int64).reshape(shape[1:])
    channels = np.unique(grid[tuple(selection[1:])]) if math.prod(shape) else np.empty(0, np.int64)
    flat = full.reshape(shape[0], n_channels)
    _decode_runs(decode_blocks_fn, source, info, channels, lambda c0, c1: flat[:, c0:c1], num_threads, what)
    return full[tuple(selection)]
