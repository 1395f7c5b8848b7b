"""EphysLPC against pcodec at the chunk shapes labs record: tetrodes (4 channels) to
Neuropixels (384), short NWB-style chunks (1,000 samples) to 1 s (30,000), one thread each.

A real recording's channels are tiled across channels and in time to each shape, so that
every shape carries real noise, spikes and value alphabets. pcodec gets each chunk in
channel-major order (as a zarr array with order="F" hands it), its best case.
"""

import numpy as np

from numcodecs_ephys import EphysLPC

from . import cases as C
from .measure import interleaved_times

SHAPE_CHANNELS = (4, 8, 16, 32, 64, 128, 384)
SHAPE_SAMPLES = (1000, 3000, 30000)
# timed passes per shape: enough that a small chunk's best pass is not one scheduler hiccup
# (about 20 MB coded per codec and direction), at least 5
PASS_BYTES = 20e6


def shaped(traces, n_channels, n_samples):
    """The recording's channels repeated to n_channels, its samples repeated to n_samples."""
    columns = np.resize(np.arange(traces.shape[1]), n_channels)
    return np.ascontiguousarray(np.resize(traces[:, columns], (n_samples, n_channels)))


def shape_table(run, recs, passes, samples=SHAPE_SAMPLES):
    """One row per recording and shape: CR and one-thread speeds of EphysLPC level 2 and
    pcodec level 8, taking turns in every pass (best pass), and their ratios."""
    rows = []
    for rec in recs:
        for n_channels in SHAPE_CHANNELS:
            for n_samples in samples:
                chunk = shaped(rec.traces, n_channels, n_samples)
                codecs = {"lpc-2": EphysLPC(level=2, num_threads=1)}
                made = C.pcodec(8, "F")
                if made:
                    codecs["pcodec-8"] = made[0]
                n_passes = max(passes, int(PASS_BYTES / chunk.nbytes))
                encoded, times = interleaved_times(codecs, chunk, n_passes)
                mb = chunk.nbytes / 1e6
                row = dict(
                    table="shapes",
                    dataset=rec.name,
                    case="lpc-2 vs pcodec-8",
                    chunk_s=n_samples / rec.fs,
                    peer_of="",
                    channels=n_channels,
                    samples=n_samples,
                )
                for name in codecs:
                    key = name.split("-")[0]
                    row[f"{key}_cr"] = chunk.nbytes / len(memoryview(encoded[name]).cast("B"))
                    row[f"{key}_enc_mbs"] = mb / min(times[name][0])
                    row[f"{key}_dec_mbs"] = mb / min(times[name][1])
                if "pcodec-8" in codecs:
                    row["enc_x_pcodec"] = row["lpc_enc_mbs"] / row["pcodec_enc_mbs"]
                    row["dec_x_pcodec"] = row["lpc_dec_mbs"] / row["pcodec_dec_mbs"]
                rows.append(row)
    run.rows.extend(rows)
    if not rows:
        return
    run.tables.show(
        "EphysLPC level 2 against pcodec level 8 (channel-major) at every chunk shape, one thread, best pass of "
        "interleaved passes",
        rows,
        [
            ("dataset", "dataset"),
            ("channels", "channels"),
            ("samples", "samples"),
            ("lpc_cr", "LPC CR"),
            ("pcodec_cr", "pcodec CR"),
            ("lpc_enc_mbs", "LPC enc MB/s"),
            ("pcodec_enc_mbs", "pcodec enc MB/s"),
            ("lpc_dec_mbs", "LPC dec MB/s"),
            ("pcodec_dec_mbs", "pcodec dec MB/s"),
            ("enc_x_pcodec", "enc x pcodec"),
            ("dec_x_pcodec", "dec x pcodec"),
        ],
        floatfmt=("", "", "", ".3f", ".3f", ".0f", ".0f", ".0f", ".0f", ".2f", ".2f"),
    )
    if "dec_x_pcodec" in rows[0]:
        decode_ok = sum(r["dec_x_pcodec"] >= 1 for r in rows)
        encode_ok = sum(r["enc_x_pcodec"] >= 2 for r in rows)
        run.tables.note(
            f"\nShapes where EphysLPC decodes at least as fast as pcodec: {decode_ok} of {len(rows)}; "
            f"encodes at least 2x as fast: {encode_ok} of {len(rows)}; "
            f"lowest decode ratio {min(r['dec_x_pcodec'] for r in rows):.2f}, "
            f"lowest encode ratio {min(r['enc_x_pcodec'] for r in rows):.2f}."
        )
