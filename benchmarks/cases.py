"""Codec cases of the benchmark: ours, numcodecs' general-purpose codecs, and the peers.

A case names a codec family, a level (low/medium/high as in the paper), a shuffle, and a
factory returning (codec, filters) or None when that codec is not installed here. The
codec tables (tables.py, peer_tables.py) measure the case lists below; `registry` holds all
of them by name, and the speed suites (asv_bench.py for asv, test_speed.py for
pytest-benchmark) time the SPEED_CASES of that registry on `speed_chunk`. The spike-sorting
benchmark stores its recordings with the `Setting`s of `sorting_settings`.
"""

from dataclasses import dataclass, field
from typing import Callable, Optional

import numcodecs
import numpy as np
from numcodecs import Blosc, Delta, Shuffle
from numcodecs.abc import Codec
from numcodecs.compat import ensure_ndarray

from numcodecs_ephys import FLAC, LSB, BitTruncation, Delta2D, EphysLPC, WavPack, estimate_lsb

from .datasets import on_adc_grid, simulated_recording

LEVELS = ("low", "medium", "high")
# the paper's levels per family (lz4: acceleration, fastest first)
LEVEL_VALUES = {
    "blosc": (1, 5, 9),
    "zstd": (1, 11, 22),
    "zlib": (1, 5, 9),
    "gzip": (1, 5, 9),
    "lzma": (1, 5, 9),
    "lz4": (9, 5, 1),
    "flac": (1, 5, 8),
    "wavpack": (1, 2, 3),
    "lpc": (1, 2, 3),
}
# every level of the peers that the ratio of EphysLPC is measured against
BEST_OF_LEVELS = {"wavpack": (1, 2, 3, 4), "flac": tuple(range(9)), "pcodec": (8, 12)}
NEAR_LOSSLESS_ERRORS = (1, 2, 3)
# EphysLPC's max_error (ADC steps) in the spike-sorting benchmark: from one step to past the
# error WavPack's hybrid mode reaches at 2.25 bps (7-9 steps)
SORTING_MAX_ERRORS = (1, 2, 3, 4, 6, 8)
# and EphysLPC's max_error (uV) on the float32 recording a sorter's preprocessing makes: a tenth
# to under half of NP1's 2.34 uV ADC step
SORTING_FLOAT_MAX_ERRORS_UV = (0.25, 0.5, 1.0)
BLOSC_SHUFFLES = {"none": Blosc.NOSHUFFLE, "byte": Blosc.SHUFFLE, "bit": Blosc.BITSHUFFLE}
# the shuffle of each family in the paper's main table
PAPER_SHUFFLE = {
    "blosc-lz4": "bit",
    "blosc-lz4hc": "bit",
    "blosc-zlib": "byte",
    "blosc-zstd": "bit",
    "gzip": "byte",
    "lz4": "byte",
    "lzma": "none",
    "zlib": "byte",
    "zstd": "none",
    "flac": "none",
    "wavpack": "none",
}
HYBRID_BPS = [6, 5, 4, 3.5, 3, 2.5, 2.25]
TRUNCATION_BITS = list(range(8))
DELTAS = ("none", "1d", "2d-time", "2d-space", "2d-time-space")

