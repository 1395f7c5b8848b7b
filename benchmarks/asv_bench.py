"""asv suite: encode/decode time, peak memory and CR of the speed cases (cases.SPEED_CASES,
the same registry as the report and pytest-benchmark) on simulated probes.

    asv machine --yes
    asv run --quick -E existing:.venv/bin/python      # the installed package, no rebuild
    asv run                                            # builds each commit in its own env
"""

from benchmarks import cases
from benchmarks.measure import decode_chain, encode_chain

CASES = cases.speed_cases()


class Codecs:
    params = (sorted(CASES), ["np1", "np2"])
    param_names = ["codec", "probe"]
    timeout = 120

    def setup(self, codec, probe):
        made = CASES[codec].make()
        if made is None:
            raise NotImplementedError(f"{codec} is not installed")  # asv: skipped
        self.codec, self.filters = made
        self.chunk = cases.speed_chunk(probe, 0.5)
        self.encoded = encode_chain(self.codec, self.filters, self.chunk)

    def time_encode(self, codec, probe):
        encode_chain(self.codec, self.filters, self.chunk)

    def time_decode(self, codec, probe):
        decode_chain(self.codec, self.filters, self.encoded)

    def peakmem_encode(self, codec, probe):
        encode_chain(self.codec, self.filters, self.chunk)

    def track_compression_ratio(self, codec, probe):
        return self.chunk.nbytes / len(memoryview(self.encoded).cast("B"))

    track_compression_ratio.unit = "x"
