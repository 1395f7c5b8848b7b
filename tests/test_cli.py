"""The numcodecs-ephys command and the whole-recording API (numcodecs_ephys.recordings).

Byte-exact round trips file -> store -> file on every real SpikeGLX and Open Ephys
recording (locally and through a dask LocalCluster), on a 60 s file tiled from one of
them, mtscomp archives transcoded, every bad input, interrupted runs and --overwrite.
"""

import errno
import hashlib
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from numcodecs_ephys import compress_file, decompress_file, open_recording
from numcodecs_ephys._extension import lib
from numcodecs_ephys.recordings import cli, stores

from conftest import REAL, unavailable

# The zarr 3 stack (.venv) runs these; the zarr 2 stack runs tests/test_cli_zarr2.py (SpikeInterface
# opening the stores, round trips written with zarr 2).
pytestmark = pytest.mark.zarr3

SPIKEGLX = {
    "np_ultra": "spikeglx/p5_g0/p5_g0_imec0/p5_g0_t0.imec0.ap.bin",
    "np2": "spikeglx/all_chan_g0/all_chan_g0_imec0/all_chan_g0_t0.imec0.ap.bin",
    "np1_noise": "spikeglx/Noise4Sam_g0/Noise4Sam_g0_imec0/Noise4Sam_g0_t0.imec0.ap.bin",
    "np2_4shank": "spikeglx/TEST_20210920_0_g0/TEST_20210920_0_g0_imec0/TEST_20210920_0_g0_t0.imec0.ap.bin",
}
OPENEPHYS = "openephys/Neuropix-PXI-116.1_continuous.dat"
YASS = "misc/yass_examples_neuropixel_10ch_30kHz.bin"
REAL_INPUTS = {**SPIKEGLX, "openephys_lfp": OPENEPHYS}


def real(rel):
    path = REAL / rel
    if not path.exists():
        unavailable(f"real recording {path} not found")
    return path


def run(*args):
    """The command in this process: its exit code."""
    return cli.main([str(a) for a in args])


def sha1(path):
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def copy_recording(rel, folder):
    """A real recording and its metadata file copied into folder (SpikeGLX: .bin + .meta;
    Open Ephys: the .dat beside structure.oebin)."""
    src = real(rel)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, folder / src.name)
    meta = src.with_suffix(".meta") if src.suffix == ".bin" else src.parent / "structure.oebin"
    if meta.exists():
        shutil.copy(meta, folder / meta.name)
    return folder / src.name, (folder / meta.name if meta.exists() else None)


def tiled(rel, folder, seconds):
    """A recording `seconds` long made by repeating a real one (with its metadata file)."""
    data_path, meta_path = copy_recording(rel, folder)
    meta = stores.open_source(data_path)
    frame = meta.n_channels * meta.dtype.itemsize
    data = data_path.read_bytes()
    n = int(round(seconds * meta.sampling_frequency)) * frame
    with open(data_path, "wb") as f:
        while n > 0:
            f.write(data[:n])
            n -= len(data)
    return data_path, meta_path


def assert_round_trip(data_path, meta_path, tmp_path, *extra):
    store = tmp_path / "store.zarr"
    assert run("compress", data_path, "-o", store, "-q", *extra) == 0
    out = tmp_path / "back" / data_path.name
    assert run("decompress", store, "-o", out, "-q") == 0
    assert sha1(out) == sha1(data_path)
    if meta_path is not None:  # restored beside the data, byte for byte
        assert (out.parent / meta_path.name).read_bytes() == meta_path.read_bytes()
    assert run("verify", store, data_path, "-q") == 0
    return store


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("name", sorted(REAL_INPUTS))
def test_round_trip_real_files(name, tmp_path):
    data_path, meta_path = copy_recording(REAL_INPUTS[name], tmp_path / "in")
    store = assert_round_trip(data_path, meta_path, tmp_path)
    info = stores.store_info(store)
    data = data_path.read_bytes()
    assert info["lossless"] and info["source_crc32c"] == f"{lib.ephys_crc32c(0, data, len(data)):08x}"
    # the SHA1 where the file records its own (a SpikeGLX .meta's fileSHA1), compared with it
    source = stores.open_source(data_path)
    recorded = source.expected_sha1
    source.close()
    assert info["source_sha1"] == (sha1(data_path) if recorded else None) and recorded in (None, info["source_sha1"])
    assert info["compression_ratio"] > 1.5
    if name == "openephys_lfp":  # the non-integer grid is corrected (losslessly)
        assert [f["id"] for f in info["filters"]] == ["ephys_lsb"] and info["compression_ratio"] > 3.5


