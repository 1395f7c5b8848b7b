"""`make bench`: prints the paper's tables for our codecs and writes CSV files and plots.

    python -m benchmarks.report                      # embedded simulated probes + real files
    python -m benchmarks.report --full               # + every shuffle, chunk durations 0.1/1/10 s
    python -m benchmarks.report --s3 aind-np1 --sessions 1 --s3-duration 10   # the paper's data

Datasets: simulated NP1-like and NP2-like probes (built in, from a seed), the real
recordings in ../shared/data/real when present, and optionally the paper's S3 sessions.
The first table sets WavPack and FLAC against the released peers, the codecs taking turns
in each pass (best pass shown); the other tables' speeds are medians of timed passes after
a warm-up pass, on the thread count printed in the header; the released peers run in the
same process on the same chunks. Each table's run time is printed after it.
"""

import argparse
import csv
import os
import platform
import time
import warnings
from pathlib import Path

import numcodecs
import numpy as np
import psutil
from numcodecs.abc import Codec
from numcodecs.compat import ensure_ndarray
from tabulate import tabulate

import numcodecs_ephys
from numcodecs_ephys import FLAC, LSB, WavPack, estimate_lsb, flac, get_num_threads, wavpack

from . import cases as C
from .datasets import real_recordings, simulated_recording
from .files import files_table
from .measure import interleaved_times, measure, median_time
from .preprocessing import preprocessing_table


def machine_description(threads):
    cpu = "unknown CPU"
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores ({len(psutil.Process().cpu_affinity())} usable), {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, numpy {np.__version__}, numcodecs "
        f"{numcodecs.__version__}, numcodecs-ephys {numcodecs_ephys.__version__}, libwavpack "
        f"{wavpack.library_version()}, libFLAC {flac.library_version()}. "
        f"Our codecs on {threads} thread(s); numcodecs' codecs and the peers with their own defaults "
        f"(wavpack-/flac-numcodecs single-threaded, mtscomp on all cores)."
    )


class LossyLSB(Codec):
    """spikeinterface's correct_lsb, for comparison: subtract the median, floor-divide by the step."""

    codec_id = "bench_lossy_lsb"

    def __init__(self, medians, step):
        self.medians, self.step = np.asarray(medians), float(step)

    def encode(self, buf):
        return np.floor_divide(buf - self.medians, self.step).astype(np.int16)

    def decode(self, buf, out=None):
        q = ensure_ndarray(buf).view(np.int16).reshape(-1, len(self.medians))
        return np.round(q * self.step + self.medians).astype(np.int16)


def probe_of(rec):
    return "np2" if "np2" in rec.name else "np1" if ("np1" in rec.name or "ultra" in rec.name) else None


def lsb_filters(rec, threads):
    """Our lossless LSB filter when the recording sits on a grid coarser than 1, else none."""
    offsets, steps = estimate_lsb(rec.traces)
    if np.allclose(steps, 1.0) and np.allclose(offsets, 0.0):
        return ()
    return (
        LSB(
            offsets=list(map(float, offsets)),
            steps=steps if np.isscalar(steps) else list(map(float, steps)),
            num_threads=threads,
        ),
    )


class Runner:
    def __init__(self, args, threads):
        self.args, self.threads, self.rows = args, threads, []
        self._lsb = {}

    def lsb(self, rec):
        if rec.name not in self._lsb:
            self._lsb[rec.name] = lsb_filters(rec, self.threads)
        return self._lsb[rec.name]

    def run(self, table, rec, case, pre_filters=(), chunk=None, timed=True, **labels):
        """Measure one case; timed=False: CR and error from a single pass (no speed figures)."""
        made = case.make()
        if made is None:
            return None
        codec, filters = made
        m = measure(
            codec,
            rec,
            chunk_duration=chunk or self.args.chunk,
            repeats=self.args.repeats if timed else 0,
            filters=tuple(pre_filters) + tuple(filters),
        )
        probe = probe_of(rec)
        row = dict(
            table=table,
            dataset=rec.name,
            case=case.name,
            family=case.family,
            level=case.level,
            shuffle=case.shuffle,
            chunk_s=chunk or self.args.chunk,
            lsb=bool(pre_filters),
            **labels,
            paper_cr=case.paper.get(probe, "") if probe else "",
            **m,
            rmse_uv=m["rmse"] * rec.uv_per_count if rec.uv_per_count else "",
            threads=self.threads,
            peer_of=case.peer or "",
        )
        self.rows.append(row)
        return row