# ---- the paper's figures (reference/paper.md), printed beside ours --------------------------
# lossless CR, 1 s chunks, LSB-corrected: family -> {probe: CR}
PAPER_LOSSLESS = {
    "blosc-lz4": {"np1": 1.95, "np2": 1.68},
    "blosc-lz4hc": {"np1": 2.27, "np2": 1.78},
    "blosc-zlib": {"np1": 2.36, "np2": 1.84},
    "blosc-zstd": {"np1": 2.79, "np2": 1.90},
    "gzip": {"np1": 2.36, "np2": 1.84},
    "lz4": {"np1": 1.41, "np2": 1.55},
    "lzma": {"np1": 2.82, "np2": 1.91},
    "zlib": {"np1": 2.36, "np2": 1.84},
    "zstd": {"np1": 2.54, "np2": 1.86},
    "flac": {"np1": 3.58, "np2": 2.27},
    "peer:flac-numcodecs": {"np1": 2.94, "np2": 2.02},
    "wavpack": {"np1": 3.59, "np2": 2.26},
    "peer:wavpack-numcodecs": {"np1": 3.59, "np2": 2.26},
}
PAPER_WAVPACK_LEVELS = {"low": 3.56, "medium": 3.59, "high": 3.59}  # NP1
PAPER_CHUNK_DURATION = {0.1: 3.51, 1.0: 3.59, 10.0: 3.59}  # WavPack NP1
PAPER_DELTA = {  # NP1 CR
    ("blosc-zstd", "none"): 2.79,
    ("blosc-zstd", "1d"): 2.71,
    ("blosc-zstd", "2d-time"): 3.24,
    ("blosc-zstd", "2d-space"): 2.71,
    ("blosc-zstd", "2d-time-space"): 3.10,
    ("flac", "none"): 3.58,
    ("flac", "2d-time"): 3.54,
    ("wavpack", "none"): 3.59,
    ("wavpack", "2d-time"): 3.57,
}
PAPER_HYBRID_CR = {2.25: {"np1": 7.08, "np2": 7.04}}
PAPER_HYBRID_RMSE_UV = {2.25: 2.55, 2.5: 2.39, 3: 1.60, 3.5: 1.38, 4: 1.23, 5: 0.34, 6: 0.00}  # NP1, band-passed
PAPER_TRUNCATION_CR = {  # simulated ground truth, blosc-zstd
    "np1": {0: 3.34, 2: 5.83, 4: 29.9, 5: 307, 6: 1710, 7: 4420},
    "np2": {0: 2.45, 2: 3.53, 4: 6.31, 5: 10.7, 6: 31.0, 7: 220},
}


@dataclass
class Case:
    name: str
    family: str
    level: str = "medium"
    shuffle: str = "none"
    make: Callable = None
    paper: dict = field(default_factory=dict)  # probe -> CR
    extra: dict = field(default_factory=dict)  # bps, bits, delta ... for the tables
    peer: Optional[str] = None


def _shuffled(codec, shuffle):
    return codec, ((Shuffle(elementsize=2),) if shuffle == "byte" else ())


def general_codec(family, level, shuffle):
    """A numcodecs codec of the paper at level low/medium/high, with its shuffle."""
    v = LEVEL_VALUES["blosc" if family.startswith("blosc") else family][LEVELS.index(level)]
    if family.startswith("blosc"):
        return Blosc(family.split("-", 1)[1], clevel=v, shuffle=BLOSC_SHUFFLES[shuffle]), ()
    make = {
        "gzip": lambda: numcodecs.GZip(level=v),
        "zlib": lambda: numcodecs.Zlib(level=v),
        "zstd": lambda: numcodecs.Zstd(level=v),
        "lzma": lambda: numcodecs.LZMA(preset=v),
        "lz4": lambda: numcodecs.LZ4(acceleration=v),
    }[family]
    return _shuffled(make(), shuffle)


def ours(family, level, threads, **kw):
    v = LEVEL_VALUES[family][LEVELS.index(level)]
    return (
        WavPack(level=v, num_threads=threads, **kw) if family == "wavpack" else FLAC(level=v, num_threads=threads, **kw)
    ), ()


def peer(family, level, **kw):
    """wavpack-numcodecs 0.1.5 / flac-numcodecs 0.1.2 as released, or None if not installed."""
    v = LEVEL_VALUES[family][LEVELS.index(level)]
    try:
        if family == "wavpack":
            import wavpack_numcodecs

            return wavpack_numcodecs.WavPack(level=v, **kw), ()
        import flac_numcodecs

        return flac_numcodecs.Flac(level=v, **kw), ()
    except ImportError:
        return None


def lpc(level="medium", threads=None, **kw):
    return EphysLPC(level=LEVEL_VALUES["lpc"][LEVELS.index(level)], num_threads=threads, **kw), ()