@pytest.fixture(scope="module")
def tiled_60_s(tmp_path_factory):
    """60 s of the Open Ephys LFP stream (115 MB) and its store, 1 s chunks, zarr format 3."""
    tmp = tmp_path_factory.mktemp("tiled")
    data_path, meta_path = tiled(OPENEPHYS, tmp / "in", 60)
    assert data_path.stat().st_size == 60 * 2500 * 384 * 2
    store = tmp / "local.zarr"
    assert run("compress", data_path, "-o", store, "-q", "--zarr-format", 3) == 0
    return data_path, meta_path, store


def assert_decompresses_to(store, data_path, meta_path, tmp_path):
    out = tmp_path / "back" / data_path.name
    assert run("decompress", store, "-o", out, "-q") == 0
    assert sha1(out) == sha1(data_path)
    assert (out.parent / meta_path.name).read_bytes() == meta_path.read_bytes()


def test_round_trip_tiled_60_s(tiled_60_s, tmp_path):
    data_path, meta_path, store = tiled_60_s
    assert len(chunk_files(store)) == 60
    assert_decompresses_to(store, data_path, meta_path, tmp_path)


@pytest.mark.parametrize("codec", sorted(stores.CODECS))
def test_every_codec_of_the_table(codec, tmp_path):
    data_path, meta_path = copy_recording(SPIKEGLX["np2"], tmp_path / "in")
    store = assert_round_trip(data_path, meta_path, tmp_path, "--codec", codec, "--chunk-duration", 0.01)
    assert stores.store_info(store)["codec"]["id"] == stores.make_codec(codec).codec_id


def test_openephys_folder_layout(tmp_path):
    """Open Ephys' own layout: structure.oebin two folders above continuous/<stream>/continuous.dat."""
    src = real(OPENEPHYS)
    stream = tmp_path / "rec" / "continuous" / "Neuropix-PXI-116.1"
    stream.mkdir(parents=True)
    shutil.copy(src, stream / "continuous.dat")
    shutil.copy(src.parent / "structure.oebin", tmp_path / "rec" / "structure.oebin")
    store = tmp_path / "lfp.zarr"
    assert run("compress", stream / "continuous.dat", "-o", store, "-q") == 0
    assert stores.store_info(store)["metadata_files"] == ["../../structure.oebin"]
    out = tmp_path / "out" / "continuous.dat"
    assert run("decompress", store, "-o", out, "-q") == 0
    assert sha1(out) == sha1(src) and sha1(out.parent / "structure.oebin") == sha1(src.parent / "structure.oebin")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lfp.zarr", "out", "rec"]


def test_round_trip_raw_partial_last_chunk(tmp_path):
    src = real(YASS)
    store = tmp_path / "y.zarr"
    assert (
        run(
            "compress",
            src,
            "-n",
            10,
            "-s",
            30000,
            "-d",
            "int16",
            "-o",
            store,
            "--chunk-duration",
            0.07,
            "--level",
            3,
            "-q",
        )
        == 0
    )
    rec = open_recording(store)
    assert rec.shape == (10000, 10) and rec.chunk_len == 2100 and rec.sampling_frequency == 30000
    assert stores.store_info(store)["codec"]["level"] == 3
    out = tmp_path / "y.bin"
    assert run("decompress", store, "-o", out, "-q") == 0 and sha1(out) == sha1(src)


@pytest.fixture(scope="module")
def scheduler():
    distributed = _require_distributed()
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None)
    yield cluster.scheduler_address
    cluster.close()