def show(title, rows, columns, floatfmt=".3g"):
    """floatfmt: one format for every column, or one per column."""
    print(f"\n## {title}\n")
    print(
        tabulate([[r.get(k, "") for k, _ in columns] for r in rows], headers=[h for _, h in columns], floatfmt=floatfmt)
    )


SPEED_COLS = [
    ("enc_mbs", "enc MB/s"),
    ("dec_mbs", "dec MB/s"),
    ("enc_xrt", "enc xRT"),
    ("dec_xrt", "dec xRT"),
    ("enc_peak_mb", "enc peak MB"),
]


def lossless_table(run, recs, full):
    for rec in recs:
        lsb = run.lsb(rec)
        # the short real files at the medium levels; the probes at every level of ours and the peers'
        levels = C.LEVELS if (full or rec.source != "real") else ("medium",)
        rows = [run.run("lossless", rec, case, lsb) for case in C.lossless_cases(run.threads, full, levels)]
        show(
            f"Lossless, {rec.name}, {run.args.chunk} s chunks{', LSB-corrected' if lsb else ''}",
            [r for r in rows if r],
            [("case", "codec"), ("cr", "CR"), ("paper_cr", "paper CR")] + SPEED_COLS,
        )


def chunk_duration_table(run, recs, full):
    durations = (0.1, 1.0, 10.0) if full else (0.1, 1.0)
    rows = []
    for rec in recs:
        for dur in durations:
            if dur > rec.duration:
                continue
            for case in C.lossless_cases(run.threads, levels=("medium",)):
                if case.family in ("wavpack", "flac", "lpc", "blosc-zstd") and not case.peer:
                    r = run.run("chunk duration", rec, case, run.lsb(rec), chunk=dur)
                    r["paper_cr"] = (
                        C.PAPER_CHUNK_DURATION.get(dur, "")
                        if case.family == "wavpack" and probe_of(rec) == "np1"
                        else ""
                    )
                    rows.append(r)
    show(
        "Chunk duration (medium levels)",
        rows,
        [
            ("dataset", "dataset"),
            ("case", "codec"),
            ("chunk_s", "chunk s"),
            ("cr", "CR"),
            ("paper_cr", "paper CR"),
            ("enc_xrt", "enc xRT"),
            ("dec_xrt", "dec xRT"),
        ],
    )


def lsb_table(run, recs):
    rows = []
    for rec in recs:
        lsb = run.lsb(rec)
        if not lsb:
            continue
        lossy = (LossyLSB(np.median(rec.traces, axis=0), np.median(lsb[0].steps)),)  # the grid estimated once
        for case in C.lossless_cases(run.threads, levels=("medium",)):
            if case.family in ("wavpack", "flac", "lpc", "blosc-zstd") and not case.peer:
                for label, pre in (("none", ()), ("ours (lossless)", lsb), ("spikeinterface (lossy)", lossy)):
                    r = run.run("lsb", rec, case, pre, lsb_mode=label)
                    r["lsb"] = label
                    rows.append(r)
    show(
        "LSB correction",
        rows,
        [
            ("dataset", "dataset"),
            ("case", "codec"),
            ("lsb", "LSB correction"),
            ("cr", "CR"),
            ("exact", "bit-exact"),
            ("rmse", "RMSE (counts)"),
            ("enc_xrt", "enc xRT"),
            ("dec_xrt", "dec xRT"),
        ],
    )


