"""Inputs and stores behind fsspec URLs, against a local S3 server (moto): a URL is never taken
for a local path; the zarr metadata is written last, after every chunk is written and checked;
a failed run leaves nothing at the URL, an interrupted one nothing readable (its chunks wait
for --resume, tests/test_resume.py)."""

import contextlib
import json
from pathlib import Path

import numpy as np
import pytest

from numcodecs_ephys.recordings import cli, stores
from numcodecs_ephys.recordings.manifest import MANIFEST_KEY
from numcodecs_ephys.recordings.storage import RUN_KEY, Output

from conftest import REAL, simulated, unavailable

RATE = 1000.0
CHANNELS = 6
RAW = ["-n", str(CHANNELS), "-s", str(RATE), "-d", "int16", "--chunk-duration", "0.1", "-q"]


def raw_recording(folder, seconds=1.05, seed=5):
    data = simulated(int(seconds * RATE), CHANNELS, seed=seed)
    path = folder / "rec.bin"
    data.tofile(path)
    return path, data


def objects(fs, url):
    """{key: bytes} of everything under a URL (or a local folder)."""
    if "://" not in str(url):
        root = Path(url)
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    root = url.split("://", 1)[1].rstrip("/")
    return {p[len(root) + 1 :]: fs.cat_file(p) for p in sorted(fs.find(root))}


@contextlib.contextmanager
def keys_written(monkeypatch):
    """The keys an output writes while the block runs, in order."""
    written = []
    put = Output.put

    def recording_put(self, key, data, parents=False):
        written.append(key)
        put(self, key, data, parents)

    with monkeypatch.context() as m:
        m.setattr(Output, "put", recording_put)
        yield written


def test_round_trip_through_s3(s3, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # where a URL taken for a path would leave a folder named "s3:"
    path, data = raw_recording(tmp_path)
    url = "s3://lab/sessions/rec.zarr"
    assert cli.main(["compress", str(path), "-o", url, *RAW]) == 0
    assert not (tmp_path / "s3:").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["rec.bin"]
    keys = objects(s3, url)
    assert MANIFEST_KEY in keys and ".zmetadata" in keys and RUN_KEY not in keys
    assert sum(k.startswith(f"{stores.TRACES}/") and ".z" not in k for k in keys) == 11
    # the same store as a local run, object for object
    local = stores.compress_file(
        path, tmp_path / "local.zarr", n_channels=CHANNELS, sample_rate=RATE, dtype="int16", chunk_duration=0.1
    )
    assert keys == objects(s3, local)
    assert np.array_equal(stores.open_recording(url)[250:777], data[250:777])
    assert cli.main(["verify", url, str(path), "-q"]) == 0
    assert cli.main(["info", url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["store"] == url
    back = tmp_path / "back.bin"
    assert cli.main(["decompress", url, "-o", str(back), "-q"]) == 0
    assert back.read_bytes() == path.read_bytes()
    # and back into the bucket, then compressed from there to another bucket URL
    assert cli.main(["decompress", url, "-o", "s3://lab/raw/rec.bin", "-q"]) == 0
    assert s3.cat_file("lab/raw/rec.bin") == path.read_bytes()
    assert cli.main(["compress", "s3://lab/raw/rec.bin", *RAW]) == 0  # default output: beside it, in the bucket
    assert objects(s3, "s3://lab/raw/rec.zarr") == keys
    assert cli.main(["compress", str(path), "-o", url, *RAW]) == 1  # exists
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert cli.main(["compress", str(path), "-o", url, *RAW, "--overwrite", "--codec", "flac"]) == 0
    assert stores.store_info(url)["codec"]["id"] == "ephys_flac"


def test_spikeglx_from_a_bucket(s3, tmp_path):
    src = REAL / "spikeglx/p5_g0/p5_g0_imec0/p5_g0_t0.imec0.ap.bin"
    if not src.exists():
        unavailable(f"real recording {src} not found")
    s3.put_file(str(src), "lab/np/p5_g0_t0.imec0.ap.bin")
    s3.put_file(str(src.with_suffix(".meta")), "lab/np/p5_g0_t0.imec0.ap.meta")
    url = stores.compress_file("s3://lab/np/p5_g0_t0.imec0.ap.bin", chunk_duration=0.05)
    assert url == "s3://lab/np/p5_g0_t0.imec0.ap.zarr"
    local = stores.compress_file(src, tmp_path / "p5.zarr", chunk_duration=0.05)
    assert objects(s3, url) == objects(s3, local)  # metadata, probe and .meta text included
    out = stores.decompress_file(url, tmp_path / "p5.bin")
    assert (
        out.read_bytes() == src.read_bytes()
        and out.with_suffix(".meta").read_bytes() == src.with_suffix(".meta").read_bytes()
    )


def test_file_urls_are_urls(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path, data = raw_recording(tmp_path)
    url = f"file://{tmp_path}/out/rec.zarr"
    assert cli.main(["compress", f"file://{path}", "-o", url, *RAW]) == 0
    assert (tmp_path / "out" / "rec.zarr" / MANIFEST_KEY).is_file() and not (tmp_path / "file:").exists()
    assert np.array_equal(stores.open_recording(url)[:], data)


def test_metadata_last_and_failures(s3, tmp_path, monkeypatch):
    path, _ = raw_recording(tmp_path)
    url = "s3://lab/rec.zarr"
    with keys_written(monkeypatch) as written:
        stores.compress_file(path, url, n_channels=CHANNELS, sample_rate=RATE, dtype="int16", chunk_duration=0.1)
    chunks = [k for k in written if k.startswith(f"{stores.TRACES}/") and ".z" not in k]
    assert written[0] == RUN_KEY and written.index(MANIFEST_KEY) == len(chunks) + 1
    # after every chunk and the manifest, the zarr metadata; the root's keys last
    assert set(written[: written.index(MANIFEST_KEY)]) == {RUN_KEY, *chunks}
    assert written[-1] == ".zmetadata" and {".zgroup", ".zattrs"} <= set(written[-3:])

    real_store_parts = stores._store_parts
    for failure, leaves in ((ValueError("encoder failed (simulated)"), False), (KeyboardInterrupt(), True)):

        def failing(plan, i, n_rows, parts, failure=failure):
            if i == 5:
                raise failure
            return real_store_parts(plan, i, n_rows, parts)

        with monkeypatch.context() as m, pytest.raises(type(failure)):
            m.setattr(stores, "_store_parts", failing)
            stores.compress_file(
                path, "s3://lab/failed.zarr", n_channels=CHANNELS, sample_rate=RATE, dtype="int16", chunk_duration=0.1
            )
        left = objects(s3, "s3://lab/failed.zarr") if s3.exists("lab/failed.zarr") else {}
        if not leaves:  # a failure that resuming cannot mend: nothing at all
            assert left == {}
            continue
        # interrupted: its chunks wait for --resume, but nothing there is readable
        # chunks 0-4, and those after 5 whose writing had begun (chunks are stored while the next are coded)
        assert RUN_KEY in left and 5 <= len([k for k in left if k.startswith(stores.TRACES)]) <= 5 + stores.REMOTE_DEPTH
        assert not any(k.endswith((".zgroup", ".zarray", ".zattrs", ".zmetadata", "zarr.json")) for k in left)
        with pytest.raises(stores.StoreError):
            stores.open_recording("s3://lab/failed.zarr")
        with pytest.raises(FileExistsError, match="unfinished run; pass --resume"):
            stores.compress_file(
                path, "s3://lab/failed.zarr", n_channels=CHANNELS, sample_rate=RATE, dtype="int16", chunk_duration=0.1
            )