def _require_distributed():
    try:
        import distributed
    except ImportError:
        unavailable("dask.distributed is not installed")
    return distributed


def chunk_files(store):
    return sorted(
        p.relative_to(store)
        for a in (stores.TRACES, stores.OTHER)
        for p in (store / a).rglob("*")
        if p.is_file() and not p.name.startswith((".z", "zarr.json"))
    )


@pytest.mark.parametrize("name", sorted(REAL_INPUTS))
def test_round_trip_through_scheduler(name, scheduler, tmp_path):
    data_path, meta_path = copy_recording(REAL_INPUTS[name], tmp_path / "in")
    src = stores.open_source(data_path)
    chunk_duration = src.n_samples / src.sampling_frequency / 3.5  # 4 chunks, the last one partial
    local = tmp_path / "local.zarr"
    assert run("compress", data_path, "-o", local, "-q", "--chunk-duration", chunk_duration) == 0
    store = assert_round_trip(
        data_path, meta_path, tmp_path, "--scheduler", scheduler, "--chunk-duration", chunk_duration
    )
    # the same store as a local run: same chunks, byte for byte
    assert len({c.name for c in chunk_files(store)}) == 4 and chunk_files(store) == chunk_files(local)
    for c in chunk_files(store):
        assert (store / c).read_bytes() == (local / c).read_bytes()


def test_round_trip_tiled_60_s_through_scheduler(tiled_60_s, scheduler, tmp_path):
    data_path, meta_path, local = tiled_60_s
    store = tmp_path / "dask.zarr"
    assert run("compress", data_path, "-o", store, "-q", "--zarr-format", 3, "--scheduler", scheduler) == 0
    assert chunk_files(store) == chunk_files(local) and len(chunk_files(store)) == 60
    for c in chunk_files(store):
        assert (store / c).read_bytes() == (local / c).read_bytes()
    # chunks and attributes identical to the local store's, which decompresses byte for byte
    assert {**stores.store_info(store), "store": ""} == {**stores.store_info(local), "store": ""}


def test_several_inputs_at_once(tmp_path):
    a, _ = copy_recording(SPIKEGLX["np2"], tmp_path / "a")
    b, _ = copy_recording(OPENEPHYS, tmp_path / "b")
    assert run("compress", a, b, "-q") == 0
    assert stores.store_info(a.with_suffix(".zarr"))["source_format"] == "spikeglx"
    assert stores.store_info(b.with_suffix(".zarr"))["source_format"] == "openephys"
    assert run("compress", a, b, "-o", tmp_path / "x.zarr") == 1


# ---------------------------------------------------------------- mtscomp


def _mtscomp():
    try:
        import mtscomp
    except ImportError:
        unavailable("mtscomp is not installed (Makefile PEERS)")
    return mtscomp


