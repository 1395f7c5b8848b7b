"""The benchmark suite runs: the report on tiny data, the S3 loader against a local S3
server (moto), the pytest-benchmark suite and the asv suite in quick mode."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import require

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# the report's options for a quick run
TINY_RUN = "--channels 8 --chunk 0.05 --repeats 1 --no-real --shape-samples 1000".split()


@pytest.fixture(scope="module")
def report():
    for m in ("tabulate", "matplotlib", "psutil"):
        require(m)
    from benchmarks import report

    return report


def test_report_on_tiny_data(report, tmp_path, capsys):
    markdown = tmp_path / "generated" / "benchmarks.md"
    report.main([*TINY_RUN, "--duration", "0.1", "--passes", "1", "--out", str(tmp_path), "--markdown", str(markdown)])
    out = capsys.readouterr().out
    # the markdown file: the machine and commit on top, then every printed table as a markdown table
    from benchmarks.machine import cpu_model, git_commit

    md = markdown.read_text()
    preamble = md.split("\n## ", 1)[0]
    assert cpu_model() in preamble and f"{os.cpu_count()} cores" in preamble
    assert f"at commit {git_commit().split()[0]}" in preamble  # the checkout's commit (the file is outside it)
    assert md.count("\n## ") == out.count("\n## ") > 10
    assert "\n## Lossless, sim-np1, 0.05 s chunks, LSB-corrected\n\n| codec " in md
    for title in (
        "Against the released peers: 1 s chunks",
        "at every chunk shape",
        "Lossless, sim-np1",
        "Chunk duration",
        "LSB correction",
        "Delta filters",
        "Filter speed",
        "Preprocessing before lossless compression",
        "WavPack hybrid",
        "bit truncation",
        "HDF5",
        "Against the released peers",
    ):
        assert title in out
    rows = list(csv.DictReader(open(tmp_path / "results.csv")))
    assert (tmp_path / "cr_vs_speed.png").stat().st_size > 1000
    by_case = {(r["table"], r["dataset"], r["case"]): r for r in rows}
    for codec in (
        "wavpack-medium",
        "flac-medium",
        "blosc-zstd-medium-bit",
        "lzma-low-none",
        "peer:wavpack-numcodecs-low",
    ):
        row = by_case[("lossless", "sim-np1", codec)]
        assert row["exact"] == "True" and float(row["cr"]) > 1
        assert row["lsb"] == "True"  # the simulated probes sit on Open Ephys' 12-count grid
    assert by_case[("lossless", "sim-np1", "peer:mtscomp")]["exact"] == "True"  # IBL's compressor, same run
    for family in ("flac", "wavpack"):  # same chunk, codecs taking turns
        mine = by_case[("versus", "sim-np1", f"{family}-medium")]
        theirs = by_case[("versus", "sim-np1", f"peer:{family}-medium")]
        assert by_case[("versus", "sim-np1", f"{family}-medium (1 thread)")]["threads"] == "1"
        assert float(mine["enc_x_peer"]) == pytest.approx(float(mine["enc_mbs"]) / float(theirs["enc_mbs"]))
        assert float(theirs["cr"]) > 1 and float(mine["cr"]) > 1
    pre = {
        (r["preprocessing"], r["case"]): r for r in rows if r["table"] == "preprocessing" and r["dataset"] == "sim-np1"
    }
    assert {f for f, _ in pre} == {"raw", "highpass-300", "bandpass-300-6000", "bandpass-500-14999"}
    assert all(r["exact"] == "True" for r in pre.values())
    # filtering out the low frequencies helps WavPack, as in the paper (3.59 -> 5.28 on NP1)
    assert float(pre[("bandpass-300-6000", "wavpack-high")]["cr"]) > float(pre[("raw", "wavpack-high")]["cr"])
    hybrid = by_case[("hybrid", "sim-np1", "wavpack-hybrid-2.25")]
    assert hybrid["exact"] == "False" and float(hybrid["rmse"]) > 0
    assert float(by_case[("bit truncation", "sim-np1", "bittrunc-0+wavpack")]["rmse"]) == 0
    # the shape table: every channel count at the asked chunk length, ratios of the same run
    shapes = [r for r in rows if r["table"] == "shapes"]
    assert sorted(int(r["channels"]) for r in shapes) == [4, 8, 16, 32, 64, 128, 384]
    assert {r["samples"] for r in shapes} == {"1000"}
    for r in shapes:
        assert float(r["dec_x_pcodec"]) == pytest.approx(float(r["lpc_dec_mbs"]) / float(r["pcodec_dec_mbs"]))
    assert "Shapes where EphysLPC decodes at least as fast as pcodec" in out
    # EphysLPC: ratio and speed tables, lossless rows, near-lossless within its bound
    assert "EphysLPC against the best of" in out and "EphysLPC against FLAC, WavPack and pcodec" in out
    ratio = by_case[("lpc ratio", "sim-np1", "lpc-medium")]
    assert float(ratio["x_best"]) == pytest.approx(float(ratio["cr"]) / float(ratio["best_peer_cr"]))
    assert by_case[("lossless", "sim-np1", "lpc-medium")]["exact"] == "True"
    assert by_case[("lpc speed", "sim-np1", "pcodec-8 channel-major")]["cr"]
    for k in (1, 2, 3):
        near = by_case[("near-lossless", "sim-np1", f"lpc-max_error-{k}")]
        assert 0 < int(near["max_abs_error"]) <= k


def test_simulated_probes_look_like_the_paper():
    from benchmarks.datasets import SIMULATED_PROBES, simulated_recording
    from numcodecs_ephys import WavPack

    for kind, (lo, hi) in {"np1": (3.2, 4.0), "np2": (2.0, 2.6)}.items():
        rec = simulated_recording(kind, 0.2, 384, seed=3)
        assert rec.traces.dtype == np.int16 and rec.traces.shape == (6000, 384)
        grid = SIMULATED_PROBES[kind]["grid"]
        assert not np.any(rec.traces % grid)  # on the Open Ephys grid
        adc = rec.traces // grid
        cr = adc.nbytes / len(WavPack().encode(adc))
        assert lo < cr < hi, (kind, cr)


@pytest.fixture
def s3_server(s3_endpoint):
    """A local S3 server (moto) holding a small bucket in the paper's layout."""
    from benchmarks.datasets import simulated_recording

    from paper_bucket import public_bucket, put_session

    s3 = public_bucket(s3_endpoint)
    recs = {}
    for dataset, session, kind in [
        ("aind-np1", "625749_2022-08-03_15-15-06_ProbeA", "np1"),
        ("aind-np1", "634568_2022-08-05_15-59-46_ProbeA", "np1"),
        ("ibl-np1", "CSHZAD026_2020-09-04_probe00", "np1"),
    ]:
        traces = simulated_recording(kind, 0.2, 32, seed=len(recs)).traces
        recs[(dataset, session)] = traces
        put_session(s3, dataset, session, traces)
    yield s3_endpoint, recs


