"""--resume: a run killed halfway (a real process and a real signal), or interrupted in a
bucket, continues; the chunks already written are checked and kept, the missing ones
written, and the store is byte for byte the one an uninterrupted run writes."""

import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from test_object_stores import keys_written, objects

from numcodecs_ephys.recordings import cli, stores
from numcodecs_ephys.recordings.storage import RUN_KEY

RATE = 30000.0
CHANNELS = 32
OPTIONS = ["-n", str(CHANNELS), "-s", str(RATE), "-d", "int16", "--codec", "flac", "--level", "8", "-q"]


def noisy_recording(path, seconds):
    """White noise: FLAC's slowest case, so that a run lasts long enough to be killed halfway."""
    rng = np.random.default_rng(7)
    rng.normal(0, 300, (int(seconds * RATE), CHANNELS)).astype("int16").tofile(path)
    return path


def chunk_files(folder):
    return sorted(p for p in (folder / stores.TRACES).glob("*") if p.name[0].isdigit())


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_halfway_then_resumed(tmp_path, sig):
    path = noisy_recording(tmp_path / "rec.bin", 12)
    chunking = ["--chunk-duration", "0.1", "--threads", "1"]  # 120 chunks, one after the other
    reference = tmp_path / "reference.zarr"
    assert cli.main(["compress", str(path), "-o", str(reference), *OPTIONS, *chunking]) == 0
    store = tmp_path / "rec.zarr"
    cmd = [sys.executable, "-m", "numcodecs_ephys", "compress", str(path), "-o", str(store), *OPTIONS, *chunking]
    # Ctrl-C's default disposition, whatever this run inherited (see test_cli.test_interrupted_run)
    proc = subprocess.Popen(
        cmd, stderr=subprocess.PIPE, text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)
    )
    deadline = time.time() + 60
    while time.time() < deadline and not list(tmp_path.glob(f".rec.zarr.*.partial/{stores.TRACES}/30.0")):
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.01)
    proc.send_signal(sig)
    assert proc.wait(timeout=60) in (-signal.SIGKILL, cli.EXIT_INTERRUPTED)
    assert not store.exists()
    (partial,) = tmp_path.glob(".rec.zarr.*.partial")
    before = {p.name: p.stat().st_mtime_ns for p in chunk_files(partial)}
    assert 30 < len(before) < 120  # halfway
    # a resumed run with other options is refused; with the same ones, it continues
    assert cli.main(["compress", str(path), "-o", str(store), *OPTIONS, "--chunk-duration", "0.2", "--resume"]) == 1
    assert cli.main(["compress", str(path), "-o", str(store), *OPTIONS, *chunking, "--resume"]) == 0
    assert objects(None, store) == objects(None, reference)  # byte for byte, metadata and manifest included
    kept = [n for n, t in before.items() if (store / stores.TRACES / n).stat().st_mtime_ns == t]
    assert len(kept) >= len(before) - 1  # only a chunk cut short by the kill is written again
    assert not list(tmp_path.glob(".rec.zarr.*"))


def test_resume_in_a_bucket(s3, tmp_path, monkeypatch):
    path = noisy_recording(tmp_path / "rec.bin", 0.5)
    kw = dict(n_channels=CHANNELS, sample_rate=RATE, dtype="int16", codec="flac", chunk_duration=0.02)
    reference = stores.compress_file(path, "s3://lab/reference.zarr", **kw)
    real_store_parts = stores._store_parts

    def interrupted(plan, i, n_rows, parts):
        if i == 12:
            raise KeyboardInterrupt
        return real_store_parts(plan, i, n_rows, parts)

    with monkeypatch.context() as m, pytest.raises(KeyboardInterrupt):
        m.setattr(stores, "_store_parts", interrupted)
        stores.compress_file(path, "s3://lab/rec.zarr", **kw)
    left = objects(s3, "s3://lab/rec.zarr")
    kept = len([k for k in left if k.startswith(stores.TRACES)])
    assert RUN_KEY in left and 12 <= kept <= 12 + stores.REMOTE_DEPTH  # 0-11, and the next ones begun
    with keys_written(monkeypatch) as written:
        assert stores.compress_file(path, "s3://lab/rec.zarr", resume=True, **kw) == "s3://lab/rec.zarr"
    assert len([k for k in written if k.startswith(f"{stores.TRACES}/") and ".z" not in k]) == 25 - kept
    assert objects(s3, "s3://lab/rec.zarr") == objects(s3, reference)
    with pytest.raises(FileExistsError):  # complete now: --resume has nothing to continue
        stores.compress_file(path, "s3://lab/rec.zarr", resume=True, **kw)
