"""The spike-sorting tables: each way of storing a recording (cases.sorting_settings) is
encoded in 1 s chunks of all channels, decoded and sorted.

Ground truth (`ground_truth_benchmark`): the sort is compared with the truth, and the
template features of the true units (SpikeInterface's template metrics at the true spike
times) with those of the lossless recording. Experimental data (`experimental_benchmark`,
the paper's S3 sessions or any recording): each version's sort is compared with the sort of
the lossless version (agreement), and the units passing the paper's quality thresholds are
counted.
"""

import time

import numpy as np

from .cases import HYBRID_BPS, PAPER_LOSSLESS, PAPER_TRUNCATION_CR, TRUNCATION_BITS, sorting_settings
from .ground_truth import FS, GROUND_TRUTH_PROBES, ground_truth, preprocessed
from .sorting import (
    SORTER_SEEDS,
    WELL_DETECTED,
    Sorter,
    compress,
    feature_errors,
    quality_count,
    sorter_version,
    template_features,
)

# the paper's simulated ground truth (reference/paper.md; Kilosort 2.5): (mode, value) -> (CR, accuracy).
# The bit-truncation CRs are cases.PAPER_TRUNCATION_CR (bits 0, 2, 4, 5, 6, 7); here their accuracies.
_PAPER_TRUNCATION_ACCURACY = {"np1": (0.998, 0.998, 0.998, 0.93, 0.42, 0.16), "np2": (0.998,) * 5 + (0.93,)}
_PAPER_HYBRID = {  # bps -> (CR, accuracy)
    "np1": {2.25: (6.94, 0.998), 3: (5.48, 0.998), 4: (4.42, 0.998)},
    "np2": {2.25: (6.88, 0.998), 3: (5.16, 0.998), 4: (3.91, 0.998)},
}
PAPER_GT = {
    probe: {
        **{
            ("bit-truncation", bits): (cr, accuracy)
            for (bits, cr), accuracy in zip(PAPER_TRUNCATION_CR[probe].items(), _PAPER_TRUNCATION_ACCURACY[probe])
        },
        **{("wavpack-hybrid", bps): figures for bps, figures in _PAPER_HYBRID[probe].items()},
        ("lossless", None): (PAPER_LOSSLESS["wavpack"][probe], ""),
    }
    for probe in ("np1", "np2")
}


class StoredVersions:
    """The versions of one recording that settings store: its int16 ADC steps, and the
    preprocessed float32 microvolts (made once, when a setting first asks for them)."""

    def __init__(self, traces, uv_per_step, fs=FS):
        self.traces, self.uv_per_step, self.fs, self._preprocessed = traces, uv_per_step, fs, None

    def source(self, setting):
        """(the traces `setting` stores, microvolts per unit of them)."""
        if not setting.preprocessed:
            return self.traces, self.uv_per_step
        if self._preprocessed is None:
            self._preprocessed = preprocessed(self.traces, self.uv_per_step, self.fs)
        return self._preprocessed, 1.0


def ground_truth_benchmark(
    kinds, channels, duration, units, workdir, n_jobs=1, settings=None, sorter_seeds=SORTER_SEEDS, log=print
):
    """One row per (probe, setting): CRs, errors, sorting performance against the truth,
    template feature errors against the lossless recording. The lossless recording is sorted
    once per seed of `sorter_seeds` (one row each: the sorter's run-to-run spread), every
    other setting with the first seed."""
    import spikeinterface.comparison as sc

    settings = settings or sorting_settings()
    sorter, rows = Sorter(workdir, n_jobs), []
    for kind in kinds:
        start = time.perf_counter()
        traces, probe, truth = ground_truth(kind, channels, duration, units)
        uv = GROUND_TRUTH_PROBES[kind]["uv_per_step"]
        log(
            f"{kind}: {traces.shape[1]} channels x {traces.shape[0] / FS:.0f} s, {units} units, noise "
            f"{GROUND_TRUTH_PROBES[kind]['noise_uv']} uV RMS, int16 std {traces.std():.1f} ADC steps "
            f"(generated in {time.perf_counter() - start:.0f} s)"
        )
        versions = StoredVersions(traces, uv)
        references = {}  # version -> template features of the true units on the lossless data
        for s in settings:
            start = time.perf_counter()
            source, gain = versions.source(s)
            if s.preprocessed not in references:
                references[s.preprocessed] = template_features(source, probe, gain, truth)
            decoded, crs = compress(source, s)
            diff = decoded.astype(np.float32) - source
            stored = dict(
                probe=kind,
                **s.columns(crs),
                **{f"cr_{k}": v for k, v in crs.items()},
                rmse_steps=float(np.sqrt(np.mean(np.square(diff), dtype=np.float64))) * gain / uv,
                max_err_steps=float(np.abs(diff).max()) * gain / uv,
                # of the true units at the true spike times: the same whatever the sort
                **feature_errors(references[s.preprocessed], template_features(decoded, probe, gain, truth)),
            )
            paper_cr, paper_acc = PAPER_GT[kind].get((s.mode, s.value), ("", ""))
            for seed in sorter_seeds if s.mode == "lossless" else sorter_seeds[:1]:
                sorting, sort_s, error = sorter(decoded, probe, gain, seed=seed)
                if len(sorting.unit_ids):
                    comp = sc.compare_sorter_to_ground_truth(truth, sorting, exhaustive_gt=True)
                    perf = comp.get_performance().astype(float).mean()
                    well = int(comp.count_well_detected_units(WELL_DETECTED))
                else:  # nothing found: every true unit missed
                    perf, well = dict(accuracy=0.0, precision=0.0, recall=0.0), 0
                row = dict(
                    stored,
                    paper_cr=paper_cr,
                    sorter_seed=seed,
                    accuracy=float(perf["accuracy"]),
                    precision=float(perf["precision"]),
                    recall=float(perf["recall"]),
                    paper_accuracy=paper_acc,
                    well_detected=well,
                    gt_units=units,
                    sorted_units=len(sorting.unit_ids),
                    channels=traces.shape[1],
                    duration_s=traces.shape[0] / FS,
                    sorter=sorter_version(),
                    sort_s=sort_s,
                    sorter_error=error,
                )
                row["rmse_uv"], row["max_err_uv"] = row["rmse_steps"] * uv, row["max_err_steps"] * uv
                rows.append(row)
                log(
                    f"  {s.name:22s} seed {seed}  CR {row['cr']:7.2f}  accuracy {row['accuracy']:.3f}  "
                    f"({time.perf_counter() - start:.0f} s)"
                )
    return rows


