"""The lossy benchmark's whole pipeline on a tiny ground-truth recording: generate, compress,
decode, sort (spykingcircus2), compare with the truth and with the lossless sort; and the
preprocessing filters against SpikeInterface's."""

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
    assert [f"bittrunc-{b}" for b in range(8)] == names[8:]


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
    settings = chosen(["lossless", "wavpack-hybrid-2.25", "bittrunc-0", "bittrunc-7"])
    rows = sorting_tables.ground_truth_benchmark(["np1"], 16, 10.0, 4, tmp_path, settings=settings, log=lambda m: None)
    by = {r["setting"]: r for r in rows}
    assert list(by) == ["lossless", "wavpack-hybrid-2.25", "bittrunc-0", "bittrunc-7"]
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
    note = sorting_tables.shape_note(rows)
    assert "np1: lossless accuracy" in note
    figures.accuracy_vs_cr(rows, tmp_path / "a.png")
    figures.feature_error_vs_cr(rows, tmp_path / "f.png")
    assert (tmp_path / "a.png").stat().st_size > 1000 and (tmp_path / "f.png").stat().st_size > 1000


def test_experimental_pipeline(tiny, tmp_path):
    """The --s3 variant on a local recording: agreement with the lossless sort, quality."""
    from benchmarks.sorting_tables import experimental_benchmark

    traces, probe, _ = tiny
    settings = chosen(["lossless", "wavpack-hybrid-2.25"])
    rows = experimental_benchmark(
        [("tiny", traces, probe, 2.34, 30000.0)], tmp_path, settings=settings, log=lambda m: None
    )
    assert [r["setting"] for r in rows] == ["lossless", "wavpack-hybrid-2.25"]
    assert rows[0]["agreement"] == 1.0 and rows[0]["units"] == rows[0]["lossless_units"] > 0
    assert rows[0]["matched_units"] == rows[0]["units"]
    for r in rows:
        assert 0 <= r["agreement"] <= 1 and 0 <= r["passing_quality"] <= r["units"]


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
