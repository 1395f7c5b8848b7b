"""Helpers for the writer integration tests: read back in a fresh interpreter.

Every store a writer test makes is closed and then read in a new Python process that
imports nothing but what the reading code names, with the peer packages
(wavpack-numcodecs, flac-numcodecs) blocked, so that a store only counts as readable
when numcodecs_ephys alone (through its entry points) decodes it.
"""
import importlib
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from conftest import REAL, unavailable

# As if the peers were not installed: their modules cannot be imported and their entry
# points (which also claim the ids "wavpack" and "flac") are not seen by numcodecs/zarr.
BLOCK_PEERS = """
import sys, importlib.metadata as _md
_PEERS = ("wavpack_numcodecs", "flac_numcodecs")
for _m in _PEERS:
    sys.modules[_m] = None
_entry_points = _md.entry_points
def _without_peers(**params):
    dists = _md._unique(_md.distributions()) if hasattr(_md, "_unique") else _md.distributions()
    eps = _md.EntryPoints(e for d in dists for e in d.entry_points
                          if e.value.split(":")[0].split(".")[0] not in _PEERS)
    return eps.select(**params) if params else eps
_md.entry_points = _without_peers
"""
SPIKEGLX = {"np_ultra": REAL / "spikeglx" / "p5_g0", "np2": REAL / "spikeglx" / "all_chan_g0"}


def require(module):
    """Import an optional package, or skip (locally) / fail (CI)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        unavailable(f"{module} is not installed ({exc})")


def spikeglx_folder(name):
    folder = SPIKEGLX[name]
    if not folder.exists():
        unavailable(f"real SpikeGLX folder {folder} not found")
    return folder


def fresh_python(code, *args, cwd=None, timeout=240):
    """Run code in a new interpreter (peers blocked), args in sys.argv[1:]; return stdout."""
    code = BLOCK_PEERS + textwrap.dedent(code)
    proc = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)
    if proc.returncode:
        raise AssertionError(f"fresh process failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def read_back(tmp_path, code, *args):
    """Run reading code that saves arrays with np.savez(sys.argv[1], **arrays); return them."""
    out = Path(tmp_path) / "read_back.npz"
    fresh_python(code, out, *args)
    with np.load(out) as f:
        return {k: f[k] for k in f.files}


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
            part = data[i:i + t, j:j + c]
            block[:part.shape[0], :part.shape[1]] = part
            out[i:i + t, j:j + c] = roundtrip(block, compressor, filters)[:part.shape[0], :part.shape[1]]
    return out
