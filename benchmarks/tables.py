"""The codec tables of the paper, measured on our codecs, numcodecs' and the peers': lossless
CR and speed, chunk duration, LSB correction, delta filters, lossy modes, HDF5, and the
speed of the filters and of channel-subset decoding. Each table function measures its
cases on the given recordings, adds its rows to the run and shows the table.
"""

import numpy as np

from numcodecs_ephys import FLAC, LSB, BitTruncation, Delta2D, WavPack

from . import cases as C
from .datasets import on_adc_grid, probe_of
from .hdf5_cases import hdf5_rows
from .measure import measure, median_time
from .output import Tables


class Runner:
    """One run of the codec tables: its options (chunk duration, timed passes), our codecs'
    thread count, the rows measured so far and the tables shown."""

    def __init__(self, args, threads, tables=None):
        self.args, self.threads, self.rows = args, threads, []
        self.tables = tables or Tables()
        self._lsb = {}

    def lsb(self, rec):
        if rec.name not in self._lsb:
            self._lsb[rec.name] = C.lsb_filters(rec, self.threads)
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
        run.tables.show(
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
    run.tables.show(
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
        lossy = (C.LossyLSB(np.median(rec.traces, axis=0), np.median(lsb[0].steps)),)  # the grid estimated once
        for case in C.lossless_cases(run.threads, levels=("medium",)):
            if case.family in ("wavpack", "flac", "lpc", "blosc-zstd") and not case.peer:
                for label, pre in (("none", ()), ("ours (lossless)", lsb), ("spikeinterface (lossy)", lossy)):
                    r = run.run("lsb", rec, case, pre, lsb_mode=label)
                    r["lsb"] = label
                    rows.append(r)
    run.tables.show(
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
    run.tables.show(
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
    run.tables.show(
        f"Filter speed, {rec.name} {x.shape} int16 (GB/s of raw data, median of 5 after a warm-up)",
        rows,
        [("case", "filter"), ("threads", "threads"), ("enc_gbs", "encode GB/s"), ("dec_gbs", "decode GB/s")],
    )


def partial_decode_table(run, recs, passes=3):
    """Reading 4 of 384 channels of a 1 s chunk (decode_channels: only the channel block that
    holds them) against decoding the whole chunk, with the default block_channels."""
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
    run.tables.show(
        f"Channel-subset decoding: 4 of 384 channels of a 1 s chunk (best of {passes} interleaved passes)",
        rows,
        [("dataset", "recording"), ("case", "codec"), ("threads", "threads"), ("block_channels", "block_channels")]
        + [
            ("full_decode_ms", "full decode ms"),
            ("channels_decode_ms", "4 channels ms"),
            ("partial_speedup", "speed-up"),
        ],
    )


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
    run.tables.show(
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
    run.tables.show(
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
    rows = hdf5_rows(
        recs, chunk_duration=run.args.chunk, repeats=run.args.repeats if run.args.full else 1, threads=run.threads
    )
    if not rows:
        run.tables.note("\n(HDF5 table left out: h5py is not installed)")
        return
    for r in rows:
        r.update(table="hdf5", dataset=r.pop("recording"), chunk_s=run.args.chunk, peer_of="")
    run.rows.extend(rows)
    run.tables.show(
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
