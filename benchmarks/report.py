"""`make bench`: prints the paper's tables for our codecs and writes CSV files and plots.

    python -m benchmarks.report                      # embedded simulated probes + real files
    python -m benchmarks.report --full               # + every shuffle, chunk durations 0.1/1/10 s
    python -m benchmarks.report --s3 aind-np1 --sessions 1 --s3-duration 10   # the paper's data
    python -m benchmarks.report --markdown docs/generated/benchmarks.md       # also the tables as markdown

Datasets: simulated NP1-like and NP2-like probes (built in, from a seed), the real
recordings in ../shared/data/real when present, and optionally the paper's S3 sessions.
The first table sets WavPack and FLAC against the released peers, the codecs taking turns
in each pass (best pass shown); the other tables' speeds are medians of timed passes after
a warm-up pass, on the thread count printed in the header; the released peers run in the
same process on the same chunks. Each table's run time is printed after it.
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

from numcodecs_ephys import get_num_threads

from . import s3
from .datasets import real_recordings, simulated_recording
from .figures import cr_vs_speed
from .files import files_table
from .floats import float_table
from .machine import git_commit, machine_description
from .output import write_csv
from .peer_tables import lpc_ratio_table, lpc_speed_table, peer_table, versus_table
from .preprocessing import preprocessing_table
from .shape_tables import SHAPE_SAMPLES, shape_table
from .tables import (
    Runner,
    chunk_duration_table,
    delta_table,
    filter_speed_table,
    hdf5_table,
    lossless_table,
    lossy_tables,
    lsb_table,
    partial_decode_table,
)
from .wideband import wideband_recordings
from .wideband_tables import wideband_ratio_table


def write_outputs(rows, out):
    """results.csv, and the lossless rows' CR against speed when there are any."""
    out.mkdir(parents=True, exist_ok=True)
    write_csv(rows, out / "results.csv")
    lossless = [r for r in rows if r["table"] == "lossless"]
    if lossless:
        cr_vs_speed(lossless, out / "cr_vs_speed.png")
        print(f"\nwrote {out / 'results.csv'} and {out / 'cr_vs_speed.png'}")
    else:
        print(f"\nwrote {out / 'results.csv'}")


def main(argv=None):
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
    all_tables = "versus,lpc,wideband,floats,shapes,lossless,chunks,lsb,delta,preprocessing,filters,partial,lossy,hdf5"
    ap.add_argument("--tables", default=all_tables, help=f"comma-separated subset of {all_tables} (default: all)")
    ap.add_argument("--passes", type=int, default=5, help="interleaved passes of the versus-peers table")
    ap.add_argument(
        "--shape-samples",
        default=",".join(map(str, SHAPE_SAMPLES)),
        help="comma-separated chunk lengths (samples) of the shape table",
    )
    s3.add_arguments(ap, 10.0)
    ap.add_argument("--out", default="results", help="folder for results.csv and cr_vs_speed.png")
    ap.add_argument("--markdown", metavar="PATH", help="also write the tables as markdown (machine and commit on top)")
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
    setup = (
        f"Our codecs on {threads} thread(s); numcodecs' codecs and the peers with their own defaults "
        f"(wavpack-/flac-numcodecs single-threaded, mtscomp on all cores). Chunks of {args.chunk} s; each figure "
        f"is the median of up to {args.repeats} timed passes after a warm-up pass; CR = raw bytes / stored bytes."
    )
    print(f"# numcodecs-ephys benchmark\n\n{machine_description()}.\n{setup}")

    sims = [
        simulated_recording("np1", args.duration, args.channels, seed=1),
        simulated_recording("np2", args.duration, args.channels, seed=2),
    ]
    real = [] if args.no_real else real_recordings()
    s3_recs = []
    for name in args.s3:
        s3_recs += s3.load_sessions(
            name, args.sessions, args.s3_duration, endpoint_url=args.s3_endpoint, cache_dir=args.s3_cache or s3.CACHE
        )
    run = Runner(args, threads)
    ap_recs = sims + [r for r in real if r.fs == 30000] + s3_recs
    steps = {
        "versus": lambda: versus_table(
            run, sims[:1] + [r for r in real + s3_recs if r.fs == 30000 and r.traces.shape[1] == 384], args.passes
        ),
        "lpc": lambda: (
            lpc_ratio_table(run, real + sims + s3_recs),
            lpc_speed_table(
                run,
                sims[:1]
                + [
                    r
                    for r in real + s3_recs
                    if r.fs == 30000 and r.traces.shape[1] == 384 and (args.full or "ultra" in r.name)
                ],
                args.passes,
            ),
        ),
        # simulated wideband recordings (of --duration seconds) and the Open Ephys LFP file as stored
        "wideband": lambda: wideband_ratio_table(run, wideband_recordings(args.duration, real=not args.no_real)),
        # the NP Ultra file and the yass 10-channel file tiled to every shape (a simulated probe without them)
        "floats": lambda: float_table(run, args.passes),  # floats.py: float32 chunks, lossless and bounded
        "shapes": lambda: shape_table(
            run,
            [r for r in real if r.name in ("real-np-ultra", "real-yass-10ch")] or sims[:1],
            args.passes,
            [int(n) for n in args.shape_samples.split(",")],
        ),
        "lossless": lambda: lossless_table(run, sims + real + s3_recs, args.full),
        "chunks": lambda: chunk_duration_table(run, (sims if args.full else sims[:1]) + s3_recs, args.full),
        "lsb": lambda: lsb_table(run, (sims if args.full else sims[:1]) + real + s3_recs),
        "delta": lambda: delta_table(run, sims + s3_recs, args.full),
        "preprocessing": lambda: preprocessing_table(run, sims + real + s3_recs, args.full),
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
            run.tables.note(f"\n({name}: {time.perf_counter() - start:.0f} s)")
    peer_table(run)
    if run.rows:
        write_outputs(run.rows, Path(args.out))
    if args.markdown:
        run.tables.write_markdown(
            args.markdown,
            "numcodecs-ephys benchmark",
            f"Generated by `python -m benchmarks.report {' '.join(sys.argv[1:] if argv is None else argv)}` on "
            f"{machine_description()}, at commit {git_commit(exclude=(args.markdown,))}. {setup}",
        )
        print(f"wrote {args.markdown}")


if __name__ == "__main__":
    main()