@pytest.mark.parametrize("name", ["np_ultra", "yass"])
def test_mtscomp_archive_transcodes(name, tmp_path):
    mtscomp = _mtscomp()
    src = real(SPIKEGLX["np_ultra"] if name == "np_ultra" else YASS)
    n_channels = 385 if name == "np_ultra" else 10
    cbin, ch = tmp_path / "data.cbin", tmp_path / "data.ch"
    mtscomp.compress(
        src, cbin, ch, sample_rate=30000.0, n_channels=n_channels, dtype=np.int16, chunk_duration=0.03, quiet=True
    )
    theirs = tmp_path / "theirs.bin"
    mtscomp.decompress(cbin, ch, out=theirs, write_output=True, quiet=True)
    store = tmp_path / "data.zarr"
    assert run("compress", cbin, "-o", store, "-q", "--chunk-duration", 0.05) == 0
    ours = tmp_path / "ours.bin"
    assert run("decompress", store, "-o", ours, "-q") == 0
    assert sha1(ours) == sha1(theirs) == sha1(src)
    info = stores.store_info(store)
    assert info["source_format"] == "mtscomp" and info["shape"] == [src.stat().st_size // (2 * n_channels), n_channels]


# ---------------------------------------------------------------- API


def test_open_recording_slices_lazily(tmp_path):
    src = real(SPIKEGLX["np_ultra"])
    store = compress_file(src, tmp_path / "p5.zarr", chunk_duration=0.01)
    ref = np.fromfile(src, "int16").reshape(-1, 385)
    rec = open_recording(store)
    assert rec.shape == ref.shape and rec.sampling_frequency == 30000.0 and rec.channel_ids[-1] == "SY0"
    assert rec.channel_ids[:2] == ["AP0", "AP1"] and abs(rec.gains_to_uv[0] - 0.6 / 512 / 500 * 1e6) < 1e-9
    assert np.array_equal(rec[1234:2345, [3, 7, 384]], ref[1234:2345][:, [3, 7, 384]])
    # only the chunks needed are read: remove the others and slice again
    for p in (store / stores.TRACES).iterdir():
        if p.name[0].isdigit() and not 4 <= int(p.name.split(".")[0]) <= 6:
            p.unlink()
    assert np.array_equal(rec[1300:2000], ref[1300:2000])


def test_decompress_time_range_and_channels(tmp_path):
    src = real(SPIKEGLX["np2"])
    store = compress_file(src, tmp_path / "np2.zarr", chunk_duration=0.01)
    ref = np.fromfile(src, "int16").reshape(-1, 385)
    out = tmp_path / "part.bin"
    assert run("decompress", store, "-o", out, "--start", 0.005, "--end", 0.025, "--channels", "0:10,384", "-q") == 0
    assert np.array_equal(np.fromfile(out, "int16").reshape(-1, 11), ref[150:750][:, list(range(10)) + [384]])
    assert not out.with_suffix(".meta").exists()  # a subset is not the file the .meta describes
    assert run("decompress", store, "-o", tmp_path / "bad.bin", "--start", 1, "-q") == 1


def test_info_and_lossy_bps(tmp_path, capsys):
    src = real(SPIKEGLX["np_ultra"])
    store = tmp_path / "lossy.zarr"
    assert run("compress", src, "-o", store, "--bps", 2.5, "-q") == 0
    assert run("info", store) == 0
    out = capsys.readouterr().out
    assert "lossless             False" in out and "p5_g0_t0.imec0.ap.bin" in out and '"bps": 2.5' in out
    assert stores.store_info(store)["compression_ratio"] > 5
    assert run("verify", store, "-q") == 0
    restored = np.fromfile(decompress_file(store, tmp_path / "lossy.bin"), "int16").reshape(-1, 385)
    ref = np.fromfile(src, "int16").reshape(-1, 385)
    assert restored.shape == ref.shape and 0 < np.abs(restored.astype(int) - ref).mean() < 4
    assert stores.store_info(store)["codec"]["id"] == "ephys_wavpack"  # --bps without --codec: WavPack's mode
    # lossy is never the default, and only WavPack has it; the default codec is EphysLPC
    assert stores.store_info(stores.compress_file(src, tmp_path / "default.zarr"))["lossless"]
    assert run("compress", src, "-o", tmp_path / "lpc.zarr", "-q") == 0
    assert stores.store_info(tmp_path / "lpc.zarr")["codec"]["id"] == "ephys_lpc"
    assert run("compress", src, "-o", tmp_path / "f.zarr", "--codec", "flac", "--bps", 3) == 1


def test_verify_detects_damage(tmp_path, capsys):
    src = real(SPIKEGLX["np_ultra"])
    store = compress_file(src, tmp_path / "p5.zarr", chunk_duration=0.05)
    chunk = store / stores.TRACES / "1.0"
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0x10
    chunk.write_bytes(bytes(data))
    assert run("verify", store, "-q") == 1
    assert "error" in capsys.readouterr().err
    assert run("decompress", store, "-o", tmp_path / "x.bin", "-q") == 1
    assert not (tmp_path / "x.bin").exists()


def test_verify_against_a_different_original(tmp_path, capsys):
    src = real(SPIKEGLX["np2"])
    store = compress_file(src, tmp_path / "np2.zarr")
    other, _ = copy_recording(SPIKEGLX["np2"], tmp_path / "other")
    with open(other, "r+b") as f:
        f.seek(1000)
        f.write(b"\x01\x02")
    assert run("verify", store, other, "-q") == 1
    assert "differs from" in capsys.readouterr().err


# ---------------------------------------------------------------- bad input


def _bad(tmp_path, capsys, *args):
    out = tmp_path / "out.zarr"
    rc = run("compress", *args, "-o", out, "-q")
    err = capsys.readouterr().err
    assert rc == 1, err
    assert not out.exists() and not list(tmp_path.glob(".out.zarr.*"))
    assert err.startswith("numcodecs-ephys: error: ") and err.count("\n") == 1  # one clear line
    return err


def test_bad_size_not_a_multiple(tmp_path, capsys):
    err = _bad(tmp_path, capsys, real(YASS), "-n", 7, "-s", 30000, "-d", "int16")
    assert "not a multiple of channels x itemsize (7 x 2 = 14 bytes)" in err
    data_path, _ = copy_recording(SPIKEGLX["np_ultra"], tmp_path / "in")
    with open(data_path, "ab") as f:
        f.write(b"\0" * 100)
    assert "not a multiple" in _bad(tmp_path, capsys, data_path)


def test_bad_missing_meta(tmp_path, capsys):
    data_path, meta_path = copy_recording(SPIKEGLX["np_ultra"], tmp_path / "in")
    meta_path.unlink()
    assert ".meta file p5_g0_t0.imec0.ap.meta is missing" in _bad(tmp_path, capsys, data_path)


@pytest.mark.parametrize(
    "edit, message",
    [
        (("nSavedChans=385", "nSavedChans=384"), "nSavedChans=384 but its channel map"),
        (("snsApLfSy=384,0,1", "snsApLfSy=384,0,2"), "snsApLfSy=384,0,2 adds up to 386"),
        (("nSavedChans=385", "nSavedChanz=385"), "no nSavedChans= line"),
        (("imSampRate=30000", "imSampRate=fast"), "no valid imSampRate= line"),
    ],
)
def test_bad_inconsistent_meta(tmp_path, capsys, edit, message):
    data_path, meta_path = copy_recording(SPIKEGLX["np_ultra"], tmp_path / "in")
    text = meta_path.read_text()
    assert edit[0] in text
    meta_path.write_text(text.replace(edit[0], edit[1]))
    assert message in _bad(tmp_path, capsys, data_path)


def test_bad_meta_hash(tmp_path, capsys):
    """A file whose SHA1 differs from the one its .meta records was altered: refused."""
    data_path, _ = copy_recording(SPIKEGLX["np_ultra"], tmp_path / "in")
    with open(data_path, "r+b") as f:
        f.write(b"\x7f\x7f")
    assert "differs from the one its own metadata records" in _bad(tmp_path, capsys, data_path)
    assert run("compress", data_path, "-o", tmp_path / "unchecked.zarr", "-q", "--no-check") == 0  # as documented


def test_bad_dtype(tmp_path, capsys):
    assert "unknown dtype 'foo'" in _bad(tmp_path, capsys, real(YASS), "-n", 10, "-s", 30000, "-d", "foo")
    assert "not a numeric sample type" in _bad(tmp_path, capsys, real(YASS), "-n", 10, "-s", 30000, "-d", "U2")
    # a dtype the codec cannot code: said before anything is written
    err = _bad(tmp_path, capsys, real(YASS), "-n", 5, "-s", 30000, "-d", "float64", "--codec", "flac")
    assert "codec flac cannot code this recording" in err
    assert "needs all of" in _bad(tmp_path, capsys, real(YASS), "-n", 10)


def test_bad_cbin(tmp_path, capsys):
    mtscomp = _mtscomp()
    cbin, ch = tmp_path / "d.cbin", tmp_path / "d.ch"
    mtscomp.compress(real(YASS), cbin, ch, sample_rate=30000.0, n_channels=10, dtype=np.int16, quiet=True)
    capsys.readouterr()  # mtscomp's own progress output
    good = cbin.read_bytes()
    cbin.write_bytes(good[: len(good) // 2])
    assert "unreadable mtscomp archive" in _bad(tmp_path, capsys, cbin)
    cbin.write_bytes(good[:-8] + b"\xff" * 8)  # right size, damaged zlib stream
    assert "cannot read the mtscomp archive" in _bad(tmp_path, capsys, cbin)
    ch.write_text("{not json")
    assert "cannot read the mtscomp archive" in _bad(tmp_path, capsys, cbin)
    ch.unlink()
    assert "mtscomp header d.ch is missing" in _bad(tmp_path, capsys, cbin)


def test_bad_openephys(tmp_path, capsys):
    data_path, oebin = copy_recording(OPENEPHYS, tmp_path / "in")
    renamed = data_path.with_name("continuous.dat")
    data_path.rename(renamed)
    assert "cannot tell which stream" in _bad(tmp_path, capsys, renamed)
    assert run("compress", renamed, "--stream", "Neuropix-PXI-116.1", "-q") == 0
    oebin.write_text("{}")
    assert "not a valid structure.oebin" in _bad(tmp_path, capsys, renamed)
    oebin.unlink()
    assert "no structure.oebin found" in _bad(tmp_path, capsys, renamed)
    assert "no such file" in _bad(tmp_path, capsys, tmp_path / "nothing.bin")


# ---------------------------------------------------------------- safety


def test_overwrite(tmp_path, capsys):
    src = real(SPIKEGLX["np_ultra"])
    store = tmp_path / "p5.zarr"
    assert run("compress", src, "-o", store, "-q") == 0
    before = stores.store_info(store)
    assert run("compress", src, "-o", store, "-q", "--codec", "flac") == 1
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert stores.store_info(store) == before
    # a failing run with --overwrite leaves the old store in place
    assert run("compress", src, "-o", store, "-q", "--overwrite", "--codec", "flac", "--level", 99) == 1
    assert stores.store_info(store) == before
    assert run("compress", src, "-o", store, "-q", "--overwrite", "--codec", "flac") == 0
    assert stores.store_info(store)["codec"]["id"] == "ephys_flac"
    out = tmp_path / "p5.bin"
    assert run("decompress", store, "-o", out, "-q") == 0
    assert run("decompress", store, "-o", out, "-q") == 1
    assert "exists; pass --overwrite" in capsys.readouterr().err
    out.write_bytes(b"old")
    assert run("decompress", store, "-o", out, "-q", "--overwrite") == 0 and sha1(out) == sha1(src)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p5.bin", "p5.meta", "p5.zarr"]


@pytest.mark.parametrize("failure", ["codec", "disk full"])
def test_failure_mid_run_leaves_nothing(tmp_path, capsys, monkeypatch, failure):
    data_path, _ = tiled(OPENEPHYS, tmp_path / "in", 10)
    digest = sha1(data_path)
    real_store_parts = stores._store_parts

    def failing(plan, i, n_rows, parts):
        if i == 5:
            if failure == "codec":
                raise ValueError("WavPack encoding failed (simulated)")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_store_parts(plan, i, n_rows, parts)

    monkeypatch.setattr(stores, "_store_parts", failing)
    store = tmp_path / "out.zarr"
    assert run("compress", data_path, "-o", store, "-q") == 1
    err = capsys.readouterr().err
    assert ("simulated" in err) if failure == "codec" else ("disk is full" in err and "--resume" in err)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["in"]
    assert sha1(data_path) == digest
    # a codec failure leaves nothing; an I/O error keeps the chunks written (hidden, without zarr
    # metadata) for --resume, and a run without --resume clears them
    assert len(list(tmp_path.glob(".out.zarr.*.partial"))) == (failure == "disk full")
    monkeypatch.undo()
    assert run("compress", data_path, "-o", store, "-q", "--chunk-duration", 5) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out.zarr"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_interrupted_run(tmp_path, sig):
    """Killed mid-way: no store under the final name, the input untouched; the chunks written
    stay under a hidden name for --resume (tests/test_resume.py), and the next run without
    --resume clears them."""
    data_path, _ = tiled(OPENEPHYS, tmp_path / "in", 20)
    digest = sha1(data_path)
    store = tmp_path / "out.zarr"
    cmd = [
        sys.executable,
        "-m",
        "numcodecs_ephys",
        "compress",
        str(data_path),
        "-o",
        str(store),
        "-q",
        "--codec",
        "flac",
        "--level",
        "8",
        "--threads",
        "1",
        "--chunk-duration",
        "0.5",
    ]
    # the command gets Ctrl-C's default disposition whatever this run inherited: a shell
    # without job control starts background jobs with SIGINT ignored, and so their children
    proc = subprocess.Popen(
        cmd, stderr=subprocess.PIPE, text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)
    )
    deadline = time.time() + 60
    while time.time() < deadline and not list(tmp_path.glob(".out.zarr.*.partial/traces_seg0/3.0")):
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.02)
    proc.send_signal(sig)
    rc = proc.wait(timeout=60)
    err = proc.stderr.read()
    assert not store.exists() and sha1(data_path) == digest
    assert len(list(tmp_path.glob(".out.zarr.*.partial"))) == 1
    if sig == signal.SIGKILL:
        assert rc == -signal.SIGKILL
    else:
        assert rc == cli.EXIT_INTERRUPTED and "interrupted; nothing readable was written" in err, err
        assert "--resume continues" in err
    assert run("compress", data_path, "-o", store, "-q", "--chunk-duration", 5) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out.zarr"]


def test_console_script_installed():
    exe = Path(sys.executable).parent / "numcodecs-ephys"
    if not exe.exists():
        unavailable("the numcodecs-ephys console script is not installed (reinstall the package)")
    proc = subprocess.run([str(exe), "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("numcodecs-ephys ")


# ---------------------------------------------------------------- the README's command table


def readme_commands():
    """The README's command-line table: (mtscomp commands, numcodecs-ephys commands), in order."""
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = text.split("<!-- readme-test: commands -->", 1)[1].strip().split("\n\n", 1)[0]
    theirs, ours = [], []
    for row in table.splitlines()[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        for cell, out in ((cells[1], theirs), (cells[2], ours)):
            if cell.startswith("`"):
                out.append(cell.strip("`"))
    return theirs, ours


def test_readme_command_table(tmp_path, monkeypatch):
    import shlex

    theirs, ours = readme_commands()
    assert len(ours) == 7 and len(theirs) == 4 and all(c.startswith("numcodecs-ephys ") for c in ours)
    src = real(SPIKEGLX["np_ultra"])
    a, b = tmp_path / "mtscomp", tmp_path / "ours"
    for folder in (a, b):
        folder.mkdir()
        shutil.copy(src, folder / "data.bin")
        shutil.copy(src, folder / "run_g0_t0.imec0.ap.bin")
    shutil.copy(src.with_suffix(".meta"), b / "run_g0_t0.imec0.ap.meta")
    bindir = Path(sys.executable).parent
    if not (bindir / "mtscomp").exists():
        unavailable("mtscomp's commands are not installed (Makefile PEERS)")
    for command in theirs:
        args = shlex.split(command)
        subprocess.run([str(bindir / args[0]), *args[1:]], cwd=a, check=True, capture_output=True)
    for name in ("data.cbin", "data.ch"):
        shutil.copy(a / name, b / name)
    monkeypatch.chdir(b)
    for command in ours:
        args = shlex.split(command)[1:]
        assert run(*args, *(["-q"] if args[0] != "info" else [])) == 0, command
    assert sha1(a / "restored.bin") == sha1(b / "restored.bin") == sha1(src)
    assert (b / "run_g0_t0.imec0.ap.zarr").is_dir()
    assert stores.store_info(b / "from-mtscomp.zarr")["source_sha1"] == sha1(src)
    assert np.array_equal(
        np.fromfile(b / "part.bin", "int16").reshape(-1, 384),
        np.fromfile(src, "int16").reshape(-1, 385)[1500:3000, :384],
    )
