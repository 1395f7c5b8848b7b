"""Lossy compression against spike sorting: the paper's ground-truth and experimental benchmarks.

    python -m benchmarks.lossy                       # NP1-like and NP2-like ground truth, default sizes
    python -m benchmarks.lossy --full                # the whole 384-channel probe, 10 minutes, 100 units
    python -m benchmarks.lossy --s3 aind-np1 --sessions 1 --s3-duration 60   # experimental data

Ground truth: SpikeInterface's `generate_ground_truth_recording` on the Neuropixels 1.0 /
2.0 geometries of probeinterface, seeded. Its float32 microvolt traces are quantized as the
probe's ADC would (10-bit steps of 2.34 uV for NP1, 14-bit steps of 0.763 uV for NP2), the
LSB-corrected form the paper compressed. Noise levels are set so that lossless WavPack lands
near the paper's CR (3.59 NP1, 2.26 NP2), spike amplitudes so that the lossless recording
sorts well. Each lossy setting (`lossy_settings`) is encoded in 1 s chunks of all channels,
decoded, sorted, and compared with the truth; the template features of the true units
(SpikeInterface's template metrics at the true spike times) are compared with those of
the lossless recording.

Experimental data (`--s3`, or any SpikeInterface recording given to `experimental_benchmark`):
each version is sorted and compared with the sort of the lossless version (agreement),
and the units passing the paper's quality thresholds are counted.

Outputs: lossy_gt.csv / lossy_exp.csv and accuracy_vs_cr.png / feature_error_vs_cr.png in --out.
"""

import argparse
import csv
import hashlib
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numcodecs import Blosc
from tabulate import tabulate

from numcodecs_ephys import BitTruncation, WavPack

from .cases import HYBRID_BPS, PAPER_TRUNCATION_CR, TRUNCATION_BITS
from .measure import split

FS = 30000.0
CHUNK_S = 1.0
SORTER = "spykingcircus2"
# the sorter's parameters: no motion correction (the simulations do not drift), a fixed seed
SORTER_PARAMS = dict(apply_motion_correction=False, seed=42, deterministic_peaks_detection=True)
WELL_DETECTED = 0.8  # accuracy above which a true unit counts as well detected (SpikeInterface's default)
# the paper's quality thresholds for experimental data
QUALITY = {"isi_violations_ratio": ("<", 0.5), "presence_ratio": (">", 0.9), "amplitude_cutoff": ("<", 0.1)}
FEATURES = {
    "peak_to_trough_duration": "peak-to-valley",
    "trough_half_width": "half-width",
    "main_peak_to_trough_ratio": "peak-to-trough ratio",
}

# probe -> probeinterface part number, ADC step (uV), ADC bits, noise (uV RMS), template amplitude range (a.u.)
PROBES = {
    "np1": dict(part="NP1000", uv_per_step=2.34, adc_bits=10, noise_uv=10.5, alpha=(300.0, 900.0)),
    "np2": dict(part="NP2000", uv_per_step=0.763, adc_bits=14, noise_uv=21.0, alpha=(600.0, 1800.0)),
}
SIZES = {"default": dict(channels=32, duration=20.0, units=8), "full": dict(channels=384, duration=600.0, units=100)}
SEEDS = {"np1": 1, "np2": 2}

