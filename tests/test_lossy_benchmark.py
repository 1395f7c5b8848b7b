"""The lossy benchmark's whole pipeline on a tiny ground-truth recording: generate, compress,
decode, sort (spykingcircus2), compare with the truth; the answer drawn from the rows; the
--s3 path on a local stand-in of the paper's bucket (compared with the lossless sort); and
the preprocessing filters against SpikeInterface's."""

import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import require

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

pytestmark = pytest.mark.zarr2


@pytest.fixture(scope="module")
def sorting_deps():
    """The sorter's dependencies: SpikeInterface, spykingcircus2's, the figures'."""
    for m in ("spikeinterface", "probeinterface", "numba", "hdbscan", "sklearn", "tabulate", "matplotlib"):
        require(m)


@pytest.fixture(scope="module")
def tiny(sorting_deps):
    """16 channels x 10 s, 4 units of the NP1-like simulation."""
    from benchmarks.ground_truth import ground_truth

    return ground_truth("np1", 16, 10.0, 4)


def chosen(names):
    from benchmarks.cases import sorting_settings

    settings = {s.name: s for s in sorting_settings()}
    return [settings[n] for n in names]


def test_settings_cover_the_papers_grid():
    from benchmarks.cases import sorting_settings

    names = [s.name for s in sorting_settings()]
    assert names[0] == "lossless"
    assert [f"wavpack-hybrid-{b}" for b in (6, 5, 4, 3.5, 3, 2.5, 2.25)] == names[1:8]
    assert [f"bittrunc-{b}" for b in range(8)] == names[8:16]
    assert [f"lpc-max_error-{k}" for k in (1, 2, 3, 4, 6, 8)] == names[16:22]
    assert [f"lpc-float-max_error-{uv}uV" for uv in (0.25, 0.5, 1.0)] == names[22:]


def test_ground_truth_is_adc_quantized(tiny):
    from benchmarks.ground_truth import GROUND_TRUTH_PROBES

    traces, probe, truth = tiny
    assert traces.dtype == np.int16 and traces.shape == (300000, 16)
    assert probe.get_contact_count() == 16 and len(truth.unit_ids) == 4
    assert np.abs(traces).max() <= 2 ** (GROUND_TRUTH_PROBES["np1"]["adc_bits"] - 1)


def test_ground_truth_pipeline(tiny, tmp_path, monkeypatch):
    from benchmarks import figures, sorting_tables
    from benchmarks.sorting import FEATURES

    traces, probe, truth = tiny
    monkeypatch.setattr(sorting_tables, "ground_truth", lambda *a, **k: tiny)
    settings = chosen(
        ["lossless", "wavpack-hybrid-2.25", "bittrunc-0", "bittrunc-7", "lpc-max_error-2", "lpc-float-max_error-0.5uV"]
    )
    rows = sorting_tables.ground_truth_benchmark(
        ["np1"], 16, 10.0, 4, tmp_path, settings=settings, sorter_seeds=(42, 43), log=lambda m: None
    )
    # the lossless recording once per sorter seed, every other setting with the first
    assert [(r["setting"], r["sorter_seed"]) for r in rows] == [
        ("lossless", 42),
        ("lossless", 43),
        ("wavpack-hybrid-2.25", 42),
        ("bittrunc-0", 42),
        ("bittrunc-7", 42),
        ("lpc-max_error-2", 42),
        ("lpc-float-max_error-0.5uV", 42),
    ]
    by = {}
    for r in rows:
        by.setdefault(r["setting"], r)
    for r in rows:
        assert r["probe"] == "np1" and r["gt_units"] == 4 and r["sorter"].startswith("spykingcircus2")
        assert 0 <= r["accuracy"] <= 1 and 0 <= r["well_detected"] <= 4 and r["cr"] > 1
        for k in FEATURES:
            assert f"{k}_err_pct" in r
    lossless = by["lossless"]
    assert lossless["accuracy"] > 0.95 and lossless["well_detected"] == 4
    assert lossless["rmse_steps"] == 0 and lossless["max_err_steps"] == 0
    assert all(lossless[f"{k}_err_pct"] == 0 for k in FEATURES)
    # bits=0 decodes to the lossless data: the same sort
    assert by["bittrunc-0"]["accuracy"] == lossless["accuracy"] and by["bittrunc-0"]["rmse_steps"] == 0
    assert by["bittrunc-0"]["cr_wavpack"] == pytest.approx(lossless["cr"], rel=0.01)  # + the filter's header
    hybrid = by["wavpack-hybrid-2.25"]
    assert hybrid["cr"] > 1.5 * lossless["cr"] and 0 < hybrid["rmse_steps"] < 5
    assert by["bittrunc-7"]["rmse_steps"] > hybrid["rmse_steps"]
    assert by["bittrunc-7"]["cr"] > by["bittrunc-0"]["cr"]
    near = by["lpc-max_error-2"]
    assert near["mode"] == "lpc-max-error" and near["value"] == 2
    assert 0 < near["max_err_steps"] <= 2 and near["cr"] > 1.3 * lossless["cr"]
    assert rows[1]["accuracy"] > 0.95 and rows[1]["cr"] == lossless["cr"]
    # the band-passed float32 microvolts within 0.5 uV (float32 rounding of the bound aside);
    # CR against the float32 bytes, feature errors against the lossless float32 recording
    floats = by["lpc-float-max_error-0.5uV"]
    assert 0 < floats["max_err_uv"] <= 0.5 * (1 + 1e-6) and floats["cr"] > 2
    assert floats["accuracy"] > 0.9 and all(floats[f"{k}_err_pct"] < 5 for k in FEATURES)
    note = sorting_tables.shape_note(rows)
    assert "np1: lossless accuracy" in note
    figures.accuracy_vs_cr(rows, tmp_path / "a.png")
    figures.feature_error_vs_cr(rows, tmp_path / "f.png")
    assert (tmp_path / "a.png").stat().st_size > 1000 and (tmp_path / "f.png").stat().st_size > 1000


