"""asv suite: encode/decode time, peak memory and CR of the main cases on simulated probes.

    asv machine --yes
    asv run --quick -E existing:.venv/bin/python      # the installed package, no rebuild
    asv run                                            # builds each commit in its own env
"""
import numpy as np

from benchmarks import cases as C
from benchmarks.datasets import simulated_recording

CODECS = {
    "wavpack": lambda: C.ours("wavpack", "medium", None),
    "wavpack-hybrid-2.25": lambda: (C.WavPack(bps=2.25), ()),
    "flac": lambda: C.ours("flac", "medium", None),
    "lpc": lambda: C.lpc("medium"),
    "lpc-max_error-2": lambda: C.lpc("medium", max_error=2),
    "pcodec-8-channel-major": lambda: C.pcodec(8, "F"),
    "blosc-zstd-bit": lambda: C.general_codec("blosc-zstd", "high", "bit"),
    "delta2d-time+blosc-zstd": lambda: (C.general_codec("blosc-zstd", "medium", "bit")[0],
                                        C.delta_filter("2d-time", None)),
}


class Codecs:
    params = (sorted(CODECS), ["np1", "np2"])
    param_names = ["codec", "probe"]
    timeout = 120

    def setup(self, codec, probe):
        rec = simulated_recording(probe, 0.5, 384, seed=1)
        self.chunk = np.ascontiguousarray(rec.traces // (12 if probe == "np1" else 3))
        self.codec, self.filters = CODECS[codec]()
        self.encoded = self._encode()

    def _encode(self):
        c = self.chunk
        for f in self.filters:
            c = f.encode(c)
        return self.codec.encode(c)

    def _decode(self):
        d = self.codec.decode(self.encoded)
        for f in reversed(self.filters):
            d = f.decode(d)
        return d

    def time_encode(self, codec, probe):
        self._encode()

    def time_decode(self, codec, probe):
        self._decode()

    def peakmem_encode(self, codec, probe):
        self._encode()

    def track_compression_ratio(self, codec, probe):
        return self.chunk.nbytes / len(memoryview(self.encoded).cast("B"))

    track_compression_ratio.unit = "x"
