"""The chunk manifest: every chunk a store must hold, with its stored size and checksum.

zarr reads a chunk that is absent from a store as the array's fill value, without a word,
and an object lost from a bucket is a real event. So compress_file writes every chunk
(all-zero ones too), and records them in the store's ``chunk_manifest.json``; the root
attribute ``numcodecs_ephys.manifest`` holds the manifest's own SHA-256. open_recording
checks that every chunk is there with its recorded size; each chunk read is checked
against its checksum before it is decoded. A chunk that is missing or differs raises
:class:`ChunkError`, naming the array, the chunk and its time range.
"""

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

from .._extension import ffi, lib

MANIFEST_KEY = "chunk_manifest.json"
FORMAT = "numcodecs-ephys chunk manifest"
VERSION = 2
# a chunk's checksum in each manifest version. Version 1 recorded SHA-256s; version 2 records
# CRC-32Cs, as S3 and GCS do for objects: a damaged or lost chunk is what is looked for, not a
# forger, and the CPU's crc32 instruction checks the stored bytes at ~28 GB/s, where SHA-256 cost
# the coders 0.12 core-s per GB of samples (a twentieth of EphysLPC's coding) and every reader as much
CHECKSUMS = {1: "sha256", 2: "crc32c"}


class StoreError(ValueError):
    """A store that is not one of this package's, or whose data do not check out."""


class ChunkError(StoreError):
    """Chunks of a store that are missing or differ from its manifest (the message names each)."""


def digest(data) -> str:
    return hashlib.sha256(data).hexdigest()


def crc32c(data) -> str:
    view = memoryview(data)
    return f"{lib.ephys_crc32c(0, ffi.from_buffer(view), view.nbytes):08x}"


CHECKSUM_FUNCTIONS = {"sha256": digest, "crc32c": crc32c}
LABELS = {"sha256": "SHA-256", "crc32c": "CRC-32C", "sha1": "SHA1"}  # as messages name them


class DataChecksums:
    """Checksums of a recording's samples, fed in file order: what decompress and verify
    compare the decoded whole with.

    CRC-32C always: the CPU's crc32 instruction runs at ~28 GB/s, so the whole file costs
    0.04 core-s/GB. SHA-1 only where ``sha1``: even with the CPU's SHA instructions it costs
    0.46 core-s/GB, a fifth of what EphysLPC spends coding, so compress_file computes it only
    to compare with the SHA-1 a source records itself (SpikeGLX's ``fileSHA1``, mtscomp's),
    and decompress and verify only for a store that records no CRC-32C (written before it)."""

    def __init__(self, sha1=False):
        self.crc32c = 0  # of the bytes so far
        self._sha1 = hashlib.sha1() if sha1 else None

    def update(self, samples):
        samples = np.ascontiguousarray(samples)
        self.crc32c = lib.ephys_crc32c(self.crc32c, ffi.from_buffer(samples), samples.nbytes)
        if self._sha1 is not None:
            self._sha1.update(samples)

    def record(self) -> dict:
        """{"crc32c": 8 hex digits, "sha1": 40 hex digits or None}, as a store's source records them."""
        return {"crc32c": f"{self.crc32c:08x}", "sha1": self._sha1.hexdigest() if self._sha1 else None}

    @classmethod
    def for_store(cls, source_record):
        """The checksums to compute to check a store's decoded samples against its source record."""
        return cls(sha1=not source_record.get("crc32c"))

    def mismatch(self, source_record):
        """'the decoded data's CRC-32C ... differs from the original's (...)', or None."""
        ours = self.record()
        for name in ("crc32c", "sha1"):
            if ours[name] is not None and source_record.get(name):
                if ours[name] != source_record[name]:
                    return (
                        f"the decoded data's {LABELS[name]} {ours[name]} differs from the original's "
                        f"({source_record[name]})"
                    )
                return None
        return "the store records no checksum of the original data"


