"""Whole-file benchmark: `numcodecs-ephys compress` on a big file against the codec in memory
and against mtscomp, and peak memory against file size.

A real SpikeGLX recording (../shared/data/real, the NP Ultra file) is tiled into a file of
``--files-gb`` GB (default 2) in a temporary folder (``--files-dir``), then:

- each codec of numcodecs_ephys.recordings.stores.CODECS compresses the whole file (default check on,
  and --no-check), beside the same codec encoding (and decoding) the file's first chunks
  in memory: whole-file speed / in-memory speed is the cost of reading, writing and
  checking (after one run on a small file, so that neither figure counts the imports and
  first calls of zarr and the codecs);
- mtscomp 1.0.2 compresses the same file on all cores (with and without its own check);
- peak RSS of the command on a 1 GB and a 4 GB file (each in its own process), to a local
  store and to an S3 bucket;
- the same file compressed into and decompressed from a local S3 server (moto, in its own
  process) beside the local disk, in the same run;
- an NWB file holding the file's first seconds as a gzip-compressed ElectricalSeries,
  recompressed with our HDF5 filter: size, time, and the time to read the series, before
  and after.

Run: ``python -m benchmarks.report --files`` (or ``python -m benchmarks.files``); it
takes several minutes and needs about 3x ``--files-gb`` GB (5 GB more for the memory rows)
of free disk.
"""

import argparse
import contextlib
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tabulate import tabulate

from numcodecs_ephys import get_num_threads
from numcodecs_ephys.recordings import stores as ephys_files

from .datasets import REAL

SOURCE = "spikeglx/p5_g0/p5_g0_imec0/p5_g0_t0.imec0.ap.bin"
IN_MEMORY_CHUNKS = 20  # chunks of the big file timed in memory (~460 MB at 1 s x 385 channels)
NWB_SECONDS = 20  # of the big file in the NWB row (460 MB of samples)
NWB_GZIP_CHUNKS = (30000, 64)  # 1 s x 64 channels, gzip level 4: hdmf's default compression


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


def in_memory(codec, chunks, at_once=1):
    """(encode MB/s, encode+decode MB/s) of the codec over the chunks, best of 2 passes, with
    ``at_once`` chunks coded at a time (on threads of their own, as the command codes them)."""
    nbytes = sum(c.nbytes for c in chunks)
    enc, both = [], []
    with ThreadPoolExecutor(at_once) as pool:
        for _ in range(2):
            t_enc, encoded = timed(lambda: list(pool.map(codec.encode, chunks)))
            t_dec, _ = timed(lambda: list(pool.map(codec.decode, encoded)))
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


@contextlib.contextmanager
def moto_s3():
    """A local S3 server (moto) in its own process, so that the objects it holds are not counted
    in this process's memory; the environment points every S3 client of this process and its
    children at it. Yields (an s3fs filesystem with the bucket 'bench', the server as a psutil
    Process)."""
    import psutil
    import s3fs

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    s3fs.S3FileSystem.clear_instance_cache()
    try:
        fs = s3fs.S3FileSystem()
        for _ in range(300):
            try:
                fs.mkdir("bench")
                break
            except OSError:  # not listening yet
                time.sleep(0.1)
        yield fs, psutil.Process(server.pid)
    finally:
        server.terminate()
        server.wait()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        s3fs.S3FileSystem.clear_instance_cache()


def cpu_seconds(process=None):
    """CPU seconds (user + system) used so far by this process, or by ``process`` (psutil)."""
    if process is not None:
        t = process.cpu_times()
        return t.user + t.system
    t = resource.getrusage(resource.RUSAGE_SELF)
    return t.ru_utime + t.ru_stime


def s3_rows(big, tmp, codec, server):
    """The file compressed into and decompressed from the local disk and the S3 server (in
    that order, each checked as the command does by default): MB/s of each, S3 / local, and
    the CPU seconds per GB of this process and of the server (``server``, psutil), since the
    server shares the machine's cores with the command, which a bucket does not."""
    size = big.stat().st_size
    out = {}
    for where, store in (("local disk", tmp / "roundtrip.zarr"), ("S3 (moto)", "s3://bench/roundtrip.zarr")):
        back = tmp / f"back-{len(out)}.ap.bin"
        ours, theirs = cpu_seconds(), cpu_seconds(server)
        t_c, _ = timed(lambda: ephys_files.compress_file(big, store, codec=codec, overwrite=True))
        cpu = ((cpu_seconds() - ours) / size * 1e9, (cpu_seconds(server) - theirs) / size * 1e9)
        t_d, _ = timed(lambda: ephys_files.decompress_file(store, back))
        back.unlink()
        back.with_suffix(".meta").unlink()
        out[where] = (size / t_c / 1e6, size / t_d / 1e6, cpu)
    (lc, ld, lcpu), (sc, sd, scpu) = out["local disk"], out["S3 (moto)"]
    shutil.rmtree(tmp / "roundtrip.zarr")
    return [
        {
            "what": f"{codec}: local disk",
            "compress MB/s": lc,
            "decompress MB/s": ld,
            "compress CPU s/GB": f"{lcpu[0]:.2f}",
        },
        {
            "what": f"{codec}: S3 (moto)",
            "compress MB/s": sc,
            "decompress MB/s": sd,
            "S3 / local": f"{sc / lc:.3f} / {sd / ld:.3f}",
            "compress CPU s/GB": f"{scpu[0]:.2f} + server {scpu[1]:.2f}",
            # per core: this process's CPU per GB, local against S3, which the server cannot disturb
            "S3 / local per core": f"{lcpu[0] / scpu[0]:.3f}",
        },
    ]


