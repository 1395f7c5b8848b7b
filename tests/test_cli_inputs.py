"""The command line with inputs a new user gives: a directory instead of a data file, a raw
file's gains (--gain-to-uv), a log file instead of a terminal for the progress bars, a lossy
store verified against its source, and stores whose zarr metadata were edited."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from numcodecs_ephys import compress_file, open_recording
from numcodecs_ephys.recordings import cli
from numcodecs_ephys.recordings.sources import RecordingError, open_source
from numcodecs_ephys.recordings.stores import StoreError, verify_store

from conftest import require, simulated


@pytest.fixture(autouse=True)
def _zarr():
    require("zarr")


def _raw_file(tmp_path, n_channels=4):
    x = simulated(3000, n_channels)
    path = tmp_path / "rec.raw"
    x.tofile(path)
    return path, x


def test_directory_input_says_so(tmp_path, capsys):
    run = tmp_path / "run_g0" / "run_g0_imec0"
    run.mkdir(parents=True)
    (run / "run_g0_t0.imec0.ap.bin").write_bytes(b"\0" * 8)
    assert cli.main(["compress", str(tmp_path / "run_g0")]) == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert "run_g0 is a directory" in err and "no such file" not in err, err
    assert "a SpikeGLX .bin" in err and str(run / "run_g0_t0.imec0.ap.bin") in err, err
    with pytest.raises(RecordingError, match="is a directory; give a recording's data file"):
        open_source(tmp_path)  # nothing found in it: no list
    with pytest.raises(RecordingError, match="no such file"):
        open_source(tmp_path / "missing.bin")


def test_raw_gains(tmp_path):
    path, x = _raw_file(tmp_path)
    out = tmp_path / "one.zarr"
    args = ["compress", path, "-o", out, "-n", 4, "-s", 30000, "-d", "int16", "--gain-to-uv", "0.195", "-q"]
    assert cli.main([str(a) for a in args]) == 0
    rec = open_recording(out)
    assert rec.gains_to_uv == [0.195] * 4 and np.array_equal(rec[:], x)
    import zarr

    root = zarr.open_group(str(out), mode="r")
    assert np.array_equal(root["properties"]["gain_to_uV"][:], [0.195] * 4)
    assert np.array_equal(root["properties"]["offset_to_uV"][:], [0.0] * 4)
    out = compress_file(
        path, tmp_path / "per_channel.zarr", n_channels=4, sample_rate=30000, dtype="int16", gain_to_uv=[1, 2, 3, 4.5]
    )
    assert open_recording(out).gains_to_uv == [1.0, 2.0, 3.0, 4.5]
    out = compress_file(path, tmp_path / "none.zarr", n_channels=4, sample_rate=30000, dtype="int16")
    assert open_recording(out).gains_to_uv is None


@pytest.mark.parametrize(
    "gains, message",
    [([1, 2], "2 gains to uV for 4 channels"), ([-0.2], "must be a positive number"), ([float("nan")], "positive")],
)
def test_raw_gains_checked(tmp_path, gains, message):
    path, _ = _raw_file(tmp_path)
    with pytest.raises(RecordingError, match=message):
        compress_file(path, tmp_path / "x.zarr", n_channels=4, sample_rate=30000, dtype="int16", gain_to_uv=gains)
    assert not (tmp_path / "x.zarr").exists()


def test_gains_only_for_raw_files(tmp_path, capsys):
    path, _ = _raw_file(tmp_path)
    renamed = path.rename(tmp_path / "rec.bin")
    with pytest.raises(RecordingError, match="--gain-to-uv is for raw files"):
        open_source(renamed, gain_to_uv=0.195)
    with pytest.raises(SystemExit):
        cli.main(["compress", str(renamed), "--gain-to-uv", "0.1,x"])
    assert "gains are numbers" in capsys.readouterr().err


def test_no_progress_bar_into_a_log(tmp_path):
    """stderr redirected to a file (not a terminal): no progress bar, no carriage returns."""
    path, _ = _raw_file(tmp_path)
    log = tmp_path / "log.txt"
    with open(log, "w") as stderr:
        args = ["compress", str(path), "-n", "4", "-s", "30000", "-d", "int16"]
        subprocess.run([sys.executable, "-m", "numcodecs_ephys", *args], stderr=stderr, check=True)
    text = log.read_text()
    assert "\r" not in text and "compress rec.raw" not in text, text


def test_verify_reports_lossy_error(tmp_path, capsys):
    """verify of a lossy store against its source reports the maximum and RMS error (what a
    user of --bps needs), in uV too when the store has gains."""
    path, x = _raw_file(tmp_path)
    out = tmp_path / "lossy.zarr"
    args = ["compress", path, "-o", out, "-n", 4, "-s", 30000, "-d", "int16", "--bps", 3, "--gain-to-uv", 0.5, "-q"]
    assert cli.main([str(a) for a in args]) == 0
    y = open_recording(out)[:].astype(np.int64)
    err = np.abs(y - x)
    assert err.max() > 0  # really lossy
    capsys.readouterr()
    assert cli.main(["verify", str(out), str(path)]) == 0
    printed = capsys.readouterr().out
    c = int(err.max(axis=0).argmax())
    t = int(err[:, c].argmax())
    rms = float(np.sqrt((err.astype(float) ** 2).mean()))
    assert f"max error {err.max():g} = {0.5 * err.max():.4g} uV (sample {t}, channel {c})" in printed, printed
    assert f"RMS error {rms:.4g} = {0.5 * rms:.4g} uV" in printed, printed
    info = verify_store(out, path)
    assert info["error"]["max"] == err.max() and abs(info["error"]["rms"] - rms) < 1e-9
    # lossless stores keep the exact comparison (no error report)
    exact = compress_file(path, tmp_path / "exact.zarr", n_channels=4, sample_rate=30000, dtype="int16")
    assert "error" not in verify_store(exact, path)


def _edit_json(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_edited_zarr2_metadata_named(tmp_path, capsys):
    """A store whose zarr 2 metadata were edited: the error names the array and what disagrees
    (not numpy's reshape error), and .zarray never disagrees silently with .zmetadata."""
    path, _ = _raw_file(tmp_path)
    store = compress_file(path, tmp_path / "r.zarr", n_channels=4, sample_rate=30000, dtype="int16", zarr_format=2)
    assert cli.main(["verify", str(store), "-q"]) == 0
    both, only = tmp_path / "both.zarr", tmp_path / "only.zarr"
    shutil.copytree(store, both)
    shutil.copytree(store, only)
    for s in (both, only):
        _edit_json(s / "traces_seg0" / ".zarray", lambda d: d.update(dtype="<i4"))
    _edit_json(both / ".zmetadata", lambda d: d["metadata"]["traces_seg0/.zarray"].update(dtype="<i4"))
    capsys.readouterr()
    for command in (["verify", str(both)], ["info", str(both)], ["decompress", str(both), "-o", str(tmp_path / "b")]):
        assert cli.main(command) == cli.EXIT_ERROR
        err = capsys.readouterr().err
        assert "array 'traces_seg0' is int32 (3000, 4) in its zarr metadata" in err and "recorded int16" in err, err
        assert "reshape" not in err
    for command in (["verify", str(only)], ["info", str(only)]):
        assert cli.main(command) == cli.EXIT_ERROR
        err = capsys.readouterr().err
        assert "traces_seg0/.zarray and the consolidated .zmetadata disagree (dtype: '<i4' there, '<i2'" in err, err
    with pytest.raises(StoreError, match="disagree"):
        open_recording(only)


@pytest.mark.zarr3
def test_edited_zarr3_metadata_named(tmp_path):
    path, _ = _raw_file(tmp_path)
    store = compress_file(path, tmp_path / "r.zarr", n_channels=4, sample_rate=30000, dtype="int16", zarr_format=3)
    _edit_json(store / "traces_seg0" / "zarr.json", lambda d: d.update(data_type="int32"))
    with pytest.raises(StoreError, match="array 'traces_seg0' is int32 \\(3000, 4\\) in its zarr metadata"):
        open_recording(store)


def test_concurrent_first_reads_share_one_handle(tmp_path, monkeypatch):
    """Worker threads share one Source (the thread pool, dask's in-process workers): their
    first reads open the file once, so that no handle is dropped (and closed) under a read."""
    import threading
    import time

    from numcodecs_ephys.recordings import sources

    path = tmp_path / "rec.bin"
    data = simulated(8000, 4)
    data.tofile(path)
    src = open_source(path, n_channels=4, sample_rate=30000.0, dtype="int16")
    opened = []

    def slow_open(*args, **kwargs):
        time.sleep(0.05)  # every thread reaches the first read before any handle exists
        opened.append(args)
        return open(*args, **kwargs)

    monkeypatch.setattr(sources, "open", slow_open, raising=False)
    got = [None] * 4

    def read(i):
        got[i] = src.read(2000 * i, 2000 * (i + 1))

    threads = [threading.Thread(target=read, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    src.close()
    assert len(opened) == 1
    np.testing.assert_array_equal(np.concatenate(got), data)


@pytest.mark.parametrize("where", ["first", "last"])
def test_compress_check_catches_any_wrong_sample(tmp_path, monkeypatch, where):
    """The check compares every sample of every chunk (in slices, into buffers it reuses): a
    codec decoding one sample wrong, the first or the last of a chunk, fails the run, and
    nothing readable is left."""
    from numcodecs_ephys import EphysLPC
    from numcodecs_ephys.recordings import stores

    path = tmp_path / "rec.bin"
    simulated(3 * 30000, 300).tofile(path)  # 3 chunks, each more samples than one slice compared
    assert 30000 * 300 > 2 * stores.COMPARE_SAMPLES
    decode = EphysLPC.decode

    def off_by_one(self, buf, out=None):
        x = decode(self, buf, out)
        x.reshape(-1)[0 if where == "first" else -1] += 1
        return x

    monkeypatch.setattr(EphysLPC, "decode", off_by_one)
    out = tmp_path / "rec.zarr"
    with pytest.raises(StoreError, match="did not decode to the original samples"):
        compress_file(path, out, n_channels=300, sample_rate=30000, dtype="int16", codec="lpc")
    assert not (out / "zarr.json").exists() and not (out / ".zgroup").exists()
    monkeypatch.setattr(EphysLPC, "decode", decode)
    compress_file(path, out, n_channels=300, sample_rate=30000, dtype="int16", codec="lpc", overwrite=True)
    np.testing.assert_array_equal(open_recording(out)[:], np.fromfile(path, "int16").reshape(-1, 300))