def gt_row(setting, mode, value, accuracy, cr, seed=42):
    return dict(probe="np1", setting=setting, mode=mode, value=value, accuracy=accuracy, cr=cr, sorter_seed=seed)


def test_answer_is_the_largest_setting_within_the_lossless_spread(sorting_deps):
    from benchmarks.sorting_tables import near_lossless_answer

    rows = [
        gt_row("lossless", "lossless", "", 0.99, 3.5),
        gt_row("lossless", "lossless", "", 0.97, 3.5, seed=43),
        gt_row("lossless", "lossless", "", 1.0, 3.5, seed=44),  # spread 0.03: the floor is 0.99 - 0.03
        gt_row("wavpack-hybrid-4", "wavpack-hybrid", 4, 0.99, 4.4),
        gt_row("wavpack-hybrid-3", "wavpack-hybrid", 3, 0.965, 5.5),
        gt_row("wavpack-hybrid-2.25", "wavpack-hybrid", 2.25, 0.95, 7.0),
        gt_row("lpc-max_error-1", "lpc-max-error", 1, 0.98, 5.0),
        gt_row("lpc-max_error-2", "lpc-max-error", 2, 1.0, 7.7),
        gt_row("lpc-max_error-3", "lpc-max-error", 3, 0.90, 9.0),
        gt_row("lpc-max_error-4", "lpc-max-error", 4, 0.99, 10.0),  # above the floor, but 3 fell below it
    ]
    table, sentences = near_lossless_answer(rows)
    lpc, wavpack = table
    assert (lpc["family"], lpc["value"], lpc["cr"]) == ("EphysLPC max_error", 2, 7.7)
    assert (wavpack["family"], wavpack["value"], wavpack["cr"]) == ("WavPack hybrid bps", 3, 5.5)
    assert lpc["cr_over_wavpack"] == pytest.approx(7.7 / 5.5)
    assert lpc["lossless_accuracy"] == 0.99 and lpc["spread"] == pytest.approx(0.03)
    assert "EphysLPC up to max_error 2" in sentences[0] and "CR is 1.40x WavPack's." in sentences[0]
    # when even the mildest setting sorts below the floor, there is no answer
    worse = [r for r in rows if r["setting"] != "lpc-max_error-1"]
    table, sentences = near_lossless_answer(worse + [gt_row("lpc-max_error-1", "lpc-max-error", 1, 0.95, 5.0)])
    assert table[0]["value"] == "none" and "no EphysLPC max_error" in sentences[0]
    # the paper's shape note on the same rows: no truncation among them
    from benchmarks.sorting_tables import shape_note

    assert "hybrid 2.25 bps 0.950 (CR 7.00); truncation first fails at no tested bits" in shape_note(rows)


