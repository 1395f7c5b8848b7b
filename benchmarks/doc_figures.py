"""Regenerates the docs' figures (`make figures`): `cr-speed` runs the lossless table on the
simulated NP1 probe, `lossy` the default ground-truth lossy run (whose CSV is kept beside).

    python -m benchmarks.doc_figures cr-speed --out docs/figures
    python -m benchmarks.doc_figures lossy --out docs/figures      # (in the environment with SpikeInterface)
"""

import argparse
import csv
import shutil
import tempfile
from pathlib import Path

from . import lossy, report
from .figures import cr_vs_speed


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("which", choices=("cr-speed", "lossy"))
    ap.add_argument("--out", default="docs/figures")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        if args.which == "cr-speed":
            report.main(["--tables", "lossless", "--no-real", "--out", tmp])
            rows = [
                r
                for r in csv.DictReader(open(Path(tmp) / "results.csv"))
                if r["table"] == "lossless" and r["dataset"] == "sim-np1"
            ]
            cr_vs_speed(rows, out / "cr_vs_speed.png")
        else:
            lossy.main(["--out", tmp])
            for name in ("accuracy_vs_cr.png", "feature_error_vs_cr.png", "lossy_gt.csv"):
                shutil.copy(Path(tmp) / name, out / name)


if __name__ == "__main__":
    main()
