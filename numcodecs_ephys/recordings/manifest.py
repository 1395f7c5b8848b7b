"""The chunk manifest: every chunk a store must hold, with its stored size and SHA-256.

zarr reads a chunk that is absent from a store as the array's fill value, without a word,
and an object lost from a bucket is a real event. So compress_file writes every chunk
(all-zero ones too), and records them in the store's ``chunk_manifest.json``; the root
attribute ``numcodecs_ephys.manifest`` holds the manifest's own SHA-256. open_recording
checks that every chunk is there with its recorded size; each chunk read is checked
against its SHA-256 before it is decoded. A chunk that is missing or differs raises
:class:`ChunkError`, naming the array, the chunk and its time range.
"""

import hashlib
import json
from dataclasses import dataclass, field

MANIFEST_KEY = "chunk_manifest.json"
FORMAT = "numcodecs-ephys chunk manifest"
VERSION = 1


class StoreError(ValueError):
    """A store that is not one of this package's, or whose data do not check out."""


class ChunkError(StoreError):
    """Chunks of a store that are missing or differ from its manifest (the message names each)."""


def digest(data) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class ArrayChunks:
    """The chunks of one (time, channels) array: chunk i holds samples [i * chunk_len, ...)."""

    key_template: str  # "traces_seg0/{i}.0" (zarr format 2) or "traces_seg0/c/{i}/0" (format 3)
    chunk_len: int
    n_samples: int
    sizes: list = field(default_factory=list)  # stored bytes of chunk i
    sha256: list = field(default_factory=list)  # hex digest of chunk i's stored bytes

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

    def to_bytes(self) -> bytes:
        doc = {
            "format": FORMAT,
            "version": VERSION,
            "checksum": "sha256",
            "sampling_frequency": self.sampling_frequency,
            "arrays": {
                name: {
                    "key_template": a.key_template,
                    "chunk_len": a.chunk_len,
                    "n_samples": a.n_samples,
                    "chunks": [[size, h] for size, h in zip(a.sizes, a.sha256)],
                }
                for name, a in self.arrays.items()
            },
        }
        return json.dumps(doc, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data, where):
        try:
            doc = json.loads(data)
            if doc.get("format") != FORMAT or doc.get("version") != VERSION:
                raise ValueError(f"format {doc.get('format')!r} version {doc.get('version')!r}")
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
            return cls(float(doc["sampling_frequency"]), arrays)
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
        if not a.sha256:  # a store written before manifests: presence is all that is known
            return None
        if len(data) != a.sizes[i]:
            return f"{self.describe(name, i)} has {len(data)} bytes, the manifest records {a.sizes[i]}"
        if digest(data) != a.sha256[i]:
            return f"{self.describe(name, i)} differs from the manifest (SHA-256 mismatch: the chunk is damaged)"
        return None


def chunk_error(store, problems, limit=20):
    """A ChunkError for a store naming every problem (the first ``limit`` of them in full)."""
    if len(problems) == 1:
        return ChunkError(f"{store}: {problems[0]}")
    lines = problems[:limit] + ([f"... and {len(problems) - limit} more"] if len(problems) > limit else [])
    return ChunkError(f"{store} has {len(problems)} missing or damaged chunks:\n  " + "\n  ".join(lines))
