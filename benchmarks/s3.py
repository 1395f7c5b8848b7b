"""The paper's datasets on S3 (bucket aind-ephys-compression-benchmark-data, anonymous read).

Layout: {aind-np1,aind-np2,ibl-np1}/<session>/ are SpikeInterface binary folders
(binary.json + traces_cached_seg0.raw, int16, time-major, 384 channels, 30 kHz), and
mearec/mearec_NP1.h5, mearec/mearec_NP2.h5 are MEArec simulations. Only the requested
seconds are read, in blocks, through fsspec's block cache: a second run reads them from
the local cache (default ~/.cache/numcodecs-ephys/s3).

    python -m benchmarks.report --s3 aind-np1 --s3 ibl-np1 --sessions 2 --s3-duration 10
"""

import json
import os
from pathlib import Path

import fsspec
import numpy as np
from tqdm import tqdm

from .datasets import Recording

BUCKET = "aind-ephys-compression-benchmark-data"
DATASETS = ("aind-np1", "aind-np2", "ibl-np1", "mearec")
CACHE = Path(os.environ.get("EPHYS_S3_CACHE", Path.home() / ".cache" / "numcodecs-ephys" / "s3"))
BLOCK = 8 * 2**20
# Open Ephys (aind) stores 0.195 uV per count; SpikeGLX (ibl) NP1 counts are 2.34 uV
UV_PER_COUNT = {"aind-np1": 0.195, "aind-np2": 0.195, "ibl-np1": 2.34, "mearec": 0.0}


def add_arguments(ap, duration, datasets=DATASETS):
    """The command-line options that add the bucket's sessions (report.py, lossy.py)."""
    ap.add_argument(
        "--s3",
        action="append",
        default=[],
        metavar="DATASET",
        help=f"add sessions of the paper's S3 bucket ({', '.join(datasets)})",
    )
    ap.add_argument("--sessions", type=int, default=1, help="S3 sessions per dataset")
    ap.add_argument(
        "--s3-duration", type=float, default=duration, help=f"seconds read from each S3 session (default {duration:g})"
    )
    ap.add_argument("--s3-endpoint", default=None, help="S3 endpoint URL (default: AWS)")
    ap.add_argument("--s3-cache", default=None, help="local block cache (default ~/.cache/numcodecs-ephys/s3)")


def filesystem(endpoint_url=None, cache_dir=CACHE):
    """Anonymous S3 behind a local block cache (only the blocks read are downloaded)."""
    options = {"anon": True}
    if endpoint_url:
        options["client_kwargs"] = {"endpoint_url": endpoint_url}
    return fsspec.filesystem(
        "blockcache", target_protocol="s3", target_options=options, cache_storage=str(cache_dir), check_files=False
    )


def sessions(dataset, fs):
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    if dataset == "mearec":
        return sorted(Path(p).name for p in fs.ls(f"{BUCKET}/mearec", detail=False) if p.endswith(".h5"))
    return sorted(Path(p).name for p in fs.ls(f"{BUCKET}/{dataset}", detail=False))


def _read_range(fs, path, offset, nbytes, label):
    out = bytearray(nbytes)
    with (
        fs.open(path, "rb", block_size=BLOCK) as f,
        tqdm(total=nbytes, unit="B", unit_scale=True, desc=label, leave=False) as bar,
    ):
        f.seek(offset)
        pos = 0
        while pos < nbytes:
            piece = f.read(min(BLOCK, nbytes - pos))
            if not piece:
                raise ValueError(f"{path} ends after {offset + pos} bytes; asked for {offset + nbytes}")
            out[pos : pos + len(piece)] = piece
            pos += len(piece)
            bar.update(len(piece))
    return out


def load_binary_session(dataset, session, duration, fs):
    """The first `duration` seconds of a SpikeInterface binary folder on S3."""
    root = f"{BUCKET}/{dataset}/{session}"
    info = json.loads(fs.cat_file(f"{root}/binary.json"))
    kw = info.get("kwargs", info)
    fsamp, nch = float(kw["sampling_frequency"]), int(kw["num_channels"])
    dtype = np.dtype(kw.get("dtype", "int16"))
    if kw.get("time_axis", 0) != 0:
        raise ValueError(f"{root}: only time-major binary folders are supported")
    n = int(round(duration * fsamp))
    raw = _read_range(
        fs,
        f"{root}/traces_cached_seg0.raw",
        int(kw.get("file_offset", 0)),
        n * nch * dtype.itemsize,
        f"{dataset}/{session}",
    )
    traces = np.frombuffer(raw, dtype=dtype).reshape(n, nch).astype(np.int16)
    return Recording(f"s3-{dataset}-{session}", traces, fsamp, "s3", UV_PER_COUNT[dataset])


def load_mearec(name, duration, fs):
    """The first `duration` seconds of a MEArec file (float recordings are quantized at 0.195 uV)."""
    import h5py

    with fs.open(f"{BUCKET}/mearec/{name}", "rb", block_size=BLOCK) as f, h5py.File(f, "r") as h5:
        rec = h5["recordings"]
        fsamp = float(h5["info"]["recordings"].attrs.get("fs", 30000)) if "info" in h5 else 30000.0
        fsamp = fsamp * 1000 if fsamp < 1000 else fsamp  # MEArec stores kHz
        n_ch = h5["channel_positions"].shape[0] if "channel_positions" in h5 else min(rec.shape)
        n = int(round(duration * fsamp))
        data = rec[:, :n].T if rec.shape[0] == n_ch else rec[:n]
    data = np.asarray(data)
    if data.dtype.kind == "f":
        data = np.clip(np.round(data / 0.195), -32768, 32767).astype(np.int16)
    return Recording(f"s3-mearec-{Path(name).stem}", np.ascontiguousarray(data, dtype=np.int16), fsamp, "s3", 0.195)


def load_sessions(dataset, n_sessions=1, duration=10.0, endpoint_url=None, cache_dir=CACHE):
    """The first `duration` seconds of the first `n_sessions` sessions of a dataset."""
    fs = filesystem(endpoint_url, cache_dir)
    names = sessions(dataset, fs)[:n_sessions]
    if dataset == "mearec":
        return [load_mearec(n, duration, fs) for n in names]
    return [load_binary_session(dataset, s, duration, fs) for s in names]