def experimental_benchmark(recordings, workdir, n_jobs=1, settings=None, log=print):
    """recordings: [(name, int16 traces on their ADC grid, probe, uV per step, fs)].
    One row per (recording, setting): CR, errors, agreement with the lossless sort
    (mean over the lossless units of their best agreement score), units passing quality."""
    import spikeinterface.comparison as sc

    settings = settings or sorting_settings()
    sorter, rows = Sorter(workdir, n_jobs), []
    for name, traces, probe, uv, fs in recordings:
        log(f"{name}: {traces.shape[1]} channels x {traces.shape[0] / fs:.1f} s")
        reference, versions = None, StoredVersions(traces, uv, fs)
        for s in settings:
            source, gain = versions.source(s)
            decoded, crs = compress(source, s)
            sorting, sort_s, error = sorter(decoded, probe, gain, fs)
            if reference is None:
                reference = sorting
            best = (
                sc.compare_two_sorters(reference, sorting).agreement_scores.max(axis=1).to_numpy()
                if len(sorting.unit_ids) and len(reference.unit_ids)
                else np.zeros(len(reference.unit_ids))
            )
            diff = decoded.astype(np.float32) - source
            row = dict(
                recording=name,
                **s.columns(crs),
                rmse_uv=float(np.sqrt(np.mean(np.square(diff), dtype=np.float64))) * gain,
                units=len(sorting.unit_ids),
                lossless_units=len(reference.unit_ids),
                agreement=float(best.mean()) if len(best) else 0.0,
                matched_units=int((best >= WELL_DETECTED).sum()),
                passing_quality=quality_count(decoded, probe, gain, sorting, fs) if len(sorting.unit_ids) else 0,
                sorter=sorter_version(),
                sort_s=sort_s,
                sorter_error=error,
            )
            rows.append(row)
            log(f"  {s.name:22s} CR {row['cr']:7.2f}  agreement {row['agreement']:.3f}  units {row['units']}")
    return rows


def _by_setting(rows, kind):
    """{(mode, value): row} of one probe; the lossless recording's row of the first sorter seed
    (the seed every other setting is sorted with)."""
    by = {}
    for r in rows:
        if r["probe"] == kind:
            by.setdefault((r["mode"], r["value"]), r)
    return by


def lossless_spread(rows, kind):
    """(accuracy of the lossless recording sorted with the first seed, the run-to-run spread:
    highest minus lowest lossless accuracy over the sorter seeds)."""
    accuracies = [r["accuracy"] for r in rows if r["probe"] == kind and r["mode"] == "lossless"]
    return accuracies[0], max(accuracies) - min(accuracies)


def strongest_within(by, mode, values, floor):
    """The strongest setting of `mode` such that it and every milder one (`values` from the
    mildest) sort at an accuracy of at least `floor`; None when the mildest does not."""
    chosen = None
    for v in values:
        if (mode, v) not in by or by[(mode, v)]["accuracy"] < floor:
            break
        chosen = by[(mode, v)]
    return chosen


