"""Recordings for the spike-sorting benchmark: simulated ground truth on Neuropixels
geometries, and the paper's real sessions with their probes.

Ground truth: SpikeInterface's `generate_ground_truth_recording` on the Neuropixels 1.0 /
2.0 geometries of probeinterface, seeded. Its float32 microvolt traces are quantized as the
probe's ADC would (10-bit steps of 2.34 uV for NP1, 14-bit steps of 0.763 uV for NP2), the
LSB-corrected form the paper compressed. Noise levels are set so that lossless WavPack lands
near the paper's CR (3.59 NP1, 2.26 NP2); the units sit where every one of them is clearly
above the noise (UNIT_LOCATIONS), so that the lossless recording sorts at an accuracy near 1
and what changes a sort is the compression.
"""

import json

import numpy as np

from . import s3

FS = 30000.0
# probe -> probeinterface part number, ADC step (uV), ADC bits, noise (uV RMS), template amplitude range (a.u.)
GROUND_TRUTH_PROBES = {
    "np1": dict(part="NP1000", uv_per_step=2.34, adc_bits=10, noise_uv=10.5, alpha=(300.0, 900.0)),
    "np2": dict(part="NP2000", uv_per_step=0.763, adc_bits=14, noise_uv=21.0, alpha=(600.0, 1800.0)),
}
# where the true units sit (SpikeInterface's generate_unit_locations): inside the probe's span
# (a negative margin), at most 25 um from its plane and 25 um apart. With the generator's
# defaults (10 um beyond the span, up to 50 um away) one unit of 8 on 32 channels sat below
# the noise and lossless sorting reached only 0.87.
UNIT_LOCATIONS = dict(margin_um=-15.0, minimum_z=5.0, maximum_z=25.0, minimum_distance=25.0)
SIZES = {"default": dict(channels=48, duration=20.0, units=12), "full": dict(channels=384, duration=600.0, units=100)}
SEEDS = {"np1": 1, "np2": 2}


def neuropixels_probe(kind, channels):
    """The first `channels` sites (bank 0, from the tip) of the probe's probeinterface geometry."""
    from probeinterface.neuropixels_tools import build_neuropixels_probe

    probe = build_neuropixels_probe(GROUND_TRUTH_PROBES[kind]["part"])
    if channels > 384:
        raise ValueError(f"a Neuropixels probe records at most 384 channels, not {channels}")
    probe = probe.get_slice(np.arange(channels))
    probe.set_device_channel_indices(np.arange(channels))
    return probe


def to_adc(traces_uv, kind):
    """float32 microvolts -> int16 ADC steps, clipped to the ADC's range."""
    p = GROUND_TRUTH_PROBES[kind]
    lim = 2 ** (p["adc_bits"] - 1)
    return np.clip(np.round(traces_uv / p["uv_per_step"]), -lim, lim - 1).astype(np.int16)


def ground_truth(kind, channels, duration, units, seed=None):
    """(int16 traces in ADC steps, probe, true sorting) of a seeded simulation."""
    from spikeinterface.core import generate_ground_truth_recording

    p = GROUND_TRUTH_PROBES[kind]
    probe = neuropixels_probe(kind, channels)
    rec, truth = generate_ground_truth_recording(
        durations=[duration],
        sampling_frequency=FS,
        probe=probe,
        num_units=units,
        seed=SEEDS[kind] if seed is None else seed,
        noise_kwargs=dict(noise_levels=p["noise_uv"], strategy="on_the_fly"),
        generate_unit_locations_kwargs=UNIT_LOCATIONS,
        generate_templates_kwargs=dict(unit_params=dict(alpha=p["alpha"])),
    )
    return to_adc(rec.get_traces(), kind), probe, truth


def preprocessed(traces, uv_per_step, fs=FS):
    """The float32 recording a sorter's preprocessing makes of int16 ADC steps: microvolts,
    band-passed 300-6000 Hz (SpikeInterface's bandpass_filter with dtype float32)."""
    import spikeinterface.preprocessing as spre
    from spikeinterface.core import NumpyRecording

    uv = NumpyRecording([traces.astype(np.float32) * np.float32(uv_per_step)], sampling_frequency=fs)
    return np.ascontiguousarray(spre.bandpass_filter(uv, freq_min=300.0, freq_max=6000.0, dtype="float32").get_traces())


def recording_of(traces, probe, uv_per_step, fs=FS):
    """A SpikeInterface recording of traces with their probe and gain (uV per unit: 1 for
    traces in microvolts)."""
    from spikeinterface.core import NumpyRecording

    # string channel ids, as the generator's (its true units name their main channel by id)
    rec = NumpyRecording([traces], sampling_frequency=fs, channel_ids=[str(i) for i in range(traces.shape[1])])
    rec.set_probe(probe, in_place=True)
    rec.set_channel_gains(uv_per_step)
    rec.set_channel_offsets(0.0)
    return rec


def s3_recordings(datasets, sessions, duration, endpoint_url=None, cache_dir=None):
    """[(name, int16 traces on their ADC grid, probe, uV per step, fs)]: the first seconds of
    the paper's S3 sessions with their probe (probe.json beside the traces), LSB-corrected as
    the paper did (SpikeInterface's correct_lsb)."""
    import probeinterface
    import spikeinterface.preprocessing as spre
    from spikeinterface.core import NumpyRecording

    from numcodecs_ephys import estimate_lsb

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