class ChannelMajorPCodec:
    """numcodecs.PCodec given one channel's samples in a row, as a zarr array with
    order="F" hands them to it. The encoder makes that copy (zarr makes it when it
    writes such an array; it is timed here) and stores the channel count in 4 bytes;
    the decoder returns a (time, channels) view of the channel-major samples, or with
    c_order=True a C-order copy (what a filter before it, such as LSB, reads)."""

    def __init__(self, level=8, c_order=False):
        from numcodecs import PCodec

        self.codec, self.c_order = PCodec(level=level), c_order

    def encode(self, chunk):
        import numpy as np

        arr = np.asarray(chunk)
        channels = int(np.prod(arr.shape[1:], dtype=np.int64)) if arr.ndim > 1 else 1
        major = np.ascontiguousarray(arr.reshape(len(arr), channels).T)
        return channels.to_bytes(4, "little") + bytes(self.codec.encode(major))

    def decode(self, data, out=None):
        import numpy as np

        data = memoryview(data).cast("B")
        channels = int.from_bytes(data[:4], "little")
        # bytes: numcodecs 0.15's PCodec (the zarr 2 stack) takes nothing else
        out = self.codec.decode(bytes(data[4:])).reshape(channels, -1).T
        return np.ascontiguousarray(out) if self.c_order else out


def pcodec(level=8, order="F", c_order=False):
    """numcodecs.PCodec on channel-major ("F") or time-major ("C") chunks; None if pcodec is missing."""
    try:
        import numcodecs
        import pcodec as _  # noqa: F401  numcodecs.PCodec needs it

        return (ChannelMajorPCodec(level, c_order) if order == "F" else numcodecs.PCodec(level=level)), ()
    except ImportError:
        return None


class Mtscomp:
    """mtscomp (IBL's compressor: time diff + zlib over chunks of a file) wrapped as a codec
    for the benchmark. It works on files, so each chunk goes through a temporary folder,
    as mtscomp users' recordings do; its output is the .cbin and the .ch (JSON) files."""

    def __init__(self, sample_rate=30000.0):
        import mtscomp

        self.mtscomp, self.sample_rate = mtscomp, sample_rate

    def encode(self, chunk):
        import tempfile
        from pathlib import Path

        import numpy as np

        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            np.save(tmp / "x.npy", np.ascontiguousarray(chunk))
            self.mtscomp.compress(
                tmp / "x.npy",
                tmp / "x.cbin",
                tmp / "x.ch",
                sample_rate=self.sample_rate,
                chunk_duration=1.0,
                check_after_compress=False,
                quiet=True,
            )
            cbin, ch = (tmp / "x.cbin").read_bytes(), (tmp / "x.ch").read_bytes()
        return len(ch).to_bytes(4, "little") + ch + cbin

    def decode(self, data):
        import tempfile
        from pathlib import Path

        data = bytes(data)
        n = int.from_bytes(data[:4], "little")
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            (tmp / "x.ch").write_bytes(data[4 : 4 + n])
            (tmp / "x.cbin").write_bytes(data[4 + n :])
            reader = self.mtscomp.decompress(tmp / "x.cbin", tmp / "x.ch")
            out = reader[:]
            reader.close()
        return out


def mtscomp_peer():
    try:
        return Mtscomp(), ()
    except ImportError:
        return None


GENERAL_FAMILIES = ("blosc-lz4", "blosc-lz4hc", "blosc-zlib", "blosc-zstd", "gzip", "lz4", "lzma", "zlib", "zstd")


def lossless_cases(threads, full=False, levels=LEVELS):
    """The paper's main table: every family at medium level with its shuffle (lzma at its
    low level: at medium it codes under 1 MB/s); blosc-zstd, FLAC and WavPack (and the
    peers) at every level of `levels`. `full`: every level and shuffle."""
    cases = []
    for family in GENERAL_FAMILIES:
        shuffles = (
            (BLOSC_SHUFFLES if family.startswith("blosc") else ("none", "byte")) if full else (PAPER_SHUFFLE[family],)
        )
        quick = ["low"] if family == "lzma" else [lv for lv in levels if lv == "medium" or family == "blosc-zstd"]
        fam_levels = levels if full else [lv for lv in quick if lv in levels] or quick
        for level in fam_levels:
            for sh in shuffles:
                # the paper's table gives one figure per family: shown beside each level
                paper = PAPER_LOSSLESS[family] if sh == PAPER_SHUFFLE[family] else {}
                cases.append(
                    Case(
                        f"{family}-{level}-{sh}",
                        family,
                        level,
                        sh,
                        lambda f=family, lv=level, s=sh: general_codec(f, lv, s),
                        paper,
                    )
                )
    for family in ("flac", "wavpack"):
        for level in levels:
            paper = PAPER_LOSSLESS[family] if level == "medium" else {}
            if family == "wavpack":
                paper = dict(paper, np1=PAPER_WAVPACK_LEVELS[level])
            cases.append(
                Case(
                    f"{family}-{level}",
                    family,
                    level,
                    make=lambda f=family, lv=level: ours(f, lv, threads),
                    paper=paper,
                )
            )
            cases.append(
                Case(
                    f"peer:{family}-numcodecs-{level}",
                    family,
                    level,
                    make=lambda f=family, lv=level: peer(f, lv),
                    paper=PAPER_LOSSLESS[f"peer:{family}-numcodecs"] if level == "medium" else {},
                    peer=f"{family}-{level}",
                )
            )
    for level in levels:
        cases.append(Case(f"lpc-{level}", "lpc", level, make=lambda lv=level: lpc(lv, threads)))
    if "medium" in levels:
        cases.append(Case("peer:mtscomp", "mtscomp", "medium", make=mtscomp_peer))
        cases.append(Case("pcodec-8-channel-major", "pcodec", "medium", make=lambda: pcodec(8, "F", c_order=True)))
        cases.append(Case("pcodec-8-time-major", "pcodec", "medium", make=lambda: pcodec(8, "C")))
    return cases