# the paper's simulated ground truth (reference/paper.md; Kilosort 2.5): (mode, value) -> (CR, accuracy).
# The bit-truncation CRs are cases.PAPER_TRUNCATION_CR (bits 0, 2, 4, 5, 6, 7); here their accuracies.
_PAPER_TRUNCATION_ACCURACY = {"np1": (0.998, 0.998, 0.998, 0.93, 0.42, 0.16), "np2": (0.998,) * 5 + (0.93,)}
_PAPER_HYBRID = {  # bps -> (CR, accuracy)
    "np1": {2.25: (6.94, 0.998), 3: (5.48, 0.998), 4: (4.42, 0.998)},
    "np2": {2.25: (6.88, 0.998), 3: (5.16, 0.998), 4: (3.91, 0.998)},
}
_PAPER_LOSSLESS_CR = {"np1": 3.59, "np2": 2.26}
PAPER_GT = {
    probe: {
        **{
            ("bit-truncation", bits): (cr, accuracy)
            for (bits, cr), accuracy in zip(PAPER_TRUNCATION_CR[probe].items(), _PAPER_TRUNCATION_ACCURACY[probe])
        },
        **{("wavpack-hybrid", bps): figures for bps, figures in _PAPER_HYBRID[probe].items()},
        ("lossless", None): (_PAPER_LOSSLESS_CR[probe], ""),
    }
    for probe in ("np1", "np2")
}


@dataclass
class Setting:
    """One way of storing the recording: `chains` maps a label to a factory of (codec,
    filters); the first chain's decoded data is what gets sorted, the others must decode
    to the same data (their CR is reported beside)."""

    name: str
    mode: str
    value: object
    chains: dict = field(default_factory=dict)  # name -> callable

    def columns(self, crs):
        """The columns of a result row that name this setting, and its CR (the first chain's)."""
        return dict(
            setting=self.name,
            mode=self.mode,
            value="" if self.value is None else self.value,
            cr=next(iter(crs.values())),
        )


def lossy_settings(threads=1):
    """Lossless WavPack, then every lossy mode of the package: one line per mode."""

    def truncation(bits):
        return {
            "blosc-zstd": lambda: (
                Blosc("zstd", clevel=9, shuffle=Blosc.BITSHUFFLE),
                (BitTruncation(bits=bits, num_threads=threads),),
            ),
            "wavpack": lambda: (WavPack(num_threads=threads), (BitTruncation(bits=bits, num_threads=threads),)),
        }

    settings = [Setting("lossless", "lossless", None, {"wavpack": lambda: (WavPack(num_threads=threads), ())})]
    settings += [
        Setting(
            f"wavpack-hybrid-{bps}",
            "wavpack-hybrid",
            bps,
            {"wavpack": lambda b=bps: (WavPack(bps=b, num_threads=threads), ())},
        )
        for bps in HYBRID_BPS
    ]
    settings += [Setting(f"bittrunc-{bits}", "bit-truncation", bits, truncation(bits)) for bits in TRUNCATION_BITS]
    return settings


def _sorter_version():
    import spikeinterface
    import spikeinterface.sorters as ss

    cls = ss.sorter_dict[SORTER]
    return f"{SORTER} {cls.get_sorter_version()} (SpikeInterface {spikeinterface.__version__})"


def neuropixels_probe(kind, channels):
    """The first `channels` sites (bank 0, from the tip) of the probe's probeinterface geometry."""
    from probeinterface.neuropixels_tools import build_neuropixels_probe

    probe = build_neuropixels_probe(PROBES[kind]["part"])
    if channels > 384:
        raise ValueError(f"a Neuropixels probe records at most 384 channels, not {channels}")
    probe = probe.get_slice(np.arange(channels))
    probe.set_device_channel_indices(np.arange(channels))
    return probe


def to_adc(traces_uv, kind):
    """float32 microvolts -> int16 ADC steps, clipped to the ADC's range."""
    p = PROBES[kind]
    lim = 2 ** (p["adc_bits"] - 1)
    return np.clip(np.round(traces_uv / p["uv_per_step"]), -lim, lim - 1).astype(np.int16)


def ground_truth(kind, channels, duration, units, seed=None):
    """(int16 traces in ADC steps, probe, true sorting) of a seeded simulation."""
    from spikeinterface.core import generate_ground_truth_recording

    p = PROBES[kind]
    probe = neuropixels_probe(kind, channels)
    rec, truth = generate_ground_truth_recording(
        durations=[duration],
        sampling_frequency=FS,
        probe=probe,
        num_units=units,
        seed=SEEDS[kind] if seed is None else seed,
        noise_kwargs=dict(noise_levels=p["noise_uv"], strategy="on_the_fly"),
        generate_templates_kwargs=dict(unit_params=dict(alpha=p["alpha"])),
    )
    return to_adc(rec.get_traces(), kind), probe, truth