def delta_table(run, recs, full):
    rows = []
    for i, rec in enumerate(recs):
        # the paper's delta table is NP1's; for the other probes blosc-zstd (its NP2 note) unless `full`
        families = ("wavpack", "flac", "lpc", "blosc-zstd") if (full or i == 0) else ("blosc-zstd",)
        for case in C.delta_cases(run.threads, full, families):
            rows.append(run.run("delta", rec, case, run.lsb(rec), delta=case.extra["delta"]))
    show(
        "Delta filters (medium levels)",
        rows,
        [
            ("dataset", "dataset"),
            ("case", "codec + delta"),
            ("cr", "CR"),
            ("paper_cr", "paper CR"),
            ("enc_xrt", "enc xRT"),
            ("dec_xrt", "dec xRT"),
        ],
    )


def filter_speed_table(run, rec):
    """GB/s of the filters on one (samples, channels) int16 chunk, numpy's equivalents beside."""
    from numcodecs_ephys import BitTruncation, Delta2D

    x = np.ascontiguousarray(rec.traces)
    gb = x.nbytes / 1e9

    def gbs(fn, passes=5):
        fn()  # warm-up
        return gb / median_time(fn, passes)

    def np_diff():
        out = np.empty_like(x)
        out[0] = x[0]
        np.subtract(x[1:], x[:-1], out=out[1:])

    grid = LSB.from_data(x)
    rows = [
        dict(
            case="numpy diff / cumsum (time)",
            threads=1,
            enc_gbs=gbs(np_diff),
            dec_gbs=gbs(lambda: np.cumsum(x, axis=0, dtype=np.int16)),
        )
    ]
    filters = [
        (f"Delta2D {axis}", lambda n, a=axis: Delta2D(a, num_threads=n)) for axis in ("time", "space", "time+space")
    ]
    filters += [
        ("BitTruncation bits=2", lambda n: BitTruncation(2, num_threads=n)),
        ("LSB (estimated grid)", lambda n: LSB(grid.offsets, grid.steps, num_threads=n)),
    ]
    for name, make in filters:
        for n in sorted({1, run.threads}):
            f = make(n)
            enc = f.encode(x)
            rows.append(
                dict(case=name, threads=n, enc_gbs=gbs(lambda: f.encode(x)), dec_gbs=gbs(lambda: f.decode(enc)))
            )
    run.rows.extend(
        dict(table="filter speed", dataset=rec.name, **row, chunk_s=rec.duration, peer_of="") for row in rows
    )
    show(
        f"Filter speed, {rec.name} {x.shape} int16 (GB/s of raw data, median of 5 after a warm-up)",
        rows,
        [("case", "filter"), ("threads", "threads"), ("enc_gbs", "encode GB/s"), ("dec_gbs", "decode GB/s")],
    )


def partial_decode_table(run, recs, passes=3):
    """Reading 4 of 384 channels of a 1 s chunk (decode_channels: only the channel block that
    holds them) against decoding the whole chunk, with the default block_channels."""
    from numcodecs_ephys import FLAC, WavPack

    channels = [100, 101, 102, 103]
    rows = []
    for rec in recs:
        chunk = np.ascontiguousarray(np.resize(rec.traces, (int(rec.fs), 384)))  # 1 s, all channels
        for name, make in (
            ("WavPack level 2", lambda n: WavPack(level=2, num_threads=n)),
            ("FLAC level 5", lambda n: FLAC(level=5, num_threads=n)),
        ):
            for n in sorted({1, run.threads}):
                codec = make(n)
                enc = codec.encode(chunk)
                if not np.array_equal(codec.decode_channels(enc, channels), chunk[:, channels]):
                    raise AssertionError(f"{name}: decode_channels differs from the data")
                full, part = [], []
                for _ in range(passes):  # taking turns: a slow spell of the machine hits both
                    full.append(median_time(lambda: codec.decode(enc), 1))
                    part.append(median_time(lambda: codec.decode_channels(enc, channels), 1))
                full_s, part_s = min(full), min(part)
                row = dict(
                    table="partial decode",
                    dataset=rec.name,
                    case=name,
                    threads=n,
                    full_decode_ms=1e3 * full_s,
                    channels_decode_ms=1e3 * part_s,
                    partial_speedup=full_s / part_s,
                    chunk_s=1.0,
                    peer_of="",
                )
                run.rows.append(row)
                rows.append(dict(row, block_channels=codec.block_channels))
    show(
        f"Channel-subset decoding: 4 of 384 channels of a 1 s chunk (best of {passes} interleaved passes)",
        rows,
        [("dataset", "recording"), ("case", "codec"), ("threads", "threads"), ("block_channels", "block_channels")]
        + [
            ("full_decode_ms", "full decode ms"),
            ("channels_decode_ms", "4 channels ms"),
            ("partial_speedup", "speed-up"),
        ],
    )


