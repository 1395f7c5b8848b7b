"""Whole-file benchmark: `numcodecs-ephys compress` on a big file against the codec in memory
and against mtscomp, and peak memory against file size.

A real SpikeGLX recording (../shared/data/real, the NP Ultra file) is tiled into a file of
``--files-gb`` GB (default 2) in a temporary folder (``--files-dir``), then:

- each codec of numcodecs_ephys.recordings.stores.CODECS compresses the whole file (default check on,
  and --no-check), beside the same codec encoding (and decoding) the file's first chunks
  in memory: whole-file speed / in-memory speed is the cost of reading, writing and
  checking;
- mtscomp 1.0.2 compresses the same file on all cores (with and without its own check);
- peak RSS of the command on a 1 GB and a 4 GB file (each in its own process).

Run: ``python -m benchmarks.report --files`` (or ``python -m benchmarks.files``); it
takes several minutes and needs about 3x ``--files-gb`` GB (5 GB more for the memory rows)
of free disk.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from tabulate import tabulate

from numcodecs_ephys import get_num_threads
from numcodecs_ephys.recordings import stores as ephys_files

from .datasets import REAL

SOURCE = "spikeglx/p5_g0/p5_g0_imec0/p5_g0_t0.imec0.ap.bin"
IN_MEMORY_CHUNKS = 20  # chunks of the big file timed in memory (~460 MB at 1 s x 385 channels)


def tile(src, dst, nbytes):
    """dst: src repeated to nbytes (whole frames), with src's .meta beside it.

    Copy j has its 384 neural channels rotated by j (the sync channel stays last), so that
    no channel repeats within zlib's 32 KB window: a plain repeat every 5000 samples would
    hand mtscomp (zlib over each channel's samples) matches that no real recording has.
    """
    x = np.fromfile(src, "int16").reshape(-1, 385)
    frames = nbytes // x[0].nbytes
    with open(dst, "wb") as f:
        j = 0
        while frames > 0:
            block = x[:frames].copy()
            block[:, :384] = np.roll(block[:, :384], -j, axis=1)
            f.write(block.tobytes())
            frames -= len(block)
            j += 1
    shutil.copy(src.with_suffix(".meta"), dst.with_suffix(".meta"))
    return dst


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def in_memory(codec, chunks):
    """(encode MB/s, encode+decode MB/s) of the codec over the chunks, best of 2 passes."""
    nbytes = sum(c.nbytes for c in chunks)
    enc, both = [], []
    for _ in range(2):
        t_enc, encoded = timed(lambda: [codec.encode(c) for c in chunks])
        t_dec, _ = timed(lambda: [codec.decode(e) for e in encoded])
        enc.append(nbytes / t_enc / 1e6)
        both.append(nbytes / (t_enc + t_dec) / 1e6)
    return max(enc), max(both)


def peak_rss_mb(args):
    """Peak RSS in MB of `python -m numcodecs_ephys ARGS` run in its own process."""
    code = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, sys.executable, "-m", "numcodecs_ephys", *map(str, args)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(out.split()[-1]) / 1024


def files_table(size_gb=2.0, folder=None, memory=True):
    src = REAL / SOURCE
    if not src.exists():
        print(f"\n## Whole files\n\n(skipped: {src} not found)")
        return []
    threads = get_num_threads()
    tmp = Path(tempfile.mkdtemp(prefix="ephys-files-", dir=folder))
    rows = []
    try:
        big = tile(src, tmp / "big.ap.bin", int(size_gb * 1e9))
        size = big.stat().st_size
        source = ephys_files.open_source(big)
        chunk_len = int(ephys_files.DEFAULT_CHUNK_DURATION * source.sampling_frequency)
        chunks = [
            source.read(i * chunk_len, (i + 1) * chunk_len)
            for i in range(IN_MEMORY_CHUNKS)
            if i * chunk_len < source.n_samples
        ]
        source.close()
        print(
            f"\n## Whole files: {size / 1e9:.2f} GB tiled from {src.name} ({size / 385 / 2 / 30000:.0f} s "
            f"x 385 channels), {threads} threads, chunks of {ephys_files.DEFAULT_CHUNK_DURATION:g} s\n"
        )
        ours = {}
        for name in ephys_files.CODECS:
            codec = ephys_files.make_codec(name)
            mem_enc, mem_both = in_memory(codec, chunks)
            for check in (True, False):
                store = tmp / f"{name}.zarr"
                t, _ = timed(lambda: ephys_files.compress_file(big, store, codec=name, check=check, overwrite=True))
                cr = ephys_files.store_info(store)["compression_ratio"]
                speed = size / t / 1e6
                ref = mem_both if check else mem_enc
                row = {
                    "what": f"ours: {name}{'' if check else ' --no-check'}",
                    "MB/s": speed,
                    "CR": cr,
                    "in-memory MB/s": ref,
                    "whole / in-memory": speed / ref,
                }
                rows.append(row)
                ours[(name, check)] = row
                shutil.rmtree(store)
        try:
            import mtscomp
        except ImportError:
            mtscomp = None
            print("(mtscomp is not installed: no mtscomp rows)")
        if mtscomp is not None:
            # its defaults, as `mtscomp FILE -n 385 -s 30000 -d int16` runs (which checks after compressing)
            cbin, ch = tmp / "big.cbin", tmp / "big.ch"
            t, _ = timed(
                lambda: mtscomp.compress(
                    big, cbin, ch, sample_rate=30000.0, n_channels=385, dtype=np.int16, n_threads=threads, quiet=True
                )
            )
            cr = size / cbin.stat().st_size
            speed = size / t / 1e6
            rows.append({"what": "mtscomp 1.0.2", "MB/s": speed, "CR": cr})
            for row in ours.values():
                row["speed / mtscomp"] = row["MB/s"] / speed
                row["CR / mtscomp"] = row["CR"] / cr
            cbin.unlink()
            ch.unlink()
        cols = ["what", "MB/s", "CR", "in-memory MB/s", "whole / in-memory", "speed / mtscomp", "CR / mtscomp"]
        print(tabulate([[r.get(c, "") for c in cols] for r in rows], headers=cols, floatfmt=".3g"))
        print(
            "\nin-memory: the codec on the file's first chunks (checked runs: encode + decode, since the "
            "command decodes every chunk it wrote to check it); mtscomp with its defaults (on all cores, "
            "checked after compressing)."
        )
        big.unlink()
        if memory:
            rss = {}
            for gb in (1, 4):
                f = tile(src, tmp / f"rss{gb}.ap.bin", gb * 10**9)
                rss[gb] = peak_rss_mb(["compress", f, "-q", "--codec", "wavpack", "--level", "1"])
                shutil.rmtree(f.with_suffix(".zarr"))
                f.unlink()
            print(
                f"\npeak RSS of `numcodecs-ephys compress --level 1`: {rss[1]:.0f} MB (1 GB file), "
                f"{rss[4]:.0f} MB (4 GB file): 4 GB / 1 GB = {rss[4] / rss[1]:.3f}"
            )
            rows.append({"what": "peak RSS MB, 1 GB / 4 GB file", "MB/s": rss[1], "CR": rss[4]})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files-gb", type=float, default=2.0, help="size of the tiled file in GB (default 2)")
    ap.add_argument("--files-dir", default=None, help="folder for the temporary files (default: the system's)")
    ap.add_argument("--no-memory", action="store_true", help="leave out the 1 GB / 4 GB peak-memory rows")
    args = ap.parse_args(argv)
    files_table(args.files_gb, args.files_dir, not args.no_memory)


if __name__ == "__main__":
    main()