def near_lossless_cases(threads, errors=NEAR_LOSSLESS_ERRORS):
    """EphysLPC with max_error k, beside WavPack hybrid in the lossy table."""
    return [
        Case(
            f"lpc-max_error-{k}",
            "lpc-near",
            make=lambda k=k: lpc("medium", threads, max_error=k),
            extra={"max_error": k},
        )
        for k in errors
    ]


def delta_filter(kind, threads):
    return {
        "none": (),
        "1d": (Delta(dtype="int16"),),
        "2d-time": (Delta2D("time", num_threads=threads),),
        "2d-space": (Delta2D("space", num_threads=threads),),
        "2d-time-space": (Delta2D("time+space", num_threads=threads),),
    }[kind]


def delta_cases(threads, full=False, families=("wavpack", "flac", "lpc", "blosc-zstd")):
    """The four delta variants for the paper's best lossless codecs (`full` adds lzma, the
    fourth best, whose medium level codes under 1 MB/s)."""
    cases = []
    chosen = [(f, "medium") for f in families] + ([("lzma", "medium")] if full else [])
    for family, level in chosen:
        for kind in DELTAS:

            def make(f=family, lv=level, k=kind):
                codec, filters = (
                    ours(f, lv, threads)
                    if f in ("wavpack", "flac")
                    else lpc(lv, threads)
                    if f == "lpc"
                    else general_codec(f, lv, PAPER_SHUFFLE[f])
                )
                return codec, delta_filter(k, threads) + tuple(filters)

            paper = {"np1": PAPER_DELTA[(family, kind)]} if (family, kind) in PAPER_DELTA else {}
            cases.append(Case(f"{family}-{level}+{kind}", family, level, make=make, paper=paper, extra={"delta": kind}))
    return cases


def hybrid_cases(threads, peer_bps=HYBRID_BPS):
    """WavPack hybrid at every bps of the paper; the peer at `peer_bps`."""
    cases = []
    for bps in HYBRID_BPS:
        cases.append(
            Case(
                f"wavpack-hybrid-{bps}",
                "wavpack-hybrid",
                make=lambda b=bps: (WavPack(level=2, bps=b, num_threads=threads), ()),
                paper=PAPER_HYBRID_CR.get(bps, {}),
                extra={"bps": bps},
            )
        )
        if bps not in peer_bps:
            continue
        cases.append(
            Case(
                f"peer:wavpack-numcodecs-hybrid-{bps}",
                "wavpack-hybrid",
                make=lambda b=bps: peer("wavpack", "medium", bps=b),
                extra={"bps": bps},
                peer=f"wavpack-hybrid-{bps}",
            )
        )
    return cases


