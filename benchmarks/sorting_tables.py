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
from .ground_truth import FS, GROUND_TRUTH_PROBES, ground_truth
from .sorting import WELL_DETECTED, Sorter, compress, feature_errors, quality_count, sorter_version, template_features

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


def ground_truth_benchmark(kinds, channels, duration, units, workdir, n_jobs=1, settings=None, log=print):
    """One row per (probe, setting): CRs, errors, sorting performance against the truth,
    template feature errors against the lossless recording."""
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
        reference = template_features(traces, probe, uv, truth)
        for s in settings:
            start = time.perf_counter()
            decoded, crs = compress(traces, s)
            diff = decoded.astype(np.float32) - traces
            sorting, sort_s, error = sorter(decoded, probe, uv)
            if len(sorting.unit_ids):
                comp = sc.compare_sorter_to_ground_truth(truth, sorting, exhaustive_gt=True)
                perf = comp.get_performance().astype(float).mean()
                well = int(comp.count_well_detected_units(WELL_DETECTED))
            else:  # nothing found: every true unit missed
                perf, well = dict(accuracy=0.0, precision=0.0, recall=0.0), 0
            paper_cr, paper_acc = PAPER_GT[kind].get((s.mode, s.value), ("", ""))
            row = dict(
                probe=kind,
                **s.columns(crs),
                **{f"cr_{k}": v for k, v in crs.items()},
                paper_cr=paper_cr,
                rmse_steps=float(np.sqrt(np.mean(np.square(diff), dtype=np.float64))),
                max_err_steps=float(np.abs(diff).max()),
                accuracy=float(perf["accuracy"]),
                precision=float(perf["precision"]),
                recall=float(perf["recall"]),
                paper_accuracy=paper_acc,
                well_detected=well,
                gt_units=units,
                sorted_units=len(sorting.unit_ids),
                **feature_errors(reference, template_features(decoded, probe, uv, truth)),
                channels=traces.shape[1],
                duration_s=traces.shape[0] / FS,
                sorter=sorter_version(),
                sort_s=sort_s,
                sorter_error=error,
            )
            row["rmse_uv"], row["max_err_uv"] = row["rmse_steps"] * uv, row["max_err_steps"] * uv
            rows.append(row)
            log(
                f"  {s.name:22s} CR {row['cr']:7.2f}  accuracy {row['accuracy']:.3f}  "
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
        reference = None
        for s in settings:
            decoded, crs = compress(traces, s)
            sorting, sort_s, error = sorter(decoded, probe, uv, fs)
            if reference is None:
                reference = sorting
            best = (
                sc.compare_two_sorters(reference, sorting).agreement_scores.max(axis=1).to_numpy()
                if len(sorting.unit_ids) and len(reference.unit_ids)
                else np.zeros(len(reference.unit_ids))
            )
            diff = decoded.astype(np.float32) - traces
            row = dict(
                recording=name,
                **s.columns(crs),
                rmse_uv=float(np.sqrt(np.mean(np.square(diff), dtype=np.float64))) * uv,
                units=len(sorting.unit_ids),
                lossless_units=len(reference.unit_ids),
                agreement=float(best.mean()) if len(best) else 0.0,
                matched_units=int((best >= WELL_DETECTED).sum()),
                passing_quality=quality_count(decoded, probe, uv, sorting, fs) if len(sorting.unit_ids) else 0,
                sorter=sorter_version(),
                sort_s=sort_s,
                sorter_error=error,
            )
            rows.append(row)
            log(f"  {s.name:22s} CR {row['cr']:7.2f}  agreement {row['agreement']:.3f}  units {row['units']}")
    return rows


def shape_note(rows, tolerance=0.05):
    """Whether the paper's shape holds: the lowest hybrid bps keeps the lossless accuracy
    (within `tolerance`), and the first truncation that loses more than `tolerance` of it."""
    lines = [
        "Against the paper's shape (hybrid 2.25 bps at lossless accuracy; truncation failing from "
        "5 bits NP1 / 7 bits NP2):"
    ]
    for kind in dict.fromkeys(r["probe"] for r in rows):
        by = {(r["mode"], r["value"]): r for r in rows if r["probe"] == kind}
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
        lines.append(
            f"- {kind}: lossless accuracy {base:.3f}; hybrid {min(HYBRID_BPS)} bps "
            f"{hybrid['accuracy']:.3f} (CR {hybrid['cr']:.2f}); truncation first fails at "
            f"{bad[0] if bad else 'no tested'} bits (paper: {paper_bits})"
        )
    return "\n".join(lines)


GT_COLUMNS = [
    ("probe", "probe"),
    ("setting", "setting"),
    ("cr", "CR"),
    ("cr_wavpack", "CR WavPack"),
    ("paper_cr", "paper CR"),
    ("rmse_uv", "RMSE uV"),
    ("max_err_uv", "max err uV"),
    ("accuracy", "accuracy"),
    ("paper_accuracy", "paper accuracy"),
    ("precision", "precision"),
    ("recall", "recall"),
    ("well_detected", "well detected"),
    ("peak_to_trough_duration_err_pct", "PTV err %"),
    ("trough_half_width_err_pct", "HW err %"),
    ("main_peak_to_trough_ratio_err_pct", "PT ratio err %"),
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
