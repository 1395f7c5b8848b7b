"""Lossy compression against spike sorting: the paper's ground-truth and experimental benchmarks.

    python -m benchmarks.lossy                       # NP1-like and NP2-like ground truth, default sizes
    python -m benchmarks.lossy --full                # the whole 384-channel probe, 10 minutes, 100 units
    python -m benchmarks.lossy --s3 aind-np1 --sessions 1 --s3-duration 60   # experimental data
    python -m benchmarks.lossy --markdown docs/generated/lossy.md             # also the tables as markdown
    python -m benchmarks.lossy --probes np1 --duration 5 --settings lpc-max_error-2   # a quick look

Every setting (lossless WavPack, WavPack hybrid, bit truncation, EphysLPC's max_error) is
sorted with the same sorter; the lossless recording with each of the sorter's seeds, and the
answer printed last is the largest max_error, and the lowest hybrid bps, whose accuracy stays
within that run-to-run spread of lossless. The recordings are described in ground_truth.py,
the settings in cases.sorting_settings, the sort and its scores in sorting.py and
sorting_tables.py.

Outputs: lossy_gt.csv / lossy_exp.csv and accuracy_vs_cr.png / feature_error_vs_cr.png in --out.
"""

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

from . import figures, s3
from .cases import sorting_settings
from .ground_truth import SIZES, s3_recordings
from .machine import git_commit, machine_description
from .output import Tables, write_csv
from .sorting import SORTER_PARAMS, SORTER_SEEDS, sorter_version
from .sorting_tables import (
    ANSWER_COLUMNS,
    EXP_COLUMNS,
    GT_COLUMNS,
    experimental_benchmark,
    ground_truth_benchmark,
    near_lossless_answer,
    shape_note,
)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help=f"sizes {SIZES['full']} instead of {SIZES['default']}")
    ap.add_argument("--channels", type=int, help="channels of each simulated probe")
    ap.add_argument("--duration", type=float, help="seconds of each simulated probe")
    ap.add_argument("--units", type=int, help="true units of each simulated probe")
    ap.add_argument("--probes", default="np1,np2", help="simulated probes (np1,np2); empty: none")
    ap.add_argument("--n-jobs", type=int, default=1, help="processes of the sorter (default 1)")
    ap.add_argument(
        "--settings",
        help="comma-separated subset of the settings (default all: "
        + ", ".join(s.name for s in sorting_settings())
        + "); lossless is always included, first",
    )
    s3.add_arguments(ap, 60.0, ("aind-np1", "aind-np2", "ibl-np1"))  # experimental sessions
    ap.add_argument("--out", default="results", help="folder for the CSV files and plots")
    ap.add_argument("--markdown", metavar="PATH", help="also write the tables as markdown (machine and commit on top)")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    size = dict(SIZES["full" if args.full else "default"])
    size.update({k: getattr(args, k) for k in size if getattr(args, k) is not None})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    setup = (
        f"Sorter: {sorter_version()}, {args.n_jobs} job(s), parameters {SORTER_PARAMS}. Simulated probes: "
        f"{size['channels']} channels x {size['duration']:.0f} s, {size['units']} units each, 1 s chunks of all "
        "channels."
    )
    print(f"# Lossy compression and spike sorting\n\n{setup}\n", flush=True)
    settings = sorting_settings()
    if args.settings:
        wanted = {"lossless", *args.settings.split(",")}
        unknown = wanted - {s.name for s in settings}
        if unknown:
            ap.error(f"unknown settings: {', '.join(sorted(unknown))}")
        settings = [s for s in settings if s.name in wanted]
    tables = Tables()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lossy-") as work:
        kinds = [k for k in args.probes.split(",") if k]
        if kinds:
            rows = ground_truth_benchmark(
                kinds,
                size["channels"],
                size["duration"],
                size["units"],
                work,
                args.n_jobs,
                settings,
                log=lambda m: print(m, flush=True),
            )
            tables.show(
                "Ground truth: sorting accuracy and template feature errors (median over units, against the "
                "lossless recording) per setting",
                rows,
                GT_COLUMNS,
            )
            for r in rows:
                if r["sorter_error"]:
                    tables.note(f"{r['probe']} {r['setting']}: the sorter found no unit ({r['sorter_error']})")
            write_csv(rows, out / "lossy_gt.csv")
            figures.accuracy_vs_cr(rows, out / "accuracy_vs_cr.png")
            figures.feature_error_vs_cr(rows, out / "feature_error_vs_cr.png")
            tables.note("\n" + shape_note(rows))
            answer, sentences = near_lossless_answer(rows)
            tables.show(
                "The answer: the largest EphysLPC max_error and the lowest WavPack hybrid bps whose accuracy, "
                "and every milder setting's, is at least lossless minus the sorter's run-to-run spread "
                f"(highest - lowest lossless accuracy over seeds {', '.join(map(str, SORTER_SEEDS))})",
                answer,
                ANSWER_COLUMNS,
            )
            tables.note("\n" + "\n".join(sentences))
        if args.s3:
            recs = s3_recordings(args.s3, args.sessions, args.s3_duration, args.s3_endpoint, args.s3_cache)
            rows = experimental_benchmark(recs, work, args.n_jobs, settings, log=lambda m: print(m, flush=True))
            tables.show(
                "Experimental data: agreement with the lossless sort and units passing "
                "ISI violation ratio < 0.5, presence ratio > 0.9, amplitude cutoff < 0.1",
                rows,
                EXP_COLUMNS,
            )
            write_csv(rows, out / "lossy_exp.csv")
    # the CPU time beside the wall time: on a shared machine the wall time also counts the others' work
    cpu = sum(os.times()[:4])  # this process and its finished children (the sorter's workers)
    tables.note(f"\n(lossy: {time.perf_counter() - start:.0f} s wall time, {cpu:.0f} s CPU time)")
    print(f"wrote {out}/lossy_*.csv and plots")
    if args.markdown:
        tables.write_markdown(
            args.markdown,
            "Lossy compression and spike sorting",
            f"Generated by `python -m benchmarks.lossy {' '.join(sys.argv[1:] if argv is None else argv)}` on "
            f"{machine_description()}, at commit {git_commit(exclude=(args.markdown,))}. {setup}",
        )
        print(f"wrote {args.markdown}")


if __name__ == "__main__":
    main()
