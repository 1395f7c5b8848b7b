"""Helpers for the writer integration tests: read back in a fresh interpreter.

Every store a writer test makes is closed and then read in a new Python process that
imports nothing but what the reading code names, with the peer packages
(wavpack-numcodecs, flac-numcodecs) blocked, so that a store only counts as readable
when numcodecs_ephys alone (through its entry points) decodes it.
"""

from pathlib import Path

import numpy as np

from conftest import REAL, fresh_python, unavailable

SPIKEGLX = {"np_ultra": REAL / "spikeglx" / "p5_g0", "np2": REAL / "spikeglx" / "all_chan_g0"}


def spikeglx_folder(name):
    folder = SPIKEGLX[name]
    if not folder.exists():
        unavailable(f"real SpikeGLX folder {folder} not found")
    return folder


def read_back(tmp_path, code, *args):
    """Run reading code that saves arrays with np.savez(sys.argv[1], **arrays); return them."""
    out = Path(tmp_path) / "read_back.npz"
    fresh_python(code, out, *args, timeout=240)
    with np.load(out) as f:
        return {k: f[k] for k in f.files}


def format2_array(path, data, chunks, compressor=None, filters=None, **kwargs):
    """A new format-2 zarr array holding data, written through a numcodecs chain by zarr 2,
    or by zarr 3 with zarr_format=2; kwargs go to zarr.open_array (order=...)."""
    import zarr

    if not zarr.__version__.startswith("2."):
        kwargs["zarr_format"] = 2
    z = zarr.open_array(
        str(path),
        mode="w",
        shape=data.shape,
        chunks=chunks,
        dtype=data.dtype,
        compressor=compressor,
        filters=filters,
        **kwargs,
    )
    z[:] = data
    return z


def format3_array(store, data, chunks, serializer, filters=(), compressors=None, **kwargs):
    """A new zarr 3 (format 3) array holding data, written through zarr 3 codecs; store is
    a path or a zarr store, kwargs go to zarr.create_array (name=..., config=...)."""
    import zarr

    z = zarr.create_array(
        store,
        shape=data.shape,
        chunks=chunks,
        dtype=data.dtype,
        serializer=serializer,
        filters=filters,
        compressors=compressors,
        **kwargs,
    )
    z[:] = data
    return z


def roundtrip(data, compressor=None, filters=()):
    """What a numcodecs chain returns for one chunk in this process."""
    enc = data
    for f in filters:
        enc = f.encode(enc)
    if compressor is not None:
        enc = compressor.decode(compressor.encode(enc))
    for f in reversed(list(filters)):
        enc = f.decode(enc)
    return np.asarray(enc).reshape(data.shape)


def expected_chunked(data, chunks, compressor=None, filters=()):
    """What a writer that runs the chain chunk by chunk (edge chunks padded with zeros,
    as zarr does) must read back: data itself for lossless chains."""
    out = np.empty_like(data)
    t, c = chunks
    for i in range(0, data.shape[0], t):
        for j in range(0, data.shape[1], c):
            block = np.zeros((t, c), data.dtype)
            part = data[i : i + t, j : j + c]
            block[: part.shape[0], : part.shape[1]] = part
            out[i : i + t, j : j + c] = roundtrip(block, compressor, filters)[: part.shape[0], : part.shape[1]]
    return out
