"""Many recordings as one job: inputs named one by one, by glob patterns (local or in a
bucket) or in a manifest file; each one compressed in turn (on a dask cluster, each one's
chunks spread over the workers), a failing one recorded and the others carried on; a
summary table at the end."""

import glob
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .locations import is_url, location

GLOB_CHARS = "*?["


def read_manifest(path_or_url):
    """The inputs listed in a manifest file: one path or URL per line; blank lines and lines
    starting with # are skipped."""
    text = location(path_or_url).read_text()
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def expand(inputs):
    """Inputs with glob patterns expanded (sorted), each a local path or a URL; a pattern
    that matches nothing raises, so that a typo is not a job that did nothing."""
    out = []
    for item in inputs:
        item = str(item)
        if not any(c in item for c in GLOB_CHARS):
            out.append(item)
            continue
        if is_url(item):
            from fsspec.core import url_to_fs

            fs, pattern = url_to_fs(item)
            matches = [fs.unstrip_protocol(p) for p in sorted(fs.glob(pattern))]
        else:
            matches = sorted(glob.glob(item))
        if not matches:
            raise ValueError(f"{item} matches no file")
        out.extend(matches)
    seen = set()
    return [x for x in out if not (x in seen or seen.add(x))]


def output_in(folder, input_path, suffix=".zarr"):
    """Where the store of input_path goes in folder (a local folder or a URL prefix)."""
    name = location(input_path).name
    stem = name.rsplit(".", 1)[0] if "." in name else name
    if is_url(folder):
        return folder.rstrip("/") + "/" + stem + suffix
    return str(Path(folder) / (stem + suffix))


@dataclass
class Result:
    """One input's outcome: 'ok' or 'failed' with the error's message."""

    input: str
    output: Optional[str] = None
    status: str = "ok"
    message: str = ""
    source_bytes: int = 0
    stored_bytes: int = 0
    seconds: float = 0.0

    @property
    def ratio(self):
        return self.source_bytes / self.stored_bytes if self.stored_bytes else float("nan")

    @property
    def mb_per_s(self):
        return self.source_bytes / self.seconds / 1e6 if self.seconds else float("nan")


def run(inputs, compress_one):
    """Call compress_one(input) -> (output, source bytes, stored bytes) for each input; an
    input that fails (ValueError, OSError, ImportError) is recorded and the next one runs.
    An interruption stops the job."""
    results = []
    for item in inputs:
        start = time.perf_counter()
        try:
            output, source_bytes, stored_bytes = compress_one(item)
            results.append(Result(item, str(output), "ok", "", source_bytes, stored_bytes))
        except (ValueError, OSError, ImportError) as e:
            results.append(Result(item, status="failed", message=str(e) or type(e).__name__))
        results[-1].seconds = time.perf_counter() - start
    return results


def summary(results):
    """The table printed at the end of a job: file, CR, MB/s, status."""
    rows = [("file", "CR", "MB/s", "status")]
    for r in results:
        ok = r.status == "ok"
        rows.append(
            (
                r.input,
                f"{r.ratio:.3f}" if ok else "-",
                f"{r.mb_per_s:.1f}" if ok else "-",
                "ok" if ok else f"FAILED: {r.message.splitlines()[0] if r.message else ''}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"{a:{widths[0]}s}  {b:>{widths[1]}s}  {c:>{widths[2]}s}  {d}" for a, b, c, d in rows]
    failed = sum(r.status != "ok" for r in results)
    lines.append(
        f"{len(results) - failed} of {len(results)} recordings compressed" + (f", {failed} FAILED" if failed else "")
    )
    return "\n".join(lines)