def truncation_cases(threads):
    cases = []
    for bits in TRUNCATION_BITS:
        cases.append(
            Case(
                f"bittrunc-{bits}+blosc-zstd",
                "bittrunc+blosc-zstd",
                make=lambda b=bits: (
                    Blosc("zstd", clevel=9, shuffle=Blosc.BITSHUFFLE),
                    (BitTruncation(bits=b, num_threads=threads),),
                ),
                paper={p: v[bits] for p, v in PAPER_TRUNCATION_CR.items() if bits in v},
                extra={"bits": bits},
            )
        )
        cases.append(
            Case(
                f"bittrunc-{bits}+wavpack",
                "bittrunc+wavpack",
                make=lambda b=bits: (WavPack(num_threads=threads), (BitTruncation(bits=b, num_threads=threads),)),
                extra={"bits": bits},
            )
        )
    return cases


def lsb_filters(rec, threads):
    """Our lossless LSB filter when the recording sits on a grid coarser than 1, else none."""
    offsets, steps = estimate_lsb(rec.traces)
    if np.allclose(steps, 1.0) and np.allclose(offsets, 0.0):
        return ()
    return (
        LSB(
            offsets=list(map(float, offsets)),
            steps=steps if np.isscalar(steps) else list(map(float, steps)),
            num_threads=threads,
        ),
    )


class LossyLSB(Codec):
    """spikeinterface's correct_lsb, for comparison: subtract the median, floor-divide by the step."""

    codec_id = "bench_lossy_lsb"

    def __init__(self, medians, step):
        self.medians, self.step = np.asarray(medians), float(step)

    def encode(self, buf):
        return np.floor_divide(buf - self.medians, self.step).astype(np.int16)

    def decode(self, buf, out=None):
        q = ensure_ndarray(buf).view(np.int16).reshape(-1, len(self.medians))
        return np.round(q * self.step + self.medians).astype(np.int16)


def registry(threads=None):
    """Every case of the report's tables, by name (every level and shuffle)."""
    every = (
        lossless_cases(threads, full=True)
        + near_lossless_cases(threads)
        + delta_cases(threads, full=True)
        + hybrid_cases(threads)
        + truncation_cases(threads)
    )
    return {case.name: case for case in every}


# the cases that asv and pytest-benchmark time
SPEED_CASES = (
    "wavpack-medium",
    "wavpack-hybrid-3",
    "wavpack-hybrid-2.25",
    "flac-medium",
    "lpc-medium",
    "lpc-max_error-2",
    "pcodec-8-channel-major",
    "blosc-zstd-high-bit",
    "zstd-low-none",
    "blosc-zstd-medium+2d-time",
    "peer:wavpack-numcodecs-medium",
    "peer:flac-numcodecs-medium",
)


def speed_cases(threads=None):
    every = registry(threads)
    return {name: every[name] for name in SPEED_CASES}


def speed_chunk(probe, seconds):
    """The chunk the speed suites time: `seconds` of a simulated 384-channel probe in ADC
    steps (the simulated probes sit on an integer grid, as the report's lossy tables use them)."""
    return np.ascontiguousarray(on_adc_grid(simulated_recording(probe, seconds, 384, seed=1)).traces)


# ---- the spike-sorting benchmark's ways of storing a recording --------------------------------


@dataclass
class Setting:
    """One way of storing a recording for the sorting benchmark: `chains` maps a label to a
    factory of (codec, filters); the first chain's decoded data is what gets sorted, the
    others must decode to the same data (their CR is reported beside). `preprocessed`: the
    setting stores the preprocessed float32 recording (ground_truth.preprocessed), not the
    int16 ADC steps."""

    name: str
    mode: str
    value: object
    chains: dict = field(default_factory=dict)  # name -> callable
    preprocessed: bool = False

    def columns(self, crs):
        """The columns of a result row that name this setting, and its CR (the first chain's)."""
        return dict(
            setting=self.name,
            mode=self.mode,
            value="" if self.value is None else self.value,
            cr=next(iter(crs.values())),
        )


def sorting_settings(threads=1):
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
    settings += [
        Setting(f"lpc-max_error-{k}", "lpc-max-error", k, {"lpc": lambda k=k: lpc("medium", threads, max_error=k)})
        for k in SORTING_MAX_ERRORS
    ]
    settings += [
        Setting(
            f"lpc-float-max_error-{uv}uV",
            "lpc-float-max-error",
            uv,
            {"lpc": lambda uv=uv: lpc("medium", threads, max_error=float(uv))},
            preprocessed=True,
        )
        for uv in SORTING_FLOAT_MAX_ERRORS_UV
    ]
    return settings