def on_adc_grid(rec):
    """The recording in ADC steps (exact for the simulated probes' integer grid).

    The lossy tables code ADC steps directly: a lossy codec placed after our LSB filter
    would alter the filter's header rows, so LSB correction is applied beforehand here,
    as the paper applied spikeinterface's correct_lsb to the recording."""
    from .datasets import PROBES, Recording

    grid = PROBES[probe_of(rec)]["grid"] if rec.source == "simulated" else 1
    if grid == 1:
        return rec
    return Recording(rec.name, (rec.traces // grid).astype(np.int16), rec.fs, rec.source, rec.uv_per_count * grid)


def lossy_tables(run, recs, full):
    recs = [on_adc_grid(r) for r in recs]
    rows = []
    timed_bps = C.HYBRID_BPS if full else (3, 2.25)  # the others: CR and error from one pass
    for rec in recs:
        for case in C.hybrid_cases(run.threads, timed_bps):
            r = run.run("hybrid", rec, case, timed=case.extra["bps"] in timed_bps, bps=case.extra["bps"])
            if r:
                r["paper_rmse_uv"] = (
                    C.PAPER_HYBRID_RMSE_UV.get(case.extra["bps"], "")
                    if probe_of(rec) == "np1" and not case.peer
                    else ""
                )
                rows.append(r)
        for case in C.near_lossless_cases(run.threads):
            rows.append(run.run("near-lossless", rec, case, max_error=case.extra["max_error"]))
    show(
        "Lossy: WavPack hybrid and EphysLPC near-lossless (ADC steps)",
        rows,
        [
            ("dataset", "dataset"),
            ("case", "codec"),
            ("cr", "CR"),
            ("paper_cr", "paper CR"),
            ("rmse", "RMSE (ADC steps)"),
            ("max_abs_error", "max error"),
            ("rmse_uv", "RMSE uV"),
            ("paper_rmse_uv", "paper RMSE uV (band-passed)"),
            ("enc_xrt", "enc xRT"),
            ("dec_xrt", "dec xRT"),
        ],
    )
    rows = []
    for rec in recs if full else [r for r in recs if r.source == "simulated"]:
        for case in C.truncation_cases(run.threads):
            rows.append(run.run("bit truncation", rec, case, timed=run.args.full, bits=case.extra["bits"]))
    show(
        "Lossy: bit truncation (ADC steps)",
        rows,
        [
            ("dataset", "dataset"),
            ("case", "chain"),
            ("cr", "CR"),
            ("paper_cr", "paper CR (simulated GT)"),
            ("rmse", "RMSE (ADC steps)"),
            ("rmse_uv", "RMSE uV"),
        ],
    )


def hdf5_table(run, recs):
    """The same recordings written through h5py: gzip (NWB's default), hdf5plugin, ours."""
    from .hdf5_cases import hdf5_rows

    rows = hdf5_rows(
        recs, chunk_duration=run.args.chunk, repeats=run.args.repeats if run.args.full else 1, threads=run.threads
    )
    if not rows:
        print("\n(HDF5 table left out: h5py is not installed)")
        return
    for r in rows:
        r.update(table="hdf5", dataset=r.pop("recording"), chunk_s=run.args.chunk, peer_of="")
    run.rows.extend(rows)
    show(
        "HDF5 (h5py, one dataset, 1 chunk per chunk duration x all channels)",
        rows,
        [
            ("dataset", "dataset"),
            ("case", "filter"),
            ("cr", "CR"),
            ("write_mbs", "write MB/s"),
            ("read_mbs", "read MB/s"),
            ("exact", "bit-exact"),
        ],
    )


def interleaved_columns(codecs, rec, passes):
    """The codecs taking turns on 1 s of all the recording's channels (repeated or cut to
    1 s) in every pass: for each codec, the columns of its row (CR and the speeds of its best
    pass); and {codec: (encode times, decode times)} of every pass."""
    chunk = np.resize(rec.traces, (int(round(rec.fs)), rec.traces.shape[1]))
    mb, secs = chunk.nbytes / 1e6, len(chunk) / rec.fs
    encoded, times = interleaved_times(codecs, chunk, passes)
    columns = {}
    for k in codecs:
        enc_mbs, dec_mbs = mb / min(times[k][0]), mb / min(times[k][1])
        columns[k] = dict(
            chunk_s=secs,
            cr=chunk.nbytes / len(memoryview(encoded[k]).cast("B")),
            enc_mbs=enc_mbs,
            dec_mbs=dec_mbs,
            enc_xrt=enc_mbs / mb * secs,
            dec_xrt=dec_mbs / mb * secs,
            timed_passes=passes,
        )
    return columns, times


def versus_table(run, recs, passes):
    """WavPack and FLAC against the released peers on 1 s chunks of all channels: ours on
    all threads and on one, the peer, taking turns in every pass. Speeds are those of the
    best pass; the ratios over the peer are of the best passes, and the median over passes
    of the ratio within a pass. Ours on one thread shows the gain per core, which a busy
    neighbour on the shared machine does not change, unlike the gain on all threads."""
    rows = []
    for rec in recs:
        for family, level in (("flac", "medium"), ("wavpack", "medium")):
            peer = C.peer(family, level)
            if peer is None:
                continue
            name = f"{family}-{level}"
            codecs = {name: C.ours(family, level, run.threads)[0]}
            if run.threads > 1:
                codecs[f"{name} (1 thread)"] = C.ours(family, level, 1)[0]
            codecs[f"peer:{name}"] = peer[0]
            columns, times = interleaved_columns(codecs, rec, passes)
            for k in codecs:
                row = dict(
                    table="versus",
                    dataset=rec.name,
                    case=k,
                    family=family,
                    level=level,
                    **columns[k],
                    threads=run.threads if k == name else 1,
                    peer_of=name if k.startswith("peer:") else "",
                )
                if not k.startswith("peer:"):
                    for i, op in enumerate(("enc", "dec")):
                        row[f"{op}_x_peer"] = row[f"{op}_mbs"] / columns[f"peer:{name}"][f"{op}_mbs"]
                        row[f"{op}_x_peer_paired"] = float(
                            np.median([p / o for o, p in zip(times[k][i], times[f"peer:{name}"][i])])
                        )
                rows.append(row)
    run.rows.extend(rows)
    if rows:
        show(
            f"Against the released peers: 1 s chunks of all channels, best of {passes} interleaved passes "
            f"(ours on {run.threads} threads and on 1, the peers on 1)",
            rows,
            [("dataset", "dataset"), ("case", "codec"), ("threads", "threads"), ("cr", "CR")]
            + SPEED_COLS[:4]
            + [
                ("enc_x_peer", "enc x peer"),
                ("dec_x_peer", "dec x peer"),
                ("enc_x_peer_paired", "enc x peer (median pass)"),
                ("dec_x_peer_paired", "dec x peer (median pass)"),
            ],
        )


def lpc_ratio_table(run, recs):
    """EphysLPC's CR over the best of WavPack (levels 1-4), FLAC (0-8) and pcodec (8 and 12,
    channel-major) on the same chunk: each recording as one chunk (the real files are
    shorter than 1 s), Open Ephys behind the LSB filter. Untimed: CR only."""
    rows, ratios = [], []
    for rec in recs:
        lsb = tuple(run.lsb(rec))
        traces = rec.traces
        for f in lsb:
            traces = np.asarray(f.encode(traces))
        x = np.ascontiguousarray(traces)

        def cr(codec):
            return x.nbytes / len(memoryview(codec.encode(x)).cast("B"))

        peers = {f"wavpack-{v}": cr(WavPack(level=v, num_threads=run.threads)) for v in C.BEST_OF_LEVELS["wavpack"]}
        peers.update({f"flac-{v}": cr(FLAC(level=v, num_threads=run.threads)) for v in C.BEST_OF_LEVELS["flac"]})
        for v in C.BEST_OF_LEVELS["pcodec"]:
            made = C.pcodec(v, "F")
            if made:
                peers[f"pcodec-{v}-channel-major"] = cr(made[0])
        best = max(peers, key=peers.get)
        ours = {lv: cr(C.lpc(lv, run.threads)[0]) for lv in C.LEVELS}
        row = dict(
            table="lpc ratio",
            dataset=rec.name,
            case="lpc-medium",
            family="lpc",
            level="medium",
            chunk_s=rec.duration,
            lsb=bool(lsb),
            cr=ours["medium"],
            cr_low=ours["low"],
            cr_high=ours["high"],
            best_peer=best,
            best_peer_cr=peers[best],
            x_best=ours["medium"] / peers[best],
            x_best_high=ours["high"] / peers[best],
            threads=run.threads,
            peer_of="",
        )
        rows.append(row)
        if rec.source == "real":
            ratios.append((row["x_best"], row["x_best_high"]))
    run.rows.extend(rows)
    show(
        "EphysLPC against the best of WavPack 1-4, FLAC 0-8 and pcodec 8/12 (channel-major), one chunk per recording",
        rows,
        [
            ("dataset", "dataset"),
            ("lsb", "LSB"),
            ("best_peer", "best peer"),
            ("best_peer_cr", "its CR"),
            ("cr_low", "lpc level 1"),
            ("cr", "lpc level 2"),
            ("cr_high", "lpc level 3"),
            ("x_best", "level 2 / best"),
            ("x_best_high", "level 3 / best"),
        ],
        floatfmt=[".3g"] * 7 + [".4f"] * 2,  # ratios close to 1: 3 digits would print 1.0023 as 1
    )
    if ratios:
        gm = np.exp(np.mean(np.log(ratios), axis=0))
        print(f"\nGeometric mean over the real recordings of level 2 / best: {gm[0]:.4f}; level 3: {gm[1]:.4f}")


def lpc_speed_table(run, recs, passes):
    """EphysLPC against FLAC, WavPack and pcodec on 1 s chunks of all channels (a recording
    repeated or cut to 1 s): all in one run, taking turns in every pass; each on 1 thread
    and ours and the audio codecs also on all threads. Speeds of the best pass."""
    rows = []
    for rec in recs:
        codecs = {
            "lpc-2 (1 thread)": C.lpc("medium", 1)[0],
            "flac-5 (1 thread)": C.ours("flac", "medium", 1)[0],
            "wavpack-2 (1 thread)": C.ours("wavpack", "medium", 1)[0],
        }
        for order, label in (("F", "channel-major"), ("C", "time-major")):
            made = C.pcodec(8, order)
            if made:
                codecs[f"pcodec-8 {label}"] = made[0]
        if run.threads > 1:
            codecs.update(
                {
                    f"lpc-2 ({run.threads} threads)": C.lpc("medium", run.threads)[0],
                    f"flac-5 ({run.threads} threads)": C.ours("flac", "medium", run.threads)[0],
                    f"wavpack-2 ({run.threads} threads)": C.ours("wavpack", "medium", run.threads)[0],
                }
            )
        columns, _ = interleaved_columns(codecs, rec, passes)
        best = {k: (c["enc_mbs"], c["dec_mbs"]) for k, c in columns.items()}
        for k in codecs:
            row = dict(
                table="lpc speed",
                dataset=rec.name,
                case=k,
                family=k.split("-")[0],
                **columns[k],
                threads=run.threads if "threads)" in k else 1,
                peer_of="",
                enc_x_flac=best[k][0] / best["flac-5 (1 thread)"][0],
                dec_x_flac=best[k][1] / best["flac-5 (1 thread)"][1],
            )
            if "pcodec-8 channel-major" in best:
                row["enc_x_pcodec"] = best[k][0] / best["pcodec-8 channel-major"][0]
                row["dec_x_pcodec"] = best[k][1] / best["pcodec-8 channel-major"][1]
            one_thread = k.split(" (")[0] + " (1 thread)"
            if row["threads"] > 1 and one_thread in best:  # the scaling over the same codec's 1 thread
                row["enc_x_1thr"] = best[k][0] / best[one_thread][0]
                row["dec_x_1thr"] = best[k][1] / best[one_thread][1]
            rows.append(row)
    run.rows.extend(rows)
    if rows:
        show(
            f"EphysLPC against FLAC, WavPack and pcodec: 1 s chunks of all channels, best of {passes} "
            "interleaved passes",
            rows,
            [("dataset", "dataset"), ("case", "codec"), ("cr", "CR")]
            + SPEED_COLS[:2]
            + [
                ("enc_x_flac", "enc x FLAC-5 1 thr"),
                ("dec_x_flac", "dec x FLAC-5 1 thr"),
                ("enc_x_pcodec", "enc x pcodec-8"),
                ("dec_x_pcodec", "dec x pcodec-8"),
                ("enc_x_1thr", "enc x 1 thread"),
                ("dec_x_1thr", "dec x 1 thread"),
            ],
        )


def peer_table(rows):
    """Our CR and speed over the released peer's, for each case both ran on the same data."""
    index = {(r["dataset"], r["case"], r["table"], r["chunk_s"]): r for r in rows}
    out = []
    for r in rows:
        if r["peer_of"]:
            mine = index.get((r["dataset"], r["peer_of"], r["table"], r["chunk_s"]))
            if mine:
                out.append(
                    [
                        r["table"],
                        r["dataset"],
                        mine["case"],
                        r["case"],
                        mine["cr"] / r["cr"],
                        mine["enc_mbs"] / r["enc_mbs"],
                        mine["dec_mbs"] / r["dec_mbs"],
                    ]
                )
    if out:
        print("\n## Against the released peers, same run, same chunks (ours / peer)\n")
        print(
            tabulate(
                out,
                headers=["table", "dataset", "ours", "peer", "CR ratio", "encode speed ratio", "decode speed ratio"],
                floatfmt=".3f",
            )
        )


def write_outputs(rows, out):
    out.mkdir(parents=True, exist_ok=True)
    fields = sorted({k for r in rows for k in r}, key=lambda k: list(rows[0]).index(k) if k in rows[0] else 99)
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    lossless = [r for r in rows if r["table"] == "lossless"]
    if not lossless:
        print(f"\nwrote {out / 'results.csv'}")
        return
    from .figures import cr_vs_speed

    cr_vs_speed(lossless, out / "cr_vs_speed.png")
    print(f"\nwrote {out / 'results.csv'} and {out / 'cr_vs_speed.png'}")


def main(argv=None):
    from . import s3 as s3mod

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=1.0, help="seconds of each simulated probe (default 1)")
    ap.add_argument("--channels", type=int, default=384, help="channels of each simulated probe")
    ap.add_argument("--chunk", type=float, default=1.0, help="chunk duration in seconds (default 1)")
    ap.add_argument(
        "--repeats", type=int, default=2, help="timed passes per measurement (at most; 0: the warm-up pass only)"
    )
    ap.add_argument("--threads", type=int, default=None, help="threads for our codecs (default: all cores)")
    ap.add_argument(
        "--full",
        action="store_true",
        help="every level and shuffle, chunk durations 0.1, 1 and 10 s, every probe in every table, "
        "lzma at medium level, the peers at every bps",
    )
    ap.add_argument("--no-real", action="store_true", help="leave out ../shared/data/real")
    ap.add_argument(
        "--tables",
        default="versus,lpc,lossless,chunks,lsb,delta,preprocessing,filters,partial,lossy,hdf5",
        help="comma-separated subset of versus,lpc,lossless,chunks,lsb,delta,preprocessing,filters,partial,lossy,hdf5",
    )
    ap.add_argument("--passes", type=int, default=5, help="interleaved passes of the versus-peers table")
    s3mod.add_arguments(ap, 10.0)
    ap.add_argument("--s3-cache", default=None, help="local block cache (default ~/.cache/numcodecs-ephys/s3)")
    ap.add_argument("--out", default="results", help="folder for results.csv and cr_vs_speed.png")
    ap.add_argument(
        "--files",
        action="store_true",
        help="add the whole-file table (benchmarks/files.py: the command on a >= 2 GB tiled recording "
        "against the codecs in memory and mtscomp, peak memory at 1 and 4 GB; several minutes)",
    )
    ap.add_argument("--files-gb", type=float, default=2.0, help="size of the whole-file table's file in GB")
    args = ap.parse_args(argv)
    # wavpack-numcodecs warns on every instance that this libwavpack has no threads of its own
    warnings.filterwarnings("ignore", message="Multi-threading is supported")
    threads = args.threads or get_num_threads()
    tables = set(args.tables.split(","))
    if args.full:
        args.duration = max(args.duration, 10.0)
    print(f"# numcodecs-ephys benchmark\n\n{machine_description(threads)}")
    print(
        f"Chunks of {args.chunk} s; each figure is the median of up to {args.repeats} timed passes after a "
        f"warm-up pass; CR = raw bytes / stored bytes."
    )

    sims = [
        simulated_recording("np1", args.duration, args.channels, seed=1),
        simulated_recording("np2", args.duration, args.channels, seed=2),
    ]
    real = [] if args.no_real else real_recordings()
    s3 = []
    for name in args.s3:
        s3 += s3mod.load_sessions(
            name, args.sessions, args.s3_duration, endpoint_url=args.s3_endpoint, cache_dir=args.s3_cache or s3mod.CACHE
        )
    run = Runner(args, threads)
    ap_recs = sims + [r for r in real if r.fs == 30000] + s3
    steps = {
        "versus": lambda: versus_table(
            run, sims[:1] + [r for r in real + s3 if r.fs == 30000 and r.traces.shape[1] == 384], args.passes
        ),
        "lpc": lambda: (
            lpc_ratio_table(run, real + sims + s3),
            lpc_speed_table(
                run,
                sims[:1]
                + [
                    r
                    for r in real + s3
                    if r.fs == 30000 and r.traces.shape[1] == 384 and (args.full or "ultra" in r.name)
                ],
                args.passes,
            ),
        ),
        "lossless": lambda: lossless_table(run, sims + real + s3, args.full),
        "chunks": lambda: chunk_duration_table(run, (sims if args.full else sims[:1]) + s3, args.full),
        "lsb": lambda: lsb_table(run, (sims if args.full else sims[:1]) + real + s3),
        "delta": lambda: delta_table(run, sims + s3, args.full),
        "preprocessing": lambda: preprocessing_table(run, sims + real + s3, show, args.full),
        "filters": lambda: filter_speed_table(run, sims[0]),
        "partial": lambda: partial_decode_table(
            run, sims[:1] + [r for r in real if r.fs == 30000 and r.traces.shape[1] == 384][:1]
        ),
        "lossy": lambda: lossy_tables(
            run, [r for r in ap_recs if "noise" not in r.name and "yass" not in r.name], args.full
        ),
        "hdf5": lambda: hdf5_table(run, sims[:1] + [r for r in real if "ultra" in r.name]),
        "files": lambda: files_table(args.files_gb),
    }
    if args.files:
        tables.add("files")
    for name, step in steps.items():
        if name in tables:
            start = time.perf_counter()
            step()
            print(f"\n({name}: {time.perf_counter() - start:.0f} s)")
    peer_table(run.rows)
    if run.rows:
        write_outputs(run.rows, Path(args.out))


if __name__ == "__main__":
    main()
