"""Writes the wavpack-numcodecs 0.1.5 chunks under tests/fixtures/wavpack_numcodecs/.

Run once, with the peer installed (pip install wavpack-numcodecs==0.1.5):
    python tests/make_wavpack_fixtures.py
Each case stores the input (.npy), the peer's config (.json), its chunk (.wv) and,
for lossy cases, what the peer itself decodes (.decoded.npy).
"""
import json
from pathlib import Path

import numpy as np
import wavpack_numcodecs

from conftest import simulated

OUT = Path(__file__).resolve().parent / "fixtures" / "wavpack_numcodecs"

CASES = {
    "int16_2d_lossless_l1": (simulated(2000, 8, seed=1), dict(level=1)),
    "int16_2d_lossless_l3": (simulated(2000, 8, seed=2), dict(level=3)),
    "int16_1d_lossless": (simulated(1500, 1, seed=3)[:, 0], dict(level=2)),
    "int8_2d_lossless": (simulated(1000, 3, seed=4, std=3).astype("int8"), dict(level=2)),
    "int32_2d_lossless": (simulated(1000, 4, seed=5, dtype="int32", std=5000.0), dict(level=2)),
    "float32_2d_lossless": (simulated(1000, 4, seed=6).astype("float32") / 7, dict(level=2)),
    "int16_2d_hybrid_bps3": (simulated(2000, 8, seed=7), dict(level=2, bps=3)),
    "int16_2d_hybrid_bps225_fixed_shaping": (simulated(2000, 6, seed=8),
                                             dict(level=2, bps=2.25, dynamic_noise_shaping=False)),
}

if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (data, params) in CASES.items():
        codec = wavpack_numcodecs.WavPack(**params)
        data = np.ascontiguousarray(data)
        chunk = codec.encode(data)
        decoded = np.frombuffer(codec.decode(chunk), dtype=data.dtype).reshape(data.shape)
        np.save(OUT / f"{name}.npy", data)
        (OUT / f"{name}.wv").write_bytes(bytes(chunk))
        (OUT / f"{name}.json").write_text(json.dumps(codec.get_config(), indent=2, sort_keys=True))
        if "bps" in params:
            np.save(OUT / f"{name}.decoded.npy", decoded)
        else:
            assert np.array_equal(decoded, data), name
        print(name, data.shape, data.dtype, len(chunk))
