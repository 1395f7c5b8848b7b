"""Many recordings as one job: glob patterns, a manifest file, several inputs at once (locally,
into a bucket, on a dask cluster); one failing input does not stop the others, the summary
table says which, and the exit status says that some failed."""

import numpy as np

from numcodecs_ephys.recordings import cli, stores

from conftest import simulated, unavailable

RATE = 1000.0
RAW = ["-n", "4", "-s", str(RATE), "-d", "int16", "--chunk-duration", "0.1"]


def recordings(folder, n=3):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(n):
        path = folder / f"session{k}.bin"
        simulated(500 + 100 * k, 4, seed=k).tofile(path)
        paths.append(path)
    return paths


def table(out):
    """The summary's rows: {file: (CR, MB/s, status)}."""
    rows = {}
    for line in out.splitlines()[1:]:
        parts = line.split(None, 3)
        if len(parts) == 4 and parts[0] != "file":
            rows[parts[0]] = tuple(parts[1:])
    return rows


def test_glob_manifest_and_a_failing_input(tmp_path, capsys):
    paths = recordings(tmp_path / "in")
    (tmp_path / "in" / "broken.bin").write_bytes(b"\0" * 7)  # not a whole number of frames
    manifest = tmp_path / "list.txt"
    manifest.write_text(f"# sessions of the day\n{paths[2]}\n\n{tmp_path / 'in' / 'missing.bin'}\n")
    rc = cli.main(
        [
            "compress",
            str(tmp_path / "in" / "session[01].bin"),
            str(tmp_path / "in" / "broken.bin"),
            "--inputs-from",
            str(manifest),
            "--output-dir",
            str(tmp_path / "out"),
            *RAW,
        ]
    )
    captured = capsys.readouterr()
    assert rc == 1  # some failed
    rows = table(captured.out)
    assert [rows[str(p)][2] for p in paths] == ["ok"] * 3 and float(rows[str(paths[0])][0]) > 1
    assert rows[str(tmp_path / "in" / "broken.bin")][2].startswith("FAILED: ") and "not a multiple" in captured.err
    assert (
        rows[str(tmp_path / "in" / "missing.bin")][2] == "FAILED: " + f"{tmp_path / 'in' / 'missing.bin'}: no such file"
    )
    assert "3 of 5 recordings compressed, 2 FAILED" in captured.out
    for p in paths:  # the others went on
        store = tmp_path / "out" / (p.stem + ".zarr")
        assert np.array_equal(stores.open_recording(store)[:], np.fromfile(p, "int16").reshape(-1, 4))
    assert cli.main(["compress", str(tmp_path / "in" / "nothing*.bin"), *RAW]) == 1
    assert "matches no file" in capsys.readouterr().err


def test_all_well_exits_zero_into_a_bucket(s3, tmp_path, capsys):
    paths = recordings(tmp_path / "in", 2)
    assert cli.main(["compress", str(tmp_path / "in" / "*.bin"), "--output-dir", "s3://lab/day1", *RAW]) == 0
    assert "2 of 2 recordings compressed" in capsys.readouterr().out
    for p in paths:
        rec = stores.open_recording(f"s3://lab/day1/{p.stem}.zarr")
        assert np.array_equal(rec[:], np.fromfile(p, "int16").reshape(-1, 4))


def test_on_a_dask_cluster(tmp_path, capsys):
    try:
        import distributed
    except ImportError:
        unavailable("dask.distributed is not installed")
    paths = recordings(tmp_path / "in", 2)
    (tmp_path / "in" / "broken.bin").write_bytes(b"\0" * 7)
    with distributed.LocalCluster(n_workers=2, processes=False, threads_per_worker=1, dashboard_address=None) as c:
        args = [str(tmp_path / "in" / "*.bin"), "--scheduler", c.scheduler_address, "-q", *RAW]
        assert cli.main(["compress", *args]) == 1
    assert "broken.bin" in capsys.readouterr().err
    for p in paths:
        local = stores.compress_file(
            p, tmp_path / f"{p.stem}.local.zarr", n_channels=4, sample_rate=RATE, dtype="int16", chunk_duration=0.1
        )
        assert stores.store_info(p.with_suffix(".zarr"))["stored_bytes"] == stores.store_info(local)["stored_bytes"]


def test_one_output_for_several_inputs_refused(tmp_path, capsys):
    paths = recordings(tmp_path / "in", 2)
    assert cli.main(["compress", *map(str, paths), "-o", str(tmp_path / "x.zarr"), *RAW]) == 1
    assert "-o/--output takes one INPUT" in capsys.readouterr().err
