"""Ad-hoc measurements of the filters (not a test): python benchmarks/measure_filters.py

Delta2D speed vs numpy on int16 (30000, 384); BitTruncation CR/RMSE on the NP Ultra file;
LSB on the Open Ephys file. Reads ../shared/data/real (EPHYS_REAL_DATA overrides).
"""
import os
import sys
import time
from pathlib import Path

import numpy as np
from numcodecs import Blosc

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import load_real  # noqa: E402

from numcodecs_ephys import LSB, BitTruncation, Delta2D, WavPack, estimate_lsb  # noqa: E402


def best(fn, reps=5):
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return min(t)


def delta_speed():
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.integers(-20, 21, size=(30000, 384)), axis=0).astype("int16")
    gb = x.nbytes / 1e9
    print(f"Delta2D on int16 {x.shape} ({x.nbytes / 1e6:.1f} MB), GB/s of raw data, best of 5")
    enc = np.empty_like(x)

    def np_enc():
        enc[0] = x[0]
        np.subtract(x[1:], x[:-1], out=enc[1:])

    print(f"  numpy   time  encode (subtract) {gb / best(np_enc):6.2f}   decode (cumsum axis=0) "
          f"{gb / best(lambda: np.cumsum(x, axis=0, dtype=np.int16), reps=2):6.2f}")
    for axis in ("time", "space", "time+space"):
        for n in (1, 2):
            d = Delta2D(axis, num_threads=n)
            e = d.encode(x)
            te, td = best(lambda: d.encode(x)), best(lambda: d.decode(e))
            print(f"  Delta2D {axis:10s} threads={n}  encode {gb / te:6.2f}   decode {gb / td:6.2f}")


def bittruncation():
    x = load_real("np_ultra")
    blosc = Blosc(cname="zstd", clevel=9, shuffle=Blosc.BITSHUFFLE)
    wv = WavPack()
    print(f"BitTruncation on np_ultra {x.shape}: CR = raw / compressed, RMSE in ADC counts")
    for bits in range(8):
        bt = BitTruncation(bits)
        enc = bt.encode(x)
        dec = bt.decode(enc)
        rmse = float(np.sqrt(np.mean((dec.astype(np.float64) - x) ** 2)))
        print(f"  bits={bits}  blosc-zstd9-bit CR {x.nbytes / len(blosc.encode(enc)):7.2f}   "
              f"WavPack CR {x.nbytes / len(wv.encode(enc)):7.2f}   RMSE {rmse:.3f}")


def lsb():
    x = load_real("openephys_lfp")
    wv = WavPack()
    blosc = Blosc(cname="zstd", clevel=9, shuffle=Blosc.BITSHUFFLE)
    t0 = time.perf_counter()
    offsets, steps = estimate_lsb(x)
    t_est = time.perf_counter() - t0
    print(f"LSB on the Open Ephys LFP file {x.shape}")
    print(f"  estimated step: median {np.median(steps):.5f} (min {steps.min():.5f}, max {steps.max():.5f}); "
          f"offsets {np.round(offsets[:4], 3)}...; estimation {t_est:.2f} s")
    codec = LSB(offsets.tolist(), steps.tolist())
    enc = codec.encode(x)
    n_head = enc.shape[0] - len(x)
    assert np.array_equal(codec.decode(wv.decode(wv.encode(enc))), x)
    k_only = np.ascontiguousarray(enc[-len(x):])
    print(f"  escaped samples: {codec.last_escapes} ({codec.last_escapes / x.size:.4%}); "
          f"header+correction-table rows: {n_head} ({n_head * x.shape[1] * 2} raw bytes)")
    off_rule = 0
    for c in range(x.shape[1]):
        from numcodecs_ephys._native import lib
        r = np.array([lib.ephys_lsb_reconstruct(offsets[c], steps[c], int(k), 2) for k in np.unique(k_only[:, c])])
        kk = np.searchsorted(np.unique(k_only[:, c]), k_only[:, c])
        off_rule += int((r[kk] != x[:, c]).sum())
    print(f"  samples not exactly on round(offset + k*step) (fixed by the table, not escaped): "
          f"{off_rule / x.size:.2%}")
    for name, comp in (("WavPack", wv), ("blosc-zstd9-bit", blosc)):
        plain, with_lsb, kk = (len(comp.encode(a)) for a in (x, enc, k_only))
        print(f"  {name:16s} CR alone {x.nbytes / plain:5.2f}   LSB (lossless) {x.nbytes / with_lsb:5.2f}   "
              f"k alone, no table (lossy) {x.nbytes / kk:5.2f}   table cost {(with_lsb - kk) / with_lsb:.1%}")
    # spikeinterface correct_lsb: subtract the median, floor-divide by the min spacing, int16 (lossy)
    lsb_si = int(min(np.diff(np.unique(x[:, c])).min() for c in range(x.shape[1])))
    si = ((x - np.median(x, axis=0).astype(x.dtype)) // lsb_si).astype("int16")
    err = np.sqrt(np.mean((si.astype(float) * lsb_si + np.median(x, axis=0) - x) ** 2))
    print(f"  spikeinterface-style correction (step {lsb_si}, lossy, RMSE {err:.2f} counts): "
          f"WavPack CR {x.nbytes / len(wv.encode(si)):.2f}, blosc-zstd9-bit CR {x.nbytes / len(blosc.encode(si)):.2f}")
    t_e = best(lambda: codec.encode(x), 3)
    t_d = best(lambda: codec.decode(enc), 3)
    print(f"  LSB speed: encode {x.nbytes / t_e / 1e9:.2f} GB/s, decode {x.nbytes / t_d / 1e9:.2f} GB/s")


if __name__ == "__main__":
    delta_speed()
    bittruncation()
    lsb()