def recording_of(traces, probe, uv_per_step, fs=FS):
    """A SpikeInterface recording of int16 traces with their probe and gain."""
    from spikeinterface.core import NumpyRecording

    # string channel ids, as the generator's (its true units name their main channel by id)
    rec = NumpyRecording([traces], sampling_frequency=fs, channel_ids=[str(i) for i in range(traces.shape[1])])
    rec.set_probe(probe, in_place=True)
    rec.set_channel_gains(uv_per_step)
    rec.set_channel_offsets(0.0)
    return rec


def compress(traces, setting):
    """(decoded traces, {chain: CR}) of a setting on 1 s chunks of all channels."""
    chunks = split(traces, int(CHUNK_S * FS))
    decoded, crs = None, {}
    for label, make in setting.chains.items():
        codec, filters = make()
        stored, out = 0, []
        for c in chunks:
            x = c
            for f in filters:
                x = f.encode(x)
            enc = codec.encode(x)
            stored += len(memoryview(enc).cast("B"))
            d = codec.decode(enc)
            for f in reversed(filters):
                d = f.decode(d)
            out.append(np.asarray(d).view(c.dtype).reshape(c.shape))
        crs[label] = traces.nbytes / stored
        restored = np.concatenate(out)
        if decoded is None:
            decoded = restored
        elif not np.array_equal(decoded, restored):
            raise ValueError(f"{setting.name}: chains {list(setting.chains)} decode to different data")
    return decoded, crs


class Sorter:
    """Runs the sorter on int16 traces, once per distinct decoded recording (bits=0 and
    lossless are the same data), in a temporary folder (the sorter needs a saved recording)."""

    def __init__(self, workdir, n_jobs=1):
        self.workdir, self.n_jobs, self.cache = Path(workdir), n_jobs, {}

    def __call__(self, traces, probe, uv_per_step, fs=FS):
        import spikeinterface.sorters as ss

        key = hashlib.sha1(traces.tobytes()).hexdigest()
        if key not in self.cache:
            folder = self.workdir / key[:12]
            rec = recording_of(traces, probe, uv_per_step, fs).save(
                folder=folder / "recording", n_jobs=1, overwrite=True, verbose=False, progress_bar=False
            )
            start = time.perf_counter()
            from spikeinterface.core import NumpySorting
            from spikeinterface.sorters.utils import SpikeSortingError

            try:
                sorting = NumpySorting.from_sorting(
                    ss.run_sorter(
                        SORTER,
                        rec,
                        folder=folder / "sorter",
                        remove_existing_folder=True,
                        verbose=False,
                        job_kwargs=dict(n_jobs=self.n_jobs, progress_bar=False),
                        **SORTER_PARAMS,
                    )
                )
                error = ""
            except SpikeSortingError as exc:
                # spykingcircus2 that keeps no template at all fails in its matching step
                # (SpikeInterface 0.105: "node0" unbound): a sort that found nothing, its error
                # kept in the CSV. Any other failure is raised.
                if "node0" not in str(exc):
                    raise
                sorting = NumpySorting.from_unit_dict([{}], sampling_frequency=fs)
                error = str(exc).strip().splitlines()[-1][:200]
            self.cache[key] = (sorting, time.perf_counter() - start, error)
            shutil.rmtree(folder, ignore_errors=True)
        return self.cache[key]