def nwb_rows(big, tmp, codecs):
    """An NWB file (NWB's layout for one ElectricalSeries, written with h5py) holding the first
    NWB_SECONDS of the file gzip-compressed as hdmf does by default, recompressed with each codec."""
    import h5py

    from numcodecs_ephys.recordings import nwb

    src = ephys_files.open_source(big)
    n = min(src.n_samples, int(NWB_SECONDS * src.sampling_frequency))
    path = tmp / "session.nwb"
    with h5py.File(path, "w") as f:
        f.attrs.update(neurodata_type="NWBFile", namespace="core", nwb_version="2.8.0")
        series = f.create_group("acquisition/ElectricalSeriesAP")
        series.attrs.update(neurodata_type="ElectricalSeries", namespace="core")
        data = series.create_dataset(
            "data", (n, src.n_channels), "int16", chunks=NWB_GZIP_CHUNKS, compression="gzip", compression_opts=4
        )
        for t0 in range(0, n, NWB_GZIP_CHUNKS[0]):
            data[t0 : t0 + NWB_GZIP_CHUNKS[0]] = src.read(t0, min(n, t0 + NWB_GZIP_CHUNKS[0]))
        series.create_dataset("starting_time", data=0.0).attrs.update(rate=src.sampling_frequency, unit="seconds")
    src.close()
    raw = n * src.n_channels * 2
    second = int(src.sampling_frequency)

    def read_series(p):
        with h5py.File(p, "r") as f:
            ds = f["acquisition/ElectricalSeriesAP/data"]
            for t0 in range(0, n, second):
                ds[t0 : t0 + second]

    t_before, _ = timed(lambda: read_series(path))
    before = path.stat().st_size
    rows = [{"what": "NWB, gzip 4 (the source)", "file MB": before / 1e6, "read MB/s": raw / t_before / 1e6}]
    for codec in codecs:
        out = tmp / f"session.{codec}.nwb"
        t, _ = timed(lambda: nwb.compress_nwb(path, out, codec=codec))
        t_after, _ = timed(lambda: read_series(out))
        after = out.stat().st_size
        rows.append(
            {
                "what": f"NWB, recompressed: {codec}",
                "file MB": after / 1e6,
                "size / gzip": after / before,
                "recompress MB/s": raw / t / 1e6,
                "read MB/s": raw / t_after / 1e6,
            }
        )
        out.unlink()
    path.unlink()
    print(f"\n### NWB recompression: {n / second:.0f} s x {src.n_channels} channels ({raw / 1e6:.0f} MB of samples)\n")
    cols = ["what", "file MB", "size / gzip", "recompress MB/s", "read MB/s"]
    print(tabulate([[r.get(c, "") for c in cols] for r in rows], headers=cols, floatfmt=".4g"))
    return rows


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
        # zarr's import and the first calls, once: a one-off cost that a real (80 GB) file never shows
        warm = tile(src, tmp / "warm.ap.bin", 20 * 10**6)
        ephys_files.compress_file(warm, tmp / "warm.zarr")
        ours = {}
        for name in ephys_files.CODECS:
            codec = ephys_files.make_codec(name)
            # the better of one chunk at a time (the codec's threads only) and one per core at once
            # (as the command codes them): the command is held to the codec's best in memory
            mem_enc, mem_both = map(max, zip(in_memory(codec, chunks), in_memory(codec, chunks, threads)))
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
            "\nin-memory: the codec on the file's first chunks, the better of one chunk at a time and one "
            f"per core ({threads}) at once (checked runs: encode + decode, since the command decodes every "
            "chunk it writes to check it); mtscomp with its defaults (on all cores, "
            "checked after compressing)."
        )
        rows += nwb_rows(big, tmp, ["lpc", "wavpack"])
        with moto_s3() as (_, server):
            s3 = s3_rows(big, tmp, "lpc", server)
            print(f"\n### S3 round trip: the same {size / 1e9:.2f} GB file, compressed and decompressed\n")
            cols = [
                "what",
                "compress MB/s",
                "decompress MB/s",
                "S3 / local",
                "compress CPU s/GB",
                "S3 / local per core",
            ]
            print(tabulate([[r.get(c, "") for c in cols] for r in s3], headers=cols, floatfmt=".4g"))
            print(
                "\nCPU s/GB: this process's CPU time per GB compressed, and the S3 server's: the server "
                "runs on the same cores, so S3 / local can be at most ours / (ours + server's) when the "
                "coders keep every core busy; per core: local CPU s/GB / S3 CPU s/GB of this process, "
                "the compress speed per core of ours that the server's share of the cores leaves out."
            )
            rows += s3
            big.unlink()
            if memory:
                rss = {}
                for gb in (1, 4):
                    f = tile(src, tmp / f"rss{gb}.ap.bin", gb * 10**9)
                    rss[gb] = peak_rss_mb(["compress", f, "-q", "--codec", "wavpack", "--level", "1"])
                    rss["s3", gb] = peak_rss_mb(
                        ["compress", f, "-q", "--codec", "wavpack", "--level", "1", "-o", f"s3://bench/rss{gb}.zarr"]
                    )
                    shutil.rmtree(f.with_suffix(".zarr"))
                    f.unlink()
                for where, key in (("", None), (" to S3", "s3")):
                    one, four = rss[key, 1] if key else rss[1], rss[key, 4] if key else rss[4]
                    print(
                        f"\npeak RSS of `numcodecs-ephys compress --level 1`{where}: {one:.0f} MB (1 GB file), "
                        f"{four:.0f} MB (4 GB file): 4 GB / 1 GB = {four / one:.3f}"
                    )
                    rows.append({"what": f"peak RSS MB{where}, 1 GB / 4 GB file", "MB/s": one, "CR": four})
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
