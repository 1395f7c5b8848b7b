"""Mutation campaign: every decoder of the package fed valid chunks with random damage.

    python tests/mutation_campaign.py                 # tens of thousands of decodes per codec
    python tests/mutation_campaign.py --decodes 2000000
    make sanitize                                     # the same, built with ASan and UBSan

Half of the damaged chunks of our own formats get a valid header checksum again (as a
hostile writer could), so that the damage reaches the codec streams. Each codec runs in
a child process so that a crash (a sanitizer report aborts the child)
is counted, not fatal. Every mutated chunk is decoded, half the time into a caller's
``out`` of another layout (Fortran order, strided, unaligned), and its outcome counted:

- ``ValueError``: refused with the package's error (what damage should give);
- ``correct``: decoded to the original array (the damage hit nothing that matters, or
  was a no-op);
- ``other valid``: decoded without error to an array of another shape or dtype (a
  splice that forms another valid chunk);
- ``wrong data``: decoded without error to an array of the original shape and dtype
  whose values differ: what checksums exist to prevent;
- ``other error``: any other exception;
- ``crash``: the child died (sanitizer report, segfault).

Before mutating, each child also encodes and decodes every layout (C, Fortran, strided,
unaligned) and dtype the codec takes, so that the sanitizers see the encode side too.
The run fails on any crash, other error or layout round-trip failure, and on any wrong
data from a codec that carries a checksum (ours, and the legacy formats whose own
checksums cover every byte). Counts go to stdout as a table.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

# codec name -> (does its format detect every damaged byte?)
CODECS = {
    "WavPack": True,
    "WavPack hybrid": True,
    "WavPackNumcodecsFormat": True,
    "FLAC": True,
    "FLACNumcodecsFormat": True,
    "Delta2D": True,
    "BitTruncation": True,
    "LSB": True,
    "LSB float32": True,
    "HDF5 WavPack": True,
    "HDF5 FLAC": True,
    "EphysLPC": True,
    "EphysLPC near-lossless": True,
    "EphysLPC float": True,
    "EphysLPC float bounded": True,
    "HDF5 EphysLPC": True,
    "HDF5 EphysLPC float": True,
}
OUTCOMES = ("decodes", "ValueError", "correct", "other valid", "wrong data", "other error", "crash")


def signal(rng, n, channels, dtype):
    """Correlated noise with spikes of the kind the codecs see, in the dtype's range."""
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    x = np.cumsum(rng.normal(0, 3, (n, channels)), axis=0) * 0.3 + rng.normal(0, 8, (n, channels))
    x[rng.integers(0, n, 3)] += rng.normal(0, 200, (3, channels))
    if info is not None:  # unsigned: around the middle of the range, as Intan's uint16
        x = np.clip(x + (info.max // 2 + 1 if info.min == 0 else 0), info.min, info.max)
    return x.astype(dtype)


def codec_cases(name, rng):
    """(codec, list of original arrays, dtypes to try in layout round trips)."""
    import numcodecs_ephys as ne

    i16 = [signal(rng, 300, 6, "int16"), signal(rng, 64, 1, "int16")[:, 0], signal(rng, 200, 5, "int16")]
    if name == "WavPack":
        return (
            ne.WavPack(block_channels=2),
            i16 + [signal(rng, 100, 3, "int32"), signal(rng, 50, 4, "float32"), signal(rng, 150, 5, "uint16")],
            ("int8", "int16", "int32", "float32", "uint8", "uint16", "uint32"),
        )
    if name == "WavPack hybrid":
        return ne.WavPack(bps=3, block_channels=2), i16, ("int16", "int32", "uint16")
    if name == "WavPackNumcodecsFormat":
        return ne.WavPackNumcodecsFormat(), i16, ("int16", "int32")
    if name == "FLAC":
        return (
            ne.FLAC(block_channels=4, blocksize=64),
            i16 + [signal(rng, 100, 3, "int8"), signal(rng, 150, 5, "uint16")],
            ("int8", "int16", "uint8", "uint16"),
        )
    if name == "FLACNumcodecsFormat":
        return (
            ne.FLACNumcodecsFormat(blocksize=64),
            [signal(rng, 300, 2, "int16"), signal(rng, 200, 1, "int16")[:, 0]],
            ("int16",),
        )
    if name == "Delta2D":
        return ne.Delta2D(axis="time+space"), i16, ("int8", "int16", "int32", "int64")
    if name == "BitTruncation":
        return ne.BitTruncation(bits=2), i16, ("int16", "int32")
    if name == "LSB":
        grid = [np.round(np.round(signal(rng, 300, 6, "float64") / 24.0384) * 24.0384).astype("int16")]
        return ne.LSB(offsets=0.0, steps=24.0384), grid, ("int16",)
    if name == "LSB float32":  # SpikeInterface's scaled traces: int16 x gain, one value off the grid
        step = float(np.float32(0.195))
        scaled = (np.round(signal(rng, 300, 6, "float64")) * np.float32(step)).astype("float32")
        scaled[7, 2] = np.inf
        return ne.LSB(offsets=0.0, steps=step), [scaled], ("float32",)
    if name == "EphysLPC":
        return (
            ne.EphysLPC(block_channels=3),
            i16
            + [
                signal(rng, 100, 3, "int32"),
                signal(rng, 80, 2, "int8"),
                signal(rng, 200, 4, "int16") * 12,
                signal(rng, 150, 5, "uint16"),
                # values on a grid of ~24.04 counts: value dictionaries (stream version 6)
                np.round(np.round(signal(rng, 600, 4, "float64") / 3) * 24.0384 + 0.3).astype("int16"),
                # blocks of 3 channels cut into 8 time segments, the last one padded (stream version 7)
                signal(rng, 1001, 3, "int16"),
            ],
            ("int8", "int16", "int32", "uint8", "uint16", "uint32"),
        )
    if name == "EphysLPC near-lossless":
        return (
            ne.EphysLPC(max_error=2, block_channels=3),
            i16 + [signal(rng, 1001, 3, "int16")],
            ("int8", "int16", "int32"),
        )
    if name == "EphysLPC float":  # every stream mode: grid (exact, up to rounding, gappy), split; specials
        return ne.EphysLPC(block_channels=3), float_chunks(rng), ("float32", "float64")
    if name == "EphysLPC float bounded":
        return ne.EphysLPC(max_error=0.25, block_channels=3), float_chunks(rng)[2:], ("float32", "float64")
    raise KeyError(name)


def with_nan_gaps(x):
    """x with a quarter of its rows NaN on every channel, and its second channel NaN throughout."""
    x = np.array(x)
    x[len(x) // 4 : len(x) // 2] = np.nan
    x[:, 1] = np.nan
    return x


def with_specials(rng, x):
    """x with NaNs (with payloads), infinities, -0.0 and subnormals written over a few samples."""
    x = np.array(x)
    bits = x.view(f"u{x.itemsize}").reshape(-1)
    nan, inf, negative_zero = np.array([np.nan, np.inf, -0.0], x.dtype).view(bits.dtype)
    specials = [nan | 5, inf, inf | negative_zero, bits.dtype.type(1), negative_zero]  # NaN payload 5, +-inf, 1 ulp, -0
    for v in specials:
        bits[int(rng.integers(bits.size))] = v
    return x


def float_chunks(rng):
    """Float chunks of every stream-version-5 mode (grid, gappy grid, split, channel grids, raw), with specials."""
    counts = np.round(signal(rng, 300, 5, "float64"))
    return [
        with_specials(rng, (counts * 0.195 + 1.5).astype("float32")),  # grid, up to rounding
        (np.round(counts / 24.04) * 24.04 * 0.195).astype("float32"),  # gappy grid
        with_specials(rng, signal(rng, 300, 5, "float32") / 3.7),  # split
        with_specials(rng, counts * 2.34375),  # float64 grid
        with_specials(rng, signal(rng, 200, 4, "float64") / 3.7),  # float64 split
        # channel grids: float32 gains and offsets of each channel's own, in float32 arithmetic
        with_specials(rng, counts.astype("float32") * np.float32([2.31, 2.35, 2.4, 2.28, 2.33]) + np.float32(41.7)),
        with_specials(rng, (counts + rng.uniform(-0.2, 0.2, 5)) * (10 / 32768)),  # float64 channel offsets
        # float64 calibrated gains of each channel's own on uint16 counts, offset -32768 gains (the ulp scan)
        (counts + 32768) * (g := 0.195 * (1 + rng.normal(0, 0.01, 5))) - 32768 * g,
        with_nan_gaps(counts.astype("float32") * np.float32(0.195)),  # raw exceptions that repeat
        rng.integers(0, 2**32, (200, 3), dtype=np.uint32).view("float32"),  # raw: random bits
        rng.integers(0, 2**63, (150, 4), dtype=np.uint64).view("float64"),
    ]


def layouts(x):
    """x in every layout a writer may hand over (and have decoded into)."""
    yield "C", np.ascontiguousarray(x)
    if x.ndim > 1:
        yield "F", np.asfortranarray(x)
    wide = np.zeros((x.shape[0] * 2,) + x.shape[1:], x.dtype)
    wide[::2] = x
    yield "strided", wide[::2]
    raw = bytearray(x.nbytes + 1)
    unaligned = np.frombuffer(raw, x.dtype, offset=1).reshape(x.shape)
    unaligned[...] = x
    yield "unaligned", unaligned


def check_layouts(codec, dtypes, rng):
    """Encode every layout and dtype, decode into every layout: all must round-trip (lossy: same values)."""
    failures = []
    # flac-numcodecs flattens more than 2 channels into one, which it then hands back as bytes
    channels = 2 if codec.codec_id == "flac" else 4
    for dtype in dtypes:
        x = signal(rng, 120, channels, dtype)
        reference = codec.decode(codec.encode(x))
        for lname, arr in layouts(x):
            enc = codec.encode(arr)
            if not np.array_equal(codec.decode(enc), reference):
                failures.append(f"{dtype} {lname}: wrong values")
            for oname, out in layouts(np.zeros_like(x)):
                codec.decode(enc, out=out)
                if not np.array_equal(out, reference):
                    failures.append(f"{dtype} {lname} -> out {oname}: wrong values")
    return failures


def reseal(b):
    """Make the header checksum of a damaged chunk of our formats valid again, as a hostile
    writer would, so that the damage reaches the stream decoders behind it and only the
    checksums of the samples stand between it and wrong data."""
    from numcodecs_ephys._extension import lib

    if len(b) >= 20 and b[:4] == b"NCEP" and b[4] == 2:
        end = 20 + 4 * b[7] + 8 * int.from_bytes(b[12:16], "little") + 4
        if end <= len(b):
            b[end - 4 : end] = lib.ephys_crc32c(0, bytes(b[: end - 4]), end - 4).to_bytes(4, "little")
    elif len(b) >= 40 and b[:4] == b"EPHF" and b[4] == 2 and b[7] <= 8 and len(b) >= 40 + 8 * b[7]:
        crc = lib.ephys_crc32c(0, bytes(b[:36]), 36)
        b[36:40] = lib.ephys_crc32c(crc, bytes(b[40 : 40 + 8 * b[7]]), 8 * b[7]).to_bytes(4, "little")
    return b


def mutate(rng, chunk, donors):
    b = bytearray(chunk)
    for _ in range(int(rng.integers(1, 4))):
        kind = int(rng.integers(8))
        if not b:
            b = bytearray(rng.integers(0, 256, 8, dtype=np.uint8).tobytes())
        pos = int(rng.integers(len(b)))
        if kind <= 2:  # flip a bit (the most common damage)
            b[pos] ^= 1 << int(rng.integers(8))
        elif kind == 3:
            b[pos] = int(rng.integers(256))
        elif kind == 4:
            del b[pos:]
        elif kind == 5:
            b += rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
        elif kind == 6:  # splice a piece of another valid chunk of the same codec
            donor = donors[int(rng.integers(len(donors)))]
            start = int(rng.integers(len(donor)))
            piece = donor[start : start + int(rng.integers(1, 256))]
            b[pos : pos + len(piece)] = piece
        else:  # repeat or drop a range (a duplicated or lost block)
            end = pos + int(rng.integers(1, 256))
            b[pos:pos] = b[pos:end] if rng.integers(2) else b""
            if not rng.integers(3):
                del b[pos:end]
    return bytes(reseal(b) if rng.integers(2) else b)


def run_codec(name, decodes, seed):
    rng = np.random.default_rng(seed)
    counts = dict.fromkeys(OUTCOMES, 0)
    if name.startswith("HDF5"):
        return run_hdf5(name, decodes, rng, counts)
    codec, originals, dtypes = codec_cases(name, rng)
    failures = check_layouts(codec, dtypes, rng)
    chunks = [bytes(np.asarray(codec.encode(x)).tobytes()) for x in originals]
    decoded_originals = [np.asarray(codec.decode(c)) for c in chunks]  # lossy codecs: what decoding gives
    for _ in range(decodes):
        k = int(rng.integers(len(chunks)))
        damaged = mutate(rng, chunks[k], chunks)
        original = decoded_originals[k]
        counts["decodes"] += 1
        try:
            if rng.integers(2):
                got = codec.decode(damaged)
            else:
                outs = [arr for _, arr in layouts(np.zeros_like(original))]
                got = codec.decode(damaged, out=outs[int(rng.integers(len(outs)))])
        except ValueError:
            counts["ValueError"] += 1
            continue
        except Exception as exc:  # noqa: BLE001 - counted, and fails the run
            counts["other error"] += 1
            failures.append(f"{type(exc).__name__}: {exc}")
            continue
        arr = np.asarray(got)
        if arr.shape != original.shape or arr.dtype != original.dtype:
            counts["other valid"] += 1
        elif np.ascontiguousarray(arr).tobytes() == np.ascontiguousarray(original).tobytes():  # NaN payloads too
            counts["correct"] += 1
        else:
            counts["wrong data"] += 1
    return counts, failures[:5]


def run_hdf5(name, decodes, rng, counts):
    """Damaged chunks written into an HDF5 dataset with write_direct_chunk, read through the plugin."""
    import tempfile

    import h5py

    import numcodecs_ephys.hdf5 as eh5

    flt = (
        eh5.WavPackH5(block_channels=2)
        if "WavPack" in name
        else eh5.LPCH5(block_channels=2)
        if "EphysLPC" in name
        else eh5.FLACH5(block_channels=2, blocksize=64)
    )
    x = signal(rng, 256, 4, ("int16", "uint16")[int(rng.integers(2))])
    if "float" in name:
        x = with_specials(rng, signal(rng, 256, 4, ("float32", "float64")[int(rng.integers(2))]))
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "c.h5")
        with h5py.File(path, "w") as f:
            dset = f.create_dataset("x", data=x, chunks=x.shape, **flt)
            _, chunk = dset.id.read_direct_chunk((0, 0))
            for _ in range(decodes):
                counts["decodes"] += 1
                dset.id.write_direct_chunk((0, 0), mutate(rng, chunk, [chunk]))
                try:
                    got = dset[()]
                except OSError:  # HDF5: "filter returned failure"
                    counts["ValueError"] += 1
                    continue
                counts["correct" if got.tobytes() == x.tobytes() else "wrong data"] += 1
    return counts, failures


def child_main(args):
    counts, failures = run_codec(args.codec, args.decodes, args.seed)
    print(json.dumps({"counts": counts, "failures": failures}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decodes", type=int, default=20000, help="decodes per codec (default 20000)")
    parser.add_argument("--hdf5-decodes", type=int, default=None, help="decodes per HDF5 filter (default decodes/10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--codec", help=argparse.SUPPRESS)  # child process
    args = parser.parse_args()
    if args.codec:
        return child_main(args)
    import numcodecs_ephys._native as native

    print(f"decoding with {native.__file__}")
    rows, bad = [], []
    for name, checked in CODECS.items():
        n = args.decodes if not name.startswith("HDF5") else (args.hdf5_decodes or max(1, args.decodes // 10))
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, __file__, "--codec", name, "--decodes", str(n), "--seed", str(args.seed)],
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - start
        if proc.returncode:
            counts = dict.fromkeys(OUTCOMES, 0)
            counts["crash"] = 1
            bad.append(f"{name}: crashed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
        else:
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            counts = result["counts"]
            bad += [f"{name}: {f}" for f in result["failures"]]
            if proc.stderr.strip() and ("runtime error" in proc.stderr or "Sanitizer" in proc.stderr):
                bad.append(f"{name}: sanitizer report:\n{proc.stderr[-4000:]}")
            if checked and counts["wrong data"]:
                bad.append(f"{name}: {counts['wrong data']} damaged chunks decoded to wrong data without an error")
        rows.append([name] + [counts[k] for k in OUTCOMES] + [f"{seconds:.0f} s"])
    widths = [max(len(str(r[i])) for r in rows + [["codec", *OUTCOMES, "time"]]) for i in range(len(OUTCOMES) + 2)]
    for row in [["codec", *OUTCOMES, "time"]] + rows:
        print("  ".join(str(v).rjust(w) for v, w in zip(row, widths)))
    for line in bad:
        print("FAIL", line)
    print(f"{len(rows) - len({b.split(':')[0] for b in bad})} passed, {len({b.split(':')[0] for b in bad})} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