def template_features(traces, probe, uv_per_step, sorting, fs=FS):
    """{feature: per-unit values} of `sorting`'s units on `traces` (SpikeInterface's
    template metrics on the templates at the given spike times; the same random spikes
    for every version of a recording, as the seed is fixed)."""
    import spikeinterface as si

    analyzer = si.create_sorting_analyzer(
        sorting, recording_of(traces, probe, uv_per_step, fs), format="memory", sparse=False, return_in_uV=True
    )
    analyzer.compute("random_spikes", max_spikes_per_unit=300, seed=0)
    analyzer.compute("templates", ms_before=1.0, ms_after=2.0)
    metrics = analyzer.compute(
        "template_metrics", metric_names=["peak_to_trough_duration", "half_width", "waveform_ratios"]
    ).get_data()
    return {k: metrics[k].to_numpy(dtype=float) for k in FEATURES}


def feature_errors(truth, decoded):
    """Median over units of |decoded - truth| / |truth|, in percent, per feature."""
    out = {}
    for k in FEATURES:
        t, d = truth[k], decoded[k]
        ok = np.isfinite(t) & (t != 0)
        err = np.where(np.isfinite(d[ok]), np.abs(d[ok] - t[ok]) / np.abs(t[ok]), np.inf)
        out[f"{k}_err_pct"] = float(np.median(err) * 100) if ok.any() else float("nan")
    return out


def ground_truth_benchmark(kinds, channels, duration, units, workdir, n_jobs=1, settings=None, log=print):
    """One row per (probe, setting): CRs, errors, sorting performance against the truth,
    template feature errors against the lossless recording."""
    import spikeinterface.comparison as sc

    settings = settings or lossy_settings()
    sorter, rows = Sorter(workdir, n_jobs), []
    for kind in kinds:
        start = time.perf_counter()
        traces, probe, truth = ground_truth(kind, channels, duration, units)
        uv = PROBES[kind]["uv_per_step"]
        log(
            f"{kind}: {traces.shape[1]} channels x {traces.shape[0] / FS:.0f} s, {units} units, noise "
            f"{PROBES[kind]['noise_uv']} uV RMS, int16 std {traces.std():.1f} ADC steps "
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
                sorter=_sorter_version(),
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


def passes_quality(metrics):
    ok = np.ones(len(metrics), dtype=bool)
    for name, (op, threshold) in QUALITY.items():
        v = metrics[name].to_numpy(dtype=float)
        ok &= (v < threshold) if op == "<" else (v > threshold)
    return int(ok.sum())


def quality_count(traces, probe, uv_per_step, sorting, fs):
    """Units of `sorting` passing the paper's thresholds (SpikeInterface's quality metrics)."""
    import spikeinterface as si

    analyzer = si.create_sorting_analyzer(
        sorting, recording_of(traces, probe, uv_per_step, fs), format="memory", sparse=True, return_in_uV=True
    )
    analyzer.compute(["random_spikes", "templates", "spike_amplitudes"])
    metrics = analyzer.compute(
        "quality_metrics", metric_names=["isi_violation", "presence_ratio", "amplitude_cutoff"]
    ).get_data()
    return passes_quality(metrics)


def experimental_benchmark(recordings, workdir, n_jobs=1, settings=None, log=print):
    """recordings: [(name, int16 traces on their ADC grid, probe, uV per step, fs)].
    One row per (recording, setting): CR, errors, agreement with the lossless sort
    (mean over the lossless units of their best agreement score), units passing quality."""
    import spikeinterface.comparison as sc

    settings = settings or lossy_settings()
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
                sorter=_sorter_version(),
                sort_s=sort_s,
                sorter_error=error,
            )
            rows.append(row)
            log(f"  {s.name:22s} CR {row['cr']:7.2f}  agreement {row['agreement']:.3f}  units {row['units']}")
    return rows