def near_lossless_answer(rows):
    """What a lab needs, per probe: the largest EphysLPC max_error that sorts within the
    sorter's run-to-run spread of lossless, against the most compressing WavPack hybrid bps
    that does. A setting is within the spread when its accuracy is at least the lossless
    recording's (same sorter seed) minus the spread (a higher accuracy is no loss), and so is
    every milder setting of its family. Returns (rows of the answer table, one sentence per probe)."""
    table, sentences = [], []
    for kind in dict.fromkeys(r["probe"] for r in rows):
        by = _by_setting(rows, kind)
        lossless, spread = lossless_spread(rows, kind)
        floor = lossless - spread
        lpc_values = sorted(v for m, v in by if m == "lpc-max-error")
        lpc = strongest_within(by, "lpc-max-error", lpc_values, floor)
        by_lpc_last = by[("lpc-max-error", lpc_values[-1])] if lpc_values else None
        wavpack = strongest_within(
            by, "wavpack-hybrid", sorted((v for m, v in by if m == "wavpack-hybrid"), reverse=True), floor
        )
        for family, r in (("EphysLPC max_error", lpc), ("WavPack hybrid bps", wavpack)):
            table.append(
                dict(
                    r or {},
                    probe=kind,
                    lossless_accuracy=lossless,
                    spread=spread,
                    family=family,
                    value=r["value"] if r else "none",
                )
            )
        if lpc and wavpack:
            table[-2]["cr_over_wavpack"] = lpc["cr"] / wavpack["cr"]
        sentences.append(
            f"- {kind}: lossless accuracy {lossless:.3f}, run-to-run spread {spread:.3f} over the sorter seeds; "
            + (
                f"EphysLPC up to max_error {lpc['value']} (CR {lpc['cr']:.2f}, accuracy {lpc['accuracy']:.3f})"
                if lpc
                else "no EphysLPC max_error"
            )
            + " and "
            + (
                f"WavPack hybrid down to {wavpack['value']} bps (CR {wavpack['cr']:.2f}, accuracy "
                f"{wavpack['accuracy']:.3f})"
                if wavpack
                else "no WavPack hybrid bps"
            )
            + " sort within that spread"
            + (f": EphysLPC's CR is {lpc['cr'] / wavpack['cr']:.2f}x WavPack's." if lpc and wavpack else ".")
            + (
                " It is the largest max_error tested: larger ones may sort as well."
                if lpc is not None and lpc is by_lpc_last
                else ""
            )
        )
    return table, sentences


def shape_note(rows, tolerance=0.05):
    """Whether the paper's shape holds: the lowest hybrid bps keeps the lossless accuracy
    (within `tolerance`), and the first truncation that loses more than `tolerance` of it."""
    lines = [
        "Against the paper's shape (hybrid 2.25 bps at lossless accuracy; truncation failing from "
        "5 bits NP1 / 7 bits NP2):"
    ]
    for kind in dict.fromkeys(r["probe"] for r in rows):
        by = _by_setting(rows, kind)
        base = by[("lossless", "")]["accuracy"]
        hybrid = by.get(("wavpack-hybrid", min(HYBRID_BPS)))
        bad = [
            b
            for b in TRUNCATION_BITS
            if ("bit-truncation", b) in by and by[("bit-truncation", b)]["accuracy"] < base - tolerance
        ]
        paper_bits = min(
            b for (m, b), (_, acc) in PAPER_GT[kind].items() if m == "bit-truncation" and acc != "" and acc < 0.998
        )
        hybrid_text = f"{hybrid['accuracy']:.3f} (CR {hybrid['cr']:.2f})" if hybrid else "not run"
        lines.append(
            f"- {kind}: lossless accuracy {base:.3f}; hybrid {min(HYBRID_BPS)} bps {hybrid_text}; truncation "
            f"first fails at {bad[0] if bad else 'no tested'} bits (paper: {paper_bits})"
        )
    return "\n".join(lines)


FEATURE_COLUMNS = [
    ("peak_to_trough_duration_err_pct", "PTV err %"),
    ("trough_half_width_err_pct", "HW err %"),
    ("main_peak_to_trough_ratio_err_pct", "PT ratio err %"),
]
GT_COLUMNS = [
    ("probe", "probe"),
    ("setting", "setting"),
    ("sorter_seed", "sorter seed"),
    ("cr", "CR"),
    ("cr_wavpack", "CR WavPack"),
    ("paper_cr", "paper CR"),
    ("rmse_uv", "RMSE uV"),
    ("max_err_steps", "max err ADC steps"),
    ("max_err_uv", "max err uV"),
    ("accuracy", "accuracy"),
    ("paper_accuracy", "paper accuracy"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("well_detected", "well detected"),
    *FEATURE_COLUMNS,
]
ANSWER_COLUMNS = [
    ("probe", "probe"),
    ("lossless_accuracy", "lossless accuracy"),
    ("spread", "spread over sorter seeds"),
    ("family", "family"),
    ("value", "largest within spread"),
    ("cr", "CR"),
    ("cr_over_wavpack", "CR / WavPack hybrid's"),
    ("accuracy", "accuracy"),
    ("rmse_uv", "RMSE uV"),
    ("max_err_uv", "max err uV"),
    *FEATURE_COLUMNS,
]


EXP_COLUMNS = [
    ("recording", "recording"),
    ("setting", "setting"),
    ("cr", "CR"),
    ("rmse_uv", "RMSE uV"),
    ("units", "units"),
    ("agreement", "agreement with lossless"),
    ("matched_units", "matched units"),
    ("passing_quality", "units passing QC"),
]
