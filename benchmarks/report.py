"""`make bench`: prints the benchmark tables and writes CSV files and a CR-vs-speed plot.

    python -m benchmarks.report [--duration 2] [--repeats 3] [--threads N] [--out results]

Datasets: simulated NP1-like and NP2-like probes (built in, from a seed) and the real
recordings in ../shared/data/real when that folder exists. Speeds are medians of several
timed passes after a warm-up pass, on the thread count printed in the header; peers run
in the same process, on the same chunks, in the same run.
"""
import argparse
import csv
import os
import platform
from pathlib import Path

import numcodecs
import numpy as np
from tabulate import tabulate

import numcodecs_ephys
from numcodecs_ephys._blocks import default_num_threads, ffi, lib

from . import cases as case_lists
from .datasets import real_recordings, simulated_recording
from .measure import measure


def machine_description(threads):
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    wv = ffi.string(lib.ephys_wavpack_library_version()).decode()
    return (f"{platform.node()}: {cpu}, {os.cpu_count()} cores ({default_num_threads()} usable), "
            f"Python {platform.python_version()}, numpy {np.__version__}, numcodecs {numcodecs.__version__}, "
            f"numcodecs-ephys {numcodecs_ephys.__version__}, libwavpack {wv}; our codecs on {threads} thread(s), "
            f"peers single-threaded as released")


def probe_of(recording):
    name = recording.name
    return "np2" if "np2" in name else "np1" if ("np1" in name or "ultra" in name) else None


def run_table(title, recordings, cases, args, rows_out):
    rows = []
    for rec in recordings:
        probe = probe_of(rec)
        for case in cases:
            made = case.make()
            if made is None:
                continue
            codec, filters = made
            m = measure(codec, rec, chunk_duration=args.chunk, repeats=args.repeats, filters=filters)
            row = dict(table=title, dataset=rec.name, codec=case.name, level=case.level, bps=case.bps or "",
                       cr=m["cr"], paper_cr=case.paper.get(probe, "") if probe else "",
                       enc_mbs=m["enc_mbs"], dec_mbs=m["dec_mbs"], enc_xrt=m["enc_xrt"], dec_xrt=m["dec_xrt"],
                       rmse_lsb=m["rmse"], exact=m["exact"])
            rows.append(row)
            rows_out.append(row)
    print(f"\n## {title}\n")
    headers = ["dataset", "codec", "CR", "paper CR", "enc MB/s", "dec MB/s", "enc xRT", "dec xRT", "RMSE (LSB)"]
    print(tabulate([[r["dataset"], r["codec"], r["cr"], r["paper_cr"], r["enc_mbs"], r["dec_mbs"], r["enc_xrt"],
                     r["dec_xrt"], r["rmse_lsb"]] for r in rows], headers=headers, floatfmt=".3g"))
    return rows


def peer_ratios(rows):
    """Our speed and CR over the peer's, for each case both ran on the same data."""
    by_key = {(r["dataset"], r["codec"]): r for r in rows}
    out = []
    for (dataset, name), r in by_key.items():
        peer = by_key.get((dataset, "peer:wavpack-numcodecs-" + name.split("wavpack-", 1)[-1]))
        if name.startswith("wavpack-") and peer:
            out.append([dataset, name, r["cr"] / peer["cr"], r["enc_mbs"] / peer["enc_mbs"],
                        r["dec_mbs"] / peer["dec_mbs"]])
    if out:
        print("\n## numcodecs-ephys / wavpack-numcodecs 0.1.5, same run\n")
        print(tabulate(out, headers=["dataset", "case", "CR ratio", "encode speed ratio", "decode speed ratio"],
                       floatfmt=".3f"))


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    for ax, key, label in [(axes[0], "enc_xrt", "compression speed (x real time)"),
                           (axes[1], "dec_xrt", "decompression speed (x real time)")]:
        for codec in sorted({r["codec"] for r in rows}):
            pts = [(r[key], r["cr"]) for r in rows if r["codec"] == codec]
            ax.scatter(*zip(*pts), label=codec, s=18)
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("compression ratio")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=2.0, help="seconds of each simulated recording")
    ap.add_argument("--chunk", type=float, default=1.0, help="chunk duration in seconds")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="threads for our codecs (default: all cores)")
    ap.add_argument("--no-real", action="store_true", help="skip ../shared/data/real")
    ap.add_argument("--out", default="results")
    args = ap.parse_args(argv)
    threads = args.threads or default_num_threads()
    print(f"# numcodecs-ephys benchmark\n\n{machine_description(threads)}")
    print(f"chunks of {args.chunk} s, median of {args.repeats} timed passes after one warm-up pass")

    recordings = [simulated_recording("np1", args.duration, seed=1), simulated_recording("np2", args.duration, seed=2)]
    if not args.no_real:
        recordings += [r for r in real_recordings() if "openephys" not in r.name]
    rows = []
    lossless = run_table("Lossless", recordings, case_lists.lossless_cases(threads), args, rows)
    peer_ratios(lossless)
    np_recs = [r for r in recordings if r.traces.shape[1] >= 384 and "noise" not in r.name]
    hybrid = run_table("Lossy: WavPack hybrid", np_recs, case_lists.hybrid_cases(threads), args, rows)
    peer_ratios(hybrid)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plot([r for r in rows if r["table"] == "Lossless"], out / "cr_vs_speed.png")
    print(f"\nwrote {out / 'results.csv'} and {out / 'cr_vs_speed.png'}")


if __name__ == "__main__":
    main()