def s3_recordings(datasets, sessions, duration, endpoint_url=None, cache_dir=None):
    """The first seconds of the paper's S3 sessions with their probe (probe.json beside the
    traces), LSB-corrected as the paper did (SpikeInterface's correct_lsb)."""
    import json

    import probeinterface
    import spikeinterface.preprocessing as spre
    from spikeinterface.core import NumpyRecording

    from numcodecs_ephys import estimate_lsb

    from . import s3

    fs_ = s3.filesystem(endpoint_url, cache_dir or s3.CACHE)
    out = []
    for dataset in datasets:
        for session in s3.sessions(dataset, fs_)[:sessions]:
            rec = s3.load_binary_session(dataset, session, duration, fs_)
            probe = probeinterface.Probe.from_dict(
                json.loads(fs_.cat_file(f"{s3.BUCKET}/{dataset}/{session}/probe.json"))["probes"][0]
            )
            probe.set_device_channel_indices(np.arange(rec.traces.shape[1]))
            si_rec = NumpyRecording([rec.traces], sampling_frequency=rec.fs)
            corrected = spre.correct_lsb(si_rec, verbose=False).get_traces()
            step = rec.uv_per_count * float(np.median(estimate_lsb(rec.traces)[1]))  # uV per corrected unit
            out.append((rec.name, np.ascontiguousarray(corrected.astype(np.int16)), probe, step, rec.fs))
    return out


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


def show(title, rows, columns):
    print(f"\n## {title}\n")
    print(tabulate([[r.get(k, "") for k, _ in columns] for r in rows], headers=[h for _, h in columns], floatfmt=".3g"))


def write_csv(rows, path):
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def main(argv=None):
    from . import s3

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true", help=f"sizes {SIZES['full']} instead of {SIZES['default']}")
    ap.add_argument("--channels", type=int, help="channels of each simulated probe")
    ap.add_argument("--duration", type=float, help="seconds of each simulated probe")
    ap.add_argument("--units", type=int, help="true units of each simulated probe")
    ap.add_argument("--probes", default="np1,np2", help="simulated probes (np1,np2); empty: none")
    ap.add_argument("--n-jobs", type=int, default=1, help="processes of the sorter (default 1)")
    s3.add_arguments(ap, 60.0, ("aind-np1", "aind-np2", "ibl-np1"))  # experimental sessions
    ap.add_argument("--out", default="results", help="folder for the CSV files and plots")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    size = dict(SIZES["full" if args.full else "default"])
    size.update({k: getattr(args, k) for k in size if getattr(args, k) is not None})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(
        f"# Lossy compression and spike sorting\n\nSorter: {_sorter_version()}, {args.n_jobs} job(s), "
        f"parameters {SORTER_PARAMS}.\nSimulated probes: {size['channels']} channels x {size['duration']:.0f} s, "
        f"{size['units']} units each, 1 s chunks of all channels.\n",
        flush=True,
    )
    from . import figures

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lossy-") as work:
        kinds = [k for k in args.probes.split(",") if k]
        if kinds:
            rows = ground_truth_benchmark(
                kinds,
                size["channels"],
                size["duration"],
                size["units"],
                work,
                args.n_jobs,
                log=lambda m: print(m, flush=True),
            )
            show(
                "Ground truth: sorting accuracy and template feature errors (median over units, against the "
                "lossless recording) per setting",
                rows,
                GT_COLUMNS,
            )
            for r in rows:
                if r["sorter_error"]:
                    print(f"{r['probe']} {r['setting']}: the sorter found no unit ({r['sorter_error']})")
            write_csv(rows, out / "lossy_gt.csv")
            figures.accuracy_vs_cr(rows, out / "accuracy_vs_cr.png")
            figures.feature_error_vs_cr(rows, out / "feature_error_vs_cr.png")
            print("\n" + shape_note(rows))
        if args.s3:
            recs = s3_recordings(args.s3, args.sessions, args.s3_duration, args.s3_endpoint)
            rows = experimental_benchmark(recs, work, args.n_jobs, log=lambda m: print(m, flush=True))
            show(
                "Experimental data: agreement with the lossless sort and units passing "
                "ISI violation ratio < 0.5, presence ratio > 0.9, amplitude cutoff < 0.1",
                rows,
                EXP_COLUMNS,
            )
            write_csv(rows, out / "lossy_exp.csv")
    print(f"\n(lossy: {time.perf_counter() - start:.0f} s; wrote {out}/lossy_*.csv and plots)")


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


if __name__ == "__main__":
    main()