@pytest.fixture
def paper_bucket_with_tiny_session(s3_endpoint, tiny):
    """The tiny ground truth as an aind-np1 session of a local stand-in of the paper's bucket:
    on Open Ephys' grid of 12 counts per ADC step, with its probe."""
    import json

    import probeinterface

    from paper_bucket import public_bucket, put_session

    traces, probe, _ = tiny
    group = probeinterface.ProbeGroup()
    group.add_probe(probe)
    put_session(
        public_bucket(s3_endpoint),
        "aind-np1",
        "625749_2022-08-03_15-15-06_ProbeA",
        traces * np.int16(12),
        json.dumps(group.to_dict(array_as_list=True)).encode(),
    )
    return s3_endpoint


def test_s3_sessions_sorted_with_every_family(paper_bucket_with_tiny_session, tmp_path, capsys):
    """`--s3`: each setting's sort against the lossless sort, and the units passing the paper's
    quality thresholds, EphysLPC's max_error among the settings."""
    import csv

    from benchmarks import lossy

    url = paper_bucket_with_tiny_session
    lossy.main(
        [
            *("--probes", "", "--settings", "wavpack-hybrid-2.25,lpc-max_error-2,lpc-float-max_error-1.0uV"),
            *("--s3", "aind-np1", "--s3-duration", "10", "--s3-endpoint", url, "--s3-cache", str(tmp_path / "cache")),
            *("--out", str(tmp_path), "--markdown", str(tmp_path / "lossy.md")),
        ]
    )
    rows = list(csv.DictReader(open(tmp_path / "lossy_exp.csv")))
    assert [r["setting"] for r in rows] == [
        "lossless",
        "wavpack-hybrid-2.25",
        "lpc-max_error-2",
        "lpc-float-max_error-1.0uV",
    ]
    lossless, _, near, floats = rows
    assert float(lossless["agreement"]) == 1.0 and int(lossless["units"]) == int(lossless["lossless_units"]) > 0
    assert float(near["cr"]) > 1.3 * float(lossless["cr"])
    for r in rows:
        assert r["recording"] == "s3-aind-np1-625749_2022-08-03_15-15-06_ProbeA"
        assert 0 <= float(r["agreement"]) <= 1 and 0 <= int(r["passing_quality"]) <= int(r["units"])
    # LSB-corrected back to ADC steps (2.34 uV each): EphysLPC's bound of 2 steps
    assert 0 < float(near["rmse_uv"]) <= 2 * 2.34
    assert 0 < float(floats["rmse_uv"]) <= 1.0  # the band-passed float32 microvolts, within 1 uV
    md = (tmp_path / "lossy.md").read_text()
    assert "## Experimental data" in md and "| lpc-max_error-2 " in md and " s CPU time)" in md


def test_passes_quality_thresholds():
    pd = require("pandas")
    from benchmarks.sorting import passes_quality

    m = pd.DataFrame(
        {
            "isi_violations_ratio": [0.1, 0.6, 0.1, 0.1],
            "presence_ratio": [0.95, 0.95, 0.5, 0.95],
            "amplitude_cutoff": [0.05, 0.05, 0.05, 0.2],
        }
    )
    assert passes_quality(m) == 1


def test_scipy_filters_match_spikeinterface():
    require("spikeinterface")
    require("scipy")
    from benchmarks import preprocessing

    rng = np.random.default_rng(0)
    x = np.round(np.cumsum(rng.normal(0, 3, (6000, 4)), axis=0) + rng.normal(0, 8, (6000, 4))).astype(np.int16)
    for name in preprocessing.PREPROCESSING:
        ours, impl = preprocessing.filter_traces(x, 30000.0, name)
        assert ours.dtype == np.int16 and ours.shape == x.shape
        if name == "raw":
            assert ours is x
            continue
        assert impl.startswith("spikeinterface")
        si_mod = preprocessing.spikeinterface_filters
        try:
            preprocessing.spikeinterface_filters = lambda: None
            scipy_out, impl2 = preprocessing.filter_traces(x, 30000.0, name)
        finally:
            preprocessing.spikeinterface_filters = si_mod
        assert impl2 == "scipy"
        inner = slice(600, -600)  # the edges differ by padding only
        assert np.abs(ours[inner].astype(int) - scipy_out[inner]).max() <= 1