def test_s3_loader_against_local_server(s3_server, tmp_path):
    from benchmarks import s3

    url, recs = s3_server
    fs = s3.filesystem(url, tmp_path / "cache")
    assert s3.sessions("aind-np1", fs) == sorted(s for d, s in recs if d == "aind-np1")
    loaded = s3.load_sessions("aind-np1", n_sessions=2, duration=0.1, endpoint_url=url, cache_dir=tmp_path / "cache")
    assert len(loaded) == 2
    for rec in loaded:
        session = rec.name.split("aind-np1-", 1)[1]
        assert np.array_equal(rec.traces, recs[("aind-np1", session)][:3000])
        assert rec.fs == 30000 and rec.uv_per_count == 0.195
    assert any((tmp_path / "cache").iterdir())  # blocks were cached locally
    with pytest.raises(ValueError, match="ends after"):
        s3.load_sessions("ibl-np1", duration=1.0, endpoint_url=url, cache_dir=tmp_path / "cache2")
    with pytest.raises(ValueError, match="unknown dataset"):
        s3.load_sessions("nope", endpoint_url=url, cache_dir=tmp_path / "cache")


def test_report_on_s3_sessions(s3_server, report, tmp_path, capsys):
    url, _ = s3_server
    s3 = f"--s3 aind-np1 --s3 ibl-np1 --sessions 1 --s3-duration 0.1 --s3-endpoint {url}".split()
    cache = ["--s3-cache", str(tmp_path / "cache")]
    report.main([*TINY_RUN, *s3, *cache, "--duration", "0.05", "--tables", "lossless", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "Lossless, s3-aind-np1-625749_2022-08-03_15-15-06_ProbeA" in out
    assert "Lossless, s3-ibl-np1-CSHZAD026_2020-09-04_probe00" in out


def test_pytest_benchmark_suite():
    require("pytest_benchmark")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--benchmark-disable",
            str(ROOT / "benchmarks" / "test_speed.py"),
        ],
        check=True,
        cwd=ROOT,
        env=dict(os.environ, EPHYS_BENCH_SECONDS="0.05"),
    )


def test_asv_suite_quick(tmp_path):
    require("asv")
    env = dict(os.environ, HOME=str(tmp_path), ASV_QUICK="1")
    subprocess.run(
        [sys.executable, "-m", "asv", "machine", "--yes"], check=True, cwd=ROOT, env=env, capture_output=True
    )
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "asv",
            "run",
            "--quick",
            "--dry-run",
            "--show-stderr",
            "-E",
            f"existing:{sys.executable}",
            "--bench",
            "Codecs.track_compression_ratio",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "failed" not in res.stdout.lower(), res.stdout
    assert "Codecs.track_compression_ratio" in res.stdout
