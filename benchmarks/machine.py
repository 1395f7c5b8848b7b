"""What a benchmark ran on: the machine, the software, and the commit of this checkout."""

import os
import platform
import subprocess
from pathlib import Path

import numcodecs
import numpy as np
import psutil

import numcodecs_ephys
from numcodecs_ephys import flac, wavpack

ROOT = Path(__file__).resolve().parents[1]


def cpu_model():
    try:
        return next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def machine_description():
    """CPU model and cores, OS, and the versions of the libraries that set the figures."""
    return (
        f"{cpu_model()}, {os.cpu_count()} cores ({len(psutil.Process().cpu_affinity())} usable), {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}, numpy {np.__version__}, numcodecs "
        f"{numcodecs.__version__}, numcodecs-ephys {numcodecs_ephys.__version__}, libwavpack "
        f"{wavpack.library_version()}, libFLAC {flac.library_version()}"
    )


def git_commit(exclude=()):
    """The checkout's commit ("unknown" outside git), marked when tracked files differ from it;
    `exclude`: paths whose changes do not count (the files a run writes)."""

    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()

    # (a path outside the checkout cannot change it, and git refuses it in a pathspec)
    excluded = [f":(exclude){Path(p).resolve()}" for p in exclude if Path(p).resolve().is_relative_to(ROOT)]
    try:
        commit = git("rev-parse", "--short=12", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", *excluded)
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{commit} with uncommitted changes" if changed else commit