@dataclass
class ArrayChunks:
    """The chunks of one (time, channels) array: chunk i holds samples [i * chunk_len, ...)."""

    key_template: str  # "traces_seg0/{i}.0" (zarr format 2) or "traces_seg0/c/{i}/0" (format 3)
    chunk_len: int
    n_samples: int
    sizes: list = field(default_factory=list)  # stored bytes of chunk i
    checksums: list = field(default_factory=list)  # hex checksum of chunk i's stored bytes

    @property
    def n_chunks(self):
        return -(-self.n_samples // self.chunk_len)

    def key(self, i):
        return self.key_template.format(i=i)

    def bounds(self, i):
        return i * self.chunk_len, min((i + 1) * self.chunk_len, self.n_samples)


@dataclass
class Manifest:
    sampling_frequency: float
    arrays: dict  # array name -> ArrayChunks
    version: int = VERSION  # that of a manifest read, whose checksums are CHECKSUMS[version]

    def checksum(self, data) -> str:
        return CHECKSUM_FUNCTIONS[CHECKSUMS[self.version]](data)

    def to_bytes(self) -> bytes:
        doc = {
            "format": FORMAT,
            "version": self.version,
            "checksum": CHECKSUMS[self.version],
            "sampling_frequency": self.sampling_frequency,
            "arrays": {
                name: {
                    "key_template": a.key_template,
                    "chunk_len": a.chunk_len,
                    "n_samples": a.n_samples,
                    "chunks": [[size, h] for size, h in zip(a.sizes, a.checksums)],
                }
                for name, a in self.arrays.items()
            },
        }
        return json.dumps(doc, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data, where):
        try:
            doc = json.loads(data)
            version = doc.get("version")
            if doc.get("format") != FORMAT or version not in CHECKSUMS or doc.get("checksum") != CHECKSUMS[version]:
                raise ValueError(f"format {doc.get('format')!r} version {version!r} checksum {doc.get('checksum')!r}")
            arrays = {}
            for name, a in doc["arrays"].items():
                chunks = a["chunks"]
                arrays[name] = ArrayChunks(
                    a["key_template"],
                    int(a["chunk_len"]),
                    int(a["n_samples"]),
                    [int(c[0]) for c in chunks],
                    [str(c[1]) for c in chunks],
                )
                if len(chunks) != arrays[name].n_chunks:
                    raise ValueError(f"{name} lists {len(chunks)} chunks, its shape needs {arrays[name].n_chunks}")
            return cls(float(doc["sampling_frequency"]), arrays, version)
        except (ValueError, KeyError, TypeError, IndexError) as e:
            raise StoreError(f"{where}: unreadable chunk manifest ({e})") from None

    def describe(self, name, i):
        """'chunk 3 of traces_seg0 (samples 90000-120000, 3.000-4.000 s)'."""
        t0, t1 = self.arrays[name].bounds(i)
        fs = self.sampling_frequency
        return f"chunk {i} of {name} (samples {t0}-{t1}, {t0 / fs:.3f}-{t1 / fs:.3f} s)"

    def listing_problems(self, sizes):
        """What a listing of the store (key -> stored size) lacks or holds wrongly, one line each."""
        problems = []
        for name, a in self.arrays.items():
            for i in range(a.n_chunks):
                size = sizes.get(a.key(i))
                if size is None:
                    problems.append(f"{self.describe(name, i)} is missing")
                elif a.sizes and size != a.sizes[i]:
                    problems.append(f"{self.describe(name, i)} has {size} bytes, the manifest records {a.sizes[i]}")
        return problems

    def chunk_problem(self, name, i, data):
        """Why the stored bytes of chunk i of array name are not the ones written, or None."""
        a = self.arrays[name]
        if data is None:
            return f"{self.describe(name, i)} is missing"
        if not a.checksums:  # a store written before manifests: presence is all that is known
            return None
        if len(data) != a.sizes[i]:
            return f"{self.describe(name, i)} has {len(data)} bytes, the manifest records {a.sizes[i]}"
        if self.checksum(data) != a.checksums[i]:
            kind = LABELS[CHECKSUMS[self.version]]
            return f"{self.describe(name, i)} differs from the manifest ({kind} mismatch: the chunk is damaged)"
        return None


def chunk_error(store, problems, limit=20):
    """A ChunkError for a store naming every problem (the first ``limit`` of them in full)."""
    if len(problems) == 1:
        return ChunkError(f"{store}: {problems[0]}")
    lines = problems[:limit] + ([f"... and {len(problems) - limit} more"] if len(problems) > limit else [])
    return ChunkError(f"{store} has {len(problems)} missing or damaged chunks:\n  " + "\n  ".join(lines))
