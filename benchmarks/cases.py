"""The codec cases of the benchmark: ours, numcodecs' general-purpose ones, and the peers.

A case is a name, a family, a level label, the paper's figure where it reports one, and a
factory that returns (codec, filters) or None when the codec is not installed.
"""
from dataclasses import dataclass, field
from typing import Callable, Optional

from numcodecs import Blosc

from numcodecs_ephys import WavPack

HYBRID_BPS = [6, 5, 4, 3.5, 3, 2.5, 2.25]
WAVPACK_LEVELS = {"low": 1, "medium": 2, "high": 3}


@dataclass
class Case:
    name: str
    family: str
    level: str
    make: Callable
    paper: dict = field(default_factory=dict)  # probe ("np1"/"np2") -> the paper's CR
    bps: Optional[float] = None


def _peer_wavpack(**kw):
    try:
        import wavpack_numcodecs
    except ImportError:
        return None
    return wavpack_numcodecs.WavPack(**kw), ()


# Lossless CR of the paper (1 s chunks, LSB-corrected, medians over sessions)
PAPER_LOSSLESS = {
    ("blosc-zstd", "high"): {"np1": 2.79, "np2": 1.90},
    ("wavpack", "low"): {"np1": 3.56},
    ("wavpack", "medium"): {"np1": 3.59, "np2": 2.26},
    ("wavpack", "high"): {"np1": 3.59},
}
PAPER_HYBRID_CR = {2.25: {"np1": 7.08, "np2": 7.04}}


def lossless_cases(threads=None):
    cases = [Case("blosc-zstd-9-bit", "blosc-zstd", "high",
                  lambda: (Blosc("zstd", clevel=9, shuffle=Blosc.BITSHUFFLE), ()),
                  PAPER_LOSSLESS[("blosc-zstd", "high")])]
    for label, level in WAVPACK_LEVELS.items():
        paper = PAPER_LOSSLESS.get(("wavpack", label), {})
        cases.append(Case(f"wavpack-L{level}", "wavpack", label,
                          lambda level=level: (WavPack(level=level, num_threads=threads), ()), paper))
        cases.append(Case(f"peer:wavpack-numcodecs-L{level}", "wavpack", label,
                          lambda level=level: _peer_wavpack(level=level), paper))
    return cases


def hybrid_cases(threads=None):
    cases = []
    for bps in HYBRID_BPS:
        paper = PAPER_HYBRID_CR.get(bps, {})
        cases.append(Case(f"wavpack-hybrid-{bps}", "wavpack-hybrid", "medium",
                          lambda bps=bps: (WavPack(level=2, bps=bps, num_threads=threads), ()), paper, bps))
        cases.append(Case(f"peer:wavpack-numcodecs-hybrid-{bps}", "wavpack-hybrid", "medium",
                          lambda bps=bps: _peer_wavpack(level=2, bps=bps), paper, bps))
    return cases
