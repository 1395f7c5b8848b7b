"""The paper's preprocessing table: lossless CR and speed on the raw recording and after
each of its filters (high-pass 300 Hz, band-pass 300-6000 Hz, band-pass 500-14999 Hz).

The filters are SpikeInterface's `highpass_filter` / `bandpass_filter` where SpikeInterface
is installed, otherwise the same design with scipy: a Butterworth filter of order 5 in
second-order sections, applied forward and backward (zero phase), output rounded back to
int16 (what SpikeInterface's filters return for an int16 recording).
"""

import numpy as np

from . import cases
from .datasets import Recording, on_adc_grid, probe_of

# name -> (btype, cutoff Hz): the paper's filters
PREPROCESSING = {
    "raw": None,
    "highpass-300": ("highpass", 300.0),
    "bandpass-300-6000": ("bandpass", (300.0, 6000.0)),
    "bandpass-500-14999": ("bandpass", (500.0, 14999.0)),
}
FILTER_ORDER = 5  # SpikeInterface's default
# the paper's figures (WavPack, LSB-corrected, medians over sessions): (family, filter) -> {probe: CR}
PAPER_PREPROCESSING = {
    ("wavpack", "raw"): {"np1": cases.PAPER_WAVPACK_LEVELS["high"], "np2": cases.PAPER_LOSSLESS["wavpack"]["np2"]},
    ("wavpack", "bandpass-300-6000"): {"np1": 5.28, "np2": 3.85},
}


def spikeinterface_filters():
    """SpikeInterface's preprocessing module, or None when it is not installed."""
    try:
        import spikeinterface.preprocessing as spre
        from spikeinterface.core import NumpyRecording
    except ImportError:
        return None
    return spre, NumpyRecording


def filter_traces(traces, fs, name):
    """(samples, channels) int16 traces through the paper's filter `name`, as int16.
    Returns (traces, implementation) with implementation "spikeinterface <version>" or "scipy"."""
    if PREPROCESSING[name] is None:
        return traces, "none"
    btype, cutoff = PREPROCESSING[name]
    si = spikeinterface_filters()
    if si is not None:
        import spikeinterface

        spre, NumpyRecording = si
        rec = NumpyRecording([traces], sampling_frequency=fs)
        if btype == "highpass":
            out = spre.highpass_filter(rec, freq_min=cutoff, filter_order=FILTER_ORDER)
        else:
            out = spre.bandpass_filter(rec, freq_min=cutoff[0], freq_max=cutoff[1], filter_order=FILTER_ORDER)
        return np.ascontiguousarray(out.get_traces()), f"spikeinterface {spikeinterface.__version__}"
    import scipy.signal

    sos = scipy.signal.butter(FILTER_ORDER, cutoff, btype=btype, fs=fs, output="sos")
    y = scipy.signal.sosfiltfilt(sos, traces.astype(np.float32), axis=0)
    info = np.iinfo(traces.dtype)
    return np.clip(np.round(y), info.min, info.max).astype(traces.dtype), "scipy"


def preprocessing_cases(threads, full=False):
    """The codecs of the table at their high levels (lzma at its low level unless `full`: at
    its high level it codes at ~1 MB/s, minutes per filter). Every lossless codec of the
    package goes here, one line each."""
    lzma = "high" if full else "low"
    return [
        cases.Case(
            "blosc-zstd-high-bit", "blosc-zstd", "high", "bit", lambda: cases.general_codec("blosc-zstd", "high", "bit")
        ),
        cases.Case(f"lzma-{lzma}", "lzma", lzma, "none", lambda: cases.general_codec("lzma", lzma, "none")),
        cases.Case("flac-high", "flac", "high", make=lambda: cases.ours("flac", "high", threads)),
        cases.Case("wavpack-high", "wavpack", "high", make=lambda: cases.ours("wavpack", "high", threads)),
        cases.Case("lpc-high", "lpc", "high", make=lambda: cases.lpc("high", threads)),
    ]


def preprocessing_table(run, recs, full=False):
    """CR and speed of each case on each 30 kHz recording, raw and after each filter.
    Speeds come from a single pass."""
    rows = []
    for rec in recs:
        if rec.fs != 30000:
            continue
        base = on_adc_grid(rec)  # LSB-corrected, as the paper filtered
        for name in PREPROCESSING:
            traces, impl = filter_traces(base.traces, base.fs, name)
            filtered = Recording(base.name, traces, base.fs, base.source, base.uv_per_count)
            lsb = run.lsb(rec) if name == "raw" and rec.source != "simulated" else ()
            for case in preprocessing_cases(run.threads, full):
                r = run.run("preprocessing", filtered, case, lsb, timed=False, preprocessing=name, filter_impl=impl)
                if r is None:
                    continue
                probe = probe_of(rec)
                r["paper_cr"] = PAPER_PREPROCESSING.get((case.family, name), {}).get(probe, "") if probe else ""
                rows.append(r)
    run.tables.show(
        "Preprocessing before lossless compression (high levels; LSB-corrected; speeds from one pass)",
        rows,
        [
            ("dataset", "dataset"),
            ("preprocessing", "filter"),
            ("case", "codec"),
            ("cr", "CR"),
            ("paper_cr", "paper CR"),
            ("enc_xrt", "enc xRT"),
            ("dec_xrt", "dec xRT"),
            ("filter_impl", "filter by"),
        ],
    )
    return rows
