"""Whole recordings to zarr stores and back: compress_file, decompress_file, open_recording,
verify_store, store_info.

The store is SpikeInterface's zarr recording layout (``traces_seg0`` of shape (time,
channels), ``channel_ids``, ``properties/gain_to_uV``, ``sampling_frequency``...), so
``spikeinterface.load`` / ``read_zarr`` open it as a recording. What decompression needs
to give back the original file byte for byte (file name, size, checksums, the .meta / .oebin
text) is in the root attribute ``numcodecs_ephys``.

Inputs and stores may be local paths or fsspec URLs (``s3://``, ``gs://``, ``file://``).
Chunks (``chunk_duration`` of all channels) are coded on one thread per core while the next
ones are read and the input's checksums computed (or as dask tasks with a scheduler), each checked by
decoding it on the thread that coded it and written straight into the store; every chunk
is written, all-zero ones too, and recorded in the store's chunk manifest (manifest.py).
The zarr metadata, which makes the store readable, is written last (storage.py). Reading
(open_recording, decompress_file, verify_store) checks every chunk against the manifest:
a lost or damaged chunk is an error naming the array, the chunk and its time range, never zeros.
"""

import contextlib
import json
import os
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from .._threads import threads
from .._version import __version__
from ..flac import FLAC
from ..lpc import EphysLPC
from ..wavpack import WavPack
from .locations import RemoteFile, is_url, location
from .manifest import MANIFEST_KEY, ArrayChunks, DataChecksums, Manifest, StoreError, chunk_error, crc32c, digest
from .manifest import ChunkError as ChunkError  # re-exported: what reading a damaged store raises
from .sources import RecordingError, Source, open_source
from .storage import Output, StoreKeys, remove_local

# --codec name -> class of numcodecs_ephys. Every lossless codec of the package belongs here.
CODECS = {"wavpack": WavPack, "flac": FLAC, "lpc": EphysLPC}
DEFAULT_CODEC = "lpc"
DEFAULT_CHUNK_DURATION = 1.0  # seconds of all channels per chunk
DEFAULT_ZARR_FORMAT = 2  # what SpikeInterface's zarr 2 stack reads; zarr-python 3 reads it too
ATTRS_KEY = "numcodecs_ephys"  # root attribute with everything this module records
TRACES = "traces_seg0"  # SpikeInterface's name for the traces of segment 0
# Channels without a probe contact (SpikeGLX's sync channel) when the others have one: kept here,
# beside the traces, so that SpikeInterface sees exactly the probe's channels (as its SpikeGLX reader does)
OTHER = "other_channels_seg0"
LSB_SAMPLE_CHUNKS = 10  # chunks read to estimate an Open Ephys stream's grid
COMPARE_SAMPLES = 1 << 18  # compared at a time by _identical
REMOTE_DEPTH = 4  # chunks read ahead, and coded at once, when a bucket is read or written (round trips overlap)


def _identical(a, b):
    """Equal bit for bit: float samples too (NaN payloads, -0.0), which == would not tell apart."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind == "f":
        a, b = a.view(f"u{a.itemsize}"), b.view(f"u{b.itemsize}")
    # a slice of rows at a time: array_equal's temporary stays small enough for malloc to reuse,
    # where one the chunk's size would be new memory that the kernel zeroes for every chunk
    rows = max(1, COMPARE_SAMPLES // max(1, a[:1].size))
    return all(np.array_equal(a[i : i + rows], b[i : i + rows]) for i in range(0, len(a), rows))


def make_codec(name=DEFAULT_CODEC, level=None, bps=None, num_threads=None, max_error=None):
    """The numcodecs codec for a --codec name, level and lossy bits per sample or error bound
    (None: lossless); num_threads overrides the process-wide thread count for this instance only.
    ``max_error`` (EphysLPC): a whole number is the bound for integer and float samples alike, a
    fraction (0.25) takes float samples only, in their units."""
    if name not in CODECS:
        raise ValueError(f"unknown codec {name!r}; choose from {', '.join(CODECS)}")
    if isinstance(max_error, float) and max_error.is_integer():
        max_error = int(max_error)
    kwargs = {k: v for k, v in (("level", level), ("bps", bps), ("max_error", max_error)) if v is not None}
    try:
        return CODECS[name](num_threads=num_threads, **kwargs)
    except TypeError:
        raise ValueError(
            f"codec {name} has no {' or '.join(kwargs)} option"
            f"{' (bps is WavPack hybrid mode)' if 'bps' in kwargs else ''}"
            f"{' (max_error is EphysLPC: --codec lpc)' if 'max_error' in kwargs else ''}"
        ) from None


def _zarr():
    try:
        import zarr
    except ImportError:
        raise ImportError("whole-recording files need zarr: install the package's cli extra") from None
    return zarr


def _zarr_python_3_installed():
    """zarr-python 3 or later, whose API (create_array, zarr_format) the writers use when present."""
    return int(_zarr().__version__.split(".")[0]) >= 3


# ---------------------------------------------------------------- one chunk (local or on a dask worker)


@dataclass
class _Plan:
    """What every chunk task needs: where and how to write, as plain picklable values."""

    output: Output
    zarr_format: int
    chunk_len: int
    n_samples: int
    filters: list
    codec: object
    check: bool
    lossless: bool
    probe_cols: Optional[list] = None  # with other_cols: how the file's channels split between TRACES and OTHER
    other_cols: Optional[list] = None
    resume: bool = False  # chunks already in the output are checked and kept

    @property
    def n_chunks(self):
        return -(-self.n_samples // self.chunk_len)

    def bounds(self, i):
        return i * self.chunk_len, min((i + 1) * self.chunk_len, self.n_samples)

    def key_template(self, array):
        return f"{array}/{{i}}.0" if self.zarr_format == 2 else f"{array}/c/{{i}}/0"

    def key(self, i, array=TRACES):
        return self.key_template(array).format(i=i)

    def arrays(self):
        return [TRACES, OTHER] if self.other_cols else [TRACES]

    def parts(self, block):
        """(array name, its columns of block, its filters) for each array the block goes to."""
        if not self.other_cols:
            return [(TRACES, block, self.filters)]
        return [
            (TRACES, block[:, _columns(self.probe_cols)], self.filters),
            (OTHER, block[:, _columns(self.other_cols)], []),
        ]


def _columns(cols):
    """A slice for a run of consecutive columns (a view: the codecs read strided input without a
    copy), else the list."""
    if cols == list(range(cols[0], cols[0] + len(cols))):
        return slice(cols[0], cols[0] + len(cols))
    return cols


def _encode(codec, block, filters):
    x = block
    for f in filters:
        x = f.encode(x)
    return codec.encode(x)


def _decode(codec, buf, shape, dtype, filters, out=None):
    x = codec.decode(buf, out) if out is not None and not filters else codec.decode(buf)
    for f in reversed(filters):
        x = f.decode(x)
    x = np.asarray(x)
    if x.dtype != dtype or x.size != int(np.prod(shape)):
        raise StoreError(f"a chunk decoded to {x.dtype} {x.shape}, expected {dtype} {shape}")
    return x.reshape(shape)


def _holds(plan, stored, part, filters):
    """Does a chunk found in the output (``--resume``) hold exactly what this run writes?
    Lossless: it decodes to the samples (the coders are deterministic, and the run's record
    pins codec, options and version, so its bytes are this run's); lossy: the same bytes."""
    if not plan.lossless:
        return stored == _encode(plan.codec, part, filters)
    try:
        decoded = _decode(plan.codec, stored, part.shape, part.dtype, filters)
    except ValueError:  # cut short by the interruption, or damaged
        return False
    return _identical(decoded, part)


def _encode_parts(plan, i, data):
    """The coding half of chunk i (samples ``data``): for each array, (array, key, the part,
    its filters, its encoded bytes or None, the bytes already stored that --resume keeps or None)."""
    block = data
    if len(data) < plan.chunk_len:  # zarr codes an edge chunk padded with the fill value (0)
        block = np.zeros((plan.chunk_len, data.shape[1]), data.dtype)
        block[: len(data)] = data
    parts = []
    for array, part, filters in plan.parts(block):
        key = plan.key(i, array)
        if plan.resume:
            stored = plan.output.get(key)
            if stored is not None and _holds(plan, stored, part, filters):
                parts.append((array, key, part, filters, None, stored))
                continue
        parts.append((array, key, part, filters, _encode(plan.codec, part, filters), None))
    return parts


def _store_parts(plan, i, n_rows, parts):
    """The storing half of chunk i, on the thread that coded it: check each encoded part by
    decoding those very bytes (``plan.check``), then write them. Nothing is read back: what
    was written is the bytes checked, and compress_file checks the output's listing of every
    chunk and its size against the manifest at the end. Returns [(array name, stored size,
    CRC-32C of the stored bytes)] for the manifest."""
    records = []
    t0, t1 = plan.bounds(i)
    for array, key, part, filters, encoded, kept in parts:
        if kept is not None:
            records.append((array, len(kept), crc32c(kept)))
            continue
        if plan.check:
            decoded = _decode(plan.codec, encoded, part.shape, part.dtype, filters, _scratch(part.shape, part.dtype))
            if plan.lossless and not _identical(decoded[:n_rows], part[:n_rows]):
                raise StoreError(f"chunk {i} of {array} (samples {t0}-{t1}) did not decode to the original samples")
            del decoded
        plan.output.put(key, encoded)
        records.append((array, len(encoded), crc32c(encoded)))
    return records


_thread_scratch = threading.local()


def _scratch(shape, dtype):
    """This thread's buffer for decoding checks of this shape: reused from chunk to chunk, since
    new memory of a chunk's size costs the kernel's zeroing of every page, each time."""
    buffers = _thread_scratch.__dict__.setdefault("buffers", {})
    key = (tuple(shape), np.dtype(dtype).str)
    if key not in buffers:
        buffers[key] = np.empty(shape, dtype)
    return buffers[key]


def _code_and_store(plan, i, data):
    """Chunk i (samples ``data``) coded, checked and stored: [(array, size, CRC-32C)]."""
    return _store_parts(plan, i, len(data), _encode_parts(plan, i, data))


def _code_chunk(source, plan, i):
    """Chunk i, read, coded, checked and stored (a dask task)."""
    return _code_and_store(plan, i, source.read(*plan.bounds(i)))


# ---------------------------------------------------------------- store metadata


def _create_array(group, name, **kwargs):
    """A new array in a zarr group: zarr 3's create_array, zarr 2's create_dataset."""
    return (group.create_array if _zarr_python_3_installed() else group.create_dataset)(name, **kwargs)


def _metadata(source, plan, codec_config, filter_configs, attrs):
    """The store's zarr hierarchy (SpikeInterface's layout) but the chunks of the recording's
    arrays, as {key: bytes}, built in memory: the output gets it last. Codecs with
    num_threads=None, since the thread count belongs to the machine that reads, not to the
    data. Every chunk of the small arrays is written, all-zero ones included."""
    zarr = _zarr()
    import numcodecs

    codec = numcodecs.get_codec(codec_config)
    filters = [numcodecs.get_codec(c) for c in filter_configs]
    cols = plan.probe_cols or list(range(source.n_channels))
    arrays = [(TRACES, len(cols), filters)] + ([(OTHER, len(plan.other_cols), [])] if plan.other_cols else [])
    ids = np.array([str(source.channel_ids[c]) for c in cols])
    if _zarr_python_3_installed():
        from zarr.storage import MemoryStore

        store = MemoryStore()
        root = zarr.open_group(store, mode="w", zarr_format=plan.zarr_format)
        settings = zarr.config.set({"array.write_empty_chunks": True})
        small = {}
    else:
        store = {}
        root = zarr.open_group(store, mode="w")
        settings = contextlib.nullcontext()
        small = {"write_empty_chunks": True}
    with settings:
        for name, width, array_filters in arrays:
            if plan.zarr_format == 3:
                from .. import zarr3

                kw = dict(zarr3.from_numcodecs_chain(codec, array_filters), compressors=None)
            elif _zarr_python_3_installed():
                kw = dict(compressors=codec, filters=array_filters or None)
            else:
                kw = dict(compressor=codec, filters=array_filters or None)
            _create_array(
                root,
                name,
                shape=(source.n_samples, width),
                chunks=(plan.chunk_len, width),
                dtype=source.dtype,
                fill_value=0,
                **kw,
            )
        # format 3 has no fixed-length unicode type in its specification: variable-length strings
        if plan.zarr_format == 3:
            root.create_array("channel_ids", shape=ids.shape, dtype=str)[:] = ids
        else:
            _create_array(root, "channel_ids", data=ids, **small)
        props = root.create_group("properties")
        if source.gains_to_uv is not None:
            _create_array(props, "gain_to_uV", data=np.asarray(source.gains_to_uv, "float64")[cols], **small)
            _create_array(props, "offset_to_uV", data=np.asarray(source.offsets_to_uv, "float64")[cols], **small)
        root.attrs.update(attrs)
    if plan.zarr_format == 2:  # consolidated metadata is not part of format 3's specification
        zarr.consolidate_metadata(store)
    if _zarr_python_3_installed():
        return {k: v.to_bytes() for k, v in store._store_dict.items()}
    return {k: bytes(v) for k, v in store.items()}


def _si_attrs(source, plan):
    """SpikeInterface's root attributes: rate, segments, probe."""
    cols = plan.probe_cols or list(range(source.n_channels))
    attrs = {"sampling_frequency": source.sampling_frequency, "num_segments": 1}
    if source.probe is not None:
        # contacts point at columns of TRACES (SpikeInterface's "probe" attribute)
        column = {c: j for j, c in enumerate(cols)}
        probe = json.loads(json.dumps(source.probe))
        for p in probe["probes"]:
            p["device_channel_indices"] = [column[int(c)] for c in p["device_channel_indices"]]
        attrs["probe"] = probe
    return attrs


def _source_attrs(source, plan, checksums, stored_bytes, codec_config, filter_configs, chunk_duration, lossless):
    files = []
    for m in source.metadata_files:
        try:
            files.append({"path": m.relpath, "text": m.content.decode("utf-8"), "encoding": "utf-8"})
        except UnicodeDecodeError:
            files.append({"path": m.relpath, "text": m.content.decode("latin-1"), "encoding": "latin-1"})
    return {
        "version": __version__,
        "source": {
            "format": source.kind,
            "file_name": source.path.name,
            "size": source.nbytes,
            **checksums,
            "dtype": source.dtype.str,
            "n_channels": source.n_channels,
            "channel_ids": [str(c) for c in source.channel_ids],
            "gains_to_uv": source.gains_to_uv,
            "metadata_files": files,
        },
        # the file's channel indices held by each array, in column order
        "columns": {TRACES: plan.probe_cols or list(range(source.n_channels)), OTHER: plan.other_cols or []},
        "codec": codec_config,
        "filters": filter_configs,
        "lossless": lossless,
        "chunk_duration": chunk_duration,
        "stored_bytes": stored_bytes,
    }


def _run_record(source, plan, codec_config, filter_configs, chunk_duration):
    """What a run writes, recorded in the output until it is complete: --resume continues a
    run only with the same input, codec, options and package version."""
    return {
        "version": __version__,
        "source": {
            "file_name": source.path.name,
            "size": source.nbytes,
            "n_samples": source.n_samples,
            "n_channels": source.n_channels,
            "dtype": source.dtype.str,
        },
        "codec": codec_config,
        "filters": filter_configs,
        "chunk_duration": chunk_duration,
        "chunk_len": plan.chunk_len,
        "zarr_format": plan.zarr_format,
        "columns": [plan.probe_cols, plan.other_cols],
    }


def _lsb_filter(source, chunk_len, num_threads, cols):
    """An LSB filter for channels cols when they sit on a non-integer grid, else None."""
    from ..lsb import LSB, estimate_lsb

    n = -(-source.n_samples // chunk_len)
    picks = np.unique(np.linspace(0, n - 1, min(n, LSB_SAMPLE_CHUNKS)).astype(int))
    sample = np.concatenate([source.read(i * chunk_len, (i + 1) * chunk_len) for i in picks])
    offsets, steps = estimate_lsb(sample[:, cols])
    if np.all(steps == 1):
        return None
    return LSB(offsets=offsets.tolist(), steps=steps.tolist(), num_threads=num_threads)


# ---------------------------------------------------------------- local files


def _temporary(final):
    return final.parent / f".{final.name}.{os.getpid()}.partial"


def _check_free(final, overwrite):
    if (final.exists() or final.is_symlink()) and not overwrite:
        raise FileExistsError(f"{final} exists; pass --overwrite (overwrite=True) to replace it")


class _Progress:
    def __init__(self, total, desc, enabled):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            # disable=None: no bar when stderr is not a terminal (a log file gets no carriage returns)
            self.bar = tqdm(total=total, desc=desc, unit="B", unit_scale=True, dynamic_ncols=True, disable=None)

    def update(self, n):
        if self.bar is not None:
            self.bar.update(n)

    def close(self):
        if self.bar is not None:
            self.bar.close()


# ---------------------------------------------------------------- compress


def default_store_path(path):
    """INPUT with the suffix .zarr (a URL stays a URL)."""
    loc = location(path)
    return loc.with_suffix(".zarr").url if isinstance(loc, RemoteFile) else loc.with_suffix(".zarr")


def compress_file(
    path,
    output=None,
    *,
    codec=DEFAULT_CODEC,
    level=None,
    bps=None,
    chunk_duration=DEFAULT_CHUNK_DURATION,
    zarr_format=DEFAULT_ZARR_FORMAT,
    num_threads=None,
    overwrite=False,
    check=True,
    progress=False,
    scheduler=None,
    resume=False,
    n_channels=None,
    sample_rate=None,
    dtype=None,
    stream=None,
    gain_to_uv=None,
    max_error=None,
):
    """Compress a recording file into a zarr store; returns the store's path (a URL for a URL).

    ``path``: a SpikeGLX .bin (with its .meta), an Open Ephys .dat (with structure.oebin; give
    ``stream`` if the file's location does not tell which stream it is), an mtscomp .cbin (with
    its .ch), or a raw file with ``n_channels``, ``sample_rate`` and ``dtype`` (and
    ``gain_to_uv``, microvolts per unit: one number or one per channel, stored as the
    recording's gains); a local path or an fsspec URL. ``output`` (a path or URL) defaults
    to the input's name with the suffix ``.zarr``. ``codec`` is a name of ``CODECS``; ``bps``
    (WavPack only) makes it lossy, as ``max_error`` does (EphysLPC only: every sample within that
    bound, in units of the samples, 0.25 for a quarter of a microvolt of float uV). Chunks hold
    ``chunk_duration`` seconds of all channels. ``check`` decodes every chunk
    before it is written and compares it with the input, and lists the output's chunks and
    their sizes once all are written. ``scheduler``: a dask.distributed address (or
    Client) that codes the chunks instead of this process (the output must be reachable from
    the workers). Bad input raises RecordingError (a ValueError).

    Nothing readable is left under ``output`` unless it succeeds. A run that fails a check
    (ValueError) removes what it wrote; one stopped otherwise (interrupted, an I/O or network
    error) keeps its chunks (unreadable: no zarr metadata) and ``resume=True`` continues it,
    checking those chunks and writing only the missing ones; the store is then byte for
    byte the one an uninterrupted run writes.
    """
    source = path if isinstance(path, Source) else open_source(path, n_channels, sample_rate, dtype, stream, gain_to_uv)
    final = output if output is not None else default_store_path(source.path)
    if not is_url(final):
        final = Path(final)
    if str(location(final).resolve()) == str(source.path.resolve()):
        raise ValueError(f"the output {final} would replace the input")
    if zarr_format not in (2, 3):
        raise ValueError(f"zarr_format must be 2 or 3, got {zarr_format}")
    if zarr_format == 3 and not _zarr_python_3_installed():
        raise ValueError("zarr format 3 needs zarr-python >= 3 (this environment has zarr 2)")
    if not chunk_duration or chunk_duration <= 0:
        raise ValueError(f"chunk_duration must be positive, got {chunk_duration}")
    if source.n_samples == 0:
        raise RecordingError(f"{source.path} holds no samples")
    out = Output(final)
    chunk_len = max(1, min(source.n_samples, int(round(chunk_duration * source.sampling_frequency))))
    worker_threads = num_threads if scheduler is None else (num_threads or 1)
    coder = make_codec(codec, level, bps, worker_threads, max_error)
    lossless = bps is None and not max_error
    probe_cols = source.probe_channels
    other_cols = [c for c in range(source.n_channels) if c not in set(probe_cols)] if probe_cols else None
    if not other_cols:
        probe_cols = other_cols = None
    cols = probe_cols or list(range(source.n_channels))
    lsb = _lsb_filter(source, chunk_len, worker_threads, cols) if source.lsb_candidate and lossless else None
    filters = [lsb] if lsb is not None else []
    # refuse a dtype/codec mismatch before anything is written
    first = source.read(0, min(chunk_len, 64))
    trial = _Plan(out, zarr_format, len(first), len(first), filters, coder, False, lossless, probe_cols, other_cols)
    try:
        for _, part, part_filters in trial.parts(first):
            _encode(coder, part, part_filters)
    except ValueError as e:
        raise RecordingError(f"{source.path}: codec {codec} cannot code this recording: {e}") from None
    codec_config = make_codec(codec, level, bps, max_error=max_error).get_config()
    filter_configs = [f.get_config() for f in filters]
    plan = _Plan(out, zarr_format, chunk_len, source.n_samples, filters, coder, check, lossless, probe_cols, other_cols)
    run = _run_record(source, plan, codec_config, filter_configs, chunk_duration)
    folders = [a if zarr_format == 2 else f"{a}/c" for a in plan.arrays()]
    plan.resume = out.start(run, overwrite=overwrite, resume=resume, folders=folders)
    try:
        bar = _Progress(source.nbytes, f"compress {source.path.name}", progress)
        try:
            # the source's own SHA-1 is checked with the chunks (see DataChecksums for its cost)
            data_checksums = DataChecksums(sha1=bool(source.expected_sha1 and check))
            if scheduler is None:
                records = _run_local(source, plan, bar, data_checksums)
            else:
                records = _run_dask(source, plan, bar, scheduler, data_checksums)
        finally:
            bar.close()
        checksums = data_checksums.record()
        sha1 = checksums["sha1"]
        if sha1 and sha1 != source.expected_sha1:
            raise RecordingError(
                f"{source.path}: its SHA1 {sha1} differs from the one its own metadata records "
                f"({source.expected_sha1}): the file was altered or is damaged"
            )
        manifest = Manifest(
            source.sampling_frequency,
            {
                a: ArrayChunks(
                    plan.key_template(a),
                    chunk_len,
                    source.n_samples,
                    [records[i][a][0] for i in range(plan.n_chunks)],
                    [records[i][a][1] for i in range(plan.n_chunks)],
                )
                for a in plan.arrays()
            },
        )
        if check:  # every chunk written is in the output, with the size of the bytes checked
            listed = {}
            for array in plan.arrays():
                listed.update(out.listing(array))
            problems = manifest.listing_problems(listed)
            if problems:
                raise chunk_error(out, [f"{p} right after it was written" for p in problems])
        manifest_bytes = manifest.to_bytes()
        stored = sum(sum(a.sizes) for a in manifest.arrays.values())
        attrs = _si_attrs(source, plan)
        attrs[ATTRS_KEY] = _source_attrs(
            source, plan, checksums, stored, codec_config, filter_configs, chunk_duration, lossless
        )
        attrs[ATTRS_KEY]["manifest"] = {"key": MANIFEST_KEY, "sha256": digest(manifest_bytes)}
        metadata = _metadata(source, plan, codec_config, filter_configs, attrs)
        if check:
            _check_through_zarr(metadata, plan, source)
        out.put(MANIFEST_KEY, manifest_bytes)
        out.publish(metadata)
    except ValueError:
        # the data or the codec failed a check: nothing of this run is kept. Anything else
        # (interruption, I/O, network, a lost worker) leaves the chunks, unreadable (no zarr
        # metadata), for --resume
        out.discard()
        raise
    finally:
        source.close()
    return final


def _read_ahead(n, read, depth=1):
    """read(i) for i in range(n), in order, the next ``depth`` ones read while this one is used
    (on as many threads: a bucket answers each request after a round trip)."""
    with ThreadPoolExecutor(depth) as pool:
        pending = deque(pool.submit(read, i) for i in range(min(depth, n)))
        for i in range(n):
            data = pending.popleft().result()
            if i + depth < n:
                pending.append(pool.submit(read, i + depth))
            yield data


def _depth(*locations):
    """Chunks in flight at each stage: one on a local disk, REMOTE_DEPTH where a bucket is involved."""
    return REMOTE_DEPTH if any(isinstance(loc, RemoteFile) or is_url(loc) for loc in locations) else 1


def _by_array(records):
    return {array: (size, sha) for array, size, sha in records}


def _coders(plan, source):
    """How many chunks are coded at once: one per core the codec may use (so that a core the
    codec's own threads leave idle at the end of a chunk starts on the next one), and
    REMOTE_DEPTH where a bucket is read or written (a coder waits a round trip per chunk)."""
    return max(threads(plan.codec.num_threads), _depth(source.path, str(plan.output)))


def _run_local(source, plan, bar, checksums):
    """Chunks in a bounded pipeline: a reader thread reads ahead, ``_coders`` threads each take
    a chunk and encode, check (decode) and write it (the codecs' C code runs without the GIL),
    and this thread feeds the input to ``checksums`` in order (without the GIL too), so reading,
    hashing, checking and writing overlap with coding. At most ``_coders`` chunks are coded
    and ``_depth`` read ahead at a time: memory stays flat whatever the file's size."""
    coders = _coders(plan, source)
    last = plan.n_chunks - 1
    records, coding = [], deque()
    # the chunks' buffers, reused: a new one per chunk is new memory, which the kernel zeroes
    # page by page (a fifth of the run's CPU time at EphysLPC's speed)
    free = deque()

    def read(i):
        buffer = free.pop() if free else np.empty((plan.chunk_len, source.n_channels), source.dtype)
        return buffer, source.read(*plan.bounds(i), out=buffer)

    pool = ThreadPoolExecutor(coders)
    reads = _read_ahead(plan.n_chunks, read, _depth(source.path))
    try:
        for i, (buffer, data) in enumerate(reads):
            coding.append((pool.submit(_code_and_store, plan, i, data), data.nbytes, buffer))
            checksums.update(data)
            del data, buffer
            while len(coding) > coders or (coding and i == last):
                future, nbytes, buffer = coding.popleft()
                records.append(_by_array(future.result()))
                free.append(buffer)
                del buffer
                bar.update(nbytes)
    finally:
        reads.close()
        pool.shutdown(wait=True, cancel_futures=True)  # a chunk being written is finished, no new one started
    return records


def _run_dask(source, plan, bar, scheduler, checksums):
    from dask.distributed import Client, as_completed

    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    futures = []
    try:
        futures = client.map(
            _code_chunk, [source] * plan.n_chunks, [plan] * plan.n_chunks, range(plan.n_chunks), pure=False
        )

        # the checksums need the bytes in order: read them here while the workers code
        def digest_source():
            for i in range(plan.n_chunks):
                checksums.update(source.read(*plan.bounds(i)))

        with ThreadPoolExecutor(1) as pool:
            hashed = pool.submit(digest_source)
            records = [None] * plan.n_chunks
            index = {f.key: i for i, f in enumerate(futures)}
            for future in as_completed(futures):
                i = index[future.key]
                records[i] = _by_array(future.result())
                t0, t1 = plan.bounds(i)
                bar.update((t1 - t0) * source.n_channels * source.dtype.itemsize)
            hashed.result()
            return records
    except BaseException:
        client.cancel(futures)
        raise
    finally:
        if client is not scheduler:
            client.close()


def _check_through_zarr(metadata, plan, source):
    """Read the first and the last chunk back through zarr itself (key names, edge padding,
    the metadata's codecs): the metadata in memory with those chunks as the output holds them."""
    zarr = _zarr()
    keys = dict(metadata)
    last = plan.n_chunks - 1
    for array in plan.arrays():
        for i in sorted({0, last}):
            keys[plan.key(i, array)] = plan.output.get(plan.key(i, array))
    if _zarr_python_3_installed():
        from zarr.core.buffer import cpu
        from zarr.storage import MemoryStore

        store = MemoryStore({k: cpu.Buffer.from_bytes(v) for k, v in keys.items()})
    else:
        store = keys
    root = zarr.open_group(store, mode="r")
    for i in sorted({0, last}):
        t0, t1 = plan.bounds(i)
        for array, want, _ in plan.parts(source.read(t0, t1)):
            got = root[array][t0:t1]
            if got.shape != want.shape or (plan.lossless and not _identical(got, want)):
                raise StoreError(f"zarr reads chunk {i} of {plan.output}/{array} differently from what was written")


# ---------------------------------------------------------------- reading stores


def _store_manifest(keys, info, arrays, sampling_frequency, where):
    """The store's chunk manifest, checked against its SHA-256 that the attributes record; for a
    store written before manifests, one that knows each chunk's key but not its bytes."""
    recorded = info.get("manifest")
    if recorded is None:
        out = {}
        for name, array in arrays.items():
            v2 = array.metadata.zarr_format == 2 if hasattr(array, "metadata") else True
            template = f"{name}/{{i}}.0" if v2 else f"{name}/c/{{i}}/0"
            out[name] = ArrayChunks(template, int(array.chunks[0]), int(array.shape[0]))
        return Manifest(sampling_frequency, out)
    data = keys.get(recorded["key"])
    if data is None:
        raise StoreError(f"{where}: its chunk manifest {recorded['key']} is missing")
    if digest(data) != recorded["sha256"]:
        raise StoreError(f"{where}: its chunk manifest {recorded['key']} differs from the one it was written with")
    return Manifest.from_bytes(data, where)


def _consolidated_agrees(keys, path):
    """A zarr 2 store's consolidated metadata (.zmetadata, which zarr 3 and SpikeInterface read)
    must say what each .zarray / .zattrs / .zgroup says (which zarr 2's plain open reads):
    StoreError naming the key and the fields that differ, never one reader silently right."""
    raw = keys.get(".zmetadata")
    if raw is None:
        return
    try:
        consolidated = json.loads(raw)["metadata"]
    except (ValueError, KeyError, TypeError):
        raise StoreError(f"{path}: .zmetadata is not zarr's consolidated metadata") from None
    for key, copy in consolidated.items():
        own = keys.get(key)
        if own is None:
            raise StoreError(f"{path}: .zmetadata describes {key}, which the store does not hold")
        try:
            own = json.loads(own)
        except ValueError:
            raise StoreError(f"{path}: {key} is not JSON") from None
        differ = list(_differences(own, copy))
        if differ:
            what = "; ".join(f"{where or 'the whole'}: {a!r} there, {b!r} in .zmetadata" for where, a, b in differ[:3])
            raise StoreError(f"{path}: {key} and the consolidated .zmetadata disagree ({what})")


def _differences(a, b, where=""):
    """(dotted path, value in a, value in b) for each difference of two JSON values; a group's
    "consolidated_metadata" field, which zarr-python 3 adds to the copies only, is not one."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k != "consolidated_metadata":
                yield from _differences(a.get(k), b.get(k), f"{where}.{k}" if where else k)
    elif a != b:
        yield where, a, b


def _array_agrees(path, name, array, source_dtype, n_columns):
    """An array's zarr metadata against what the store recorded when it was written."""
    if np.dtype(array.dtype) != np.dtype(source_dtype) or len(array.shape) != 2 or array.shape[1] != n_columns:
        raise StoreError(
            f"{path}: array {name!r} is {np.dtype(array.dtype)} {tuple(array.shape)} in its zarr metadata, but "
            f"the store recorded {np.dtype(source_dtype)} samples in {n_columns} columns when it was written "
            f"(attribute {ATTRS_KEY!r}): its metadata were edited or damaged"
        )


class Recording:
    """A compressed recording, lazily sliced: ``rec[t0:t1, channels]`` decodes only the chunks needed.

    It has all the channels of the original file, in its order (SpikeInterface sees only those
    with a probe contact). Attributes: ``shape`` (samples, channels), ``dtype``,
    ``sampling_frequency``, ``channel_ids``, ``gains_to_uv`` (or None), ``duration`` (s),
    ``source`` (what was recorded about the original file), ``chunk_len`` (samples per chunk).

    Every chunk must be in the store with the size its manifest records (checked when the
    recording is opened) and the checksum (checked as each one is read): anything else raises
    :class:`ChunkError` naming the array, the chunk and its time range. ``check_listing=False``
    opens a damaged store (verify_store reports all that is wrong with it).
    """

    def __init__(self, path, check_listing=True):
        self.path = location(path)
        self._keys = StoreKeys(str(self.path))
        if not self.path.exists():
            raise StoreError(f"{self.path}: no such store")
        _consolidated_agrees(self._keys, self.path)
        zarr = _zarr()
        try:
            root = zarr.open_group(str(self.path), mode="r")
            self.attrs = dict(root.attrs)
            self.info = self.attrs[ATTRS_KEY]
            columns = self.info["columns"]
            arrays = {name: root[name] for name, cols in columns.items() if cols}
            self._columns = {name: np.asarray(columns[name], dtype=np.intp) for name in arrays}
        except (KeyError, ValueError, OSError, TypeError) as e:
            raise StoreError(f"{self.path} is not a recording store written by numcodecs-ephys ({e!r})") from None
        import numcodecs

        self.source = self.info["source"]
        self.sampling_frequency = float(self.attrs["sampling_frequency"])
        self.channel_ids = list(self.source["channel_ids"])
        self.gains_to_uv = self.source.get("gains_to_uv")
        for name, array in arrays.items():
            _array_agrees(self.path, name, array, self.source["dtype"], len(self._columns[name]))
        first = arrays[TRACES]
        self.shape = (int(first.shape[0]), sum(len(c) for c in self._columns.values()))
        self.dtype = np.dtype(first.dtype)
        self.chunk_len = int(first.chunks[0])
        self._codec = numcodecs.get_codec(dict(self.info["codec"]))
        self._filters = {TRACES: [numcodecs.get_codec(dict(c)) for c in self.info.get("filters", [])], OTHER: []}
        self.manifest = _store_manifest(self._keys, self.info, arrays, self.sampling_frequency, self.path)
        if check_listing:
            problems = self.listing_problems()
            if problems:
                raise chunk_error(self.path, problems)

    duration = property(lambda self: self.shape[0] / self.sampling_frequency)

    def listing_problems(self):
        """Chunks missing from the store or of another size than the manifest's, one line each."""
        sizes = {}
        for name in self._columns:
            sizes.update(self._keys.listing(name))
        return self.manifest.listing_problems(sizes)

    def checked_chunk(self, name, i):
        """(chunk i of array ``name`` decoded, padded to a whole chunk at the end; None) once
        its bytes check out against the manifest, else (None, what is wrong with it)."""
        data = self._keys.get(self.manifest.arrays[name].key(i))
        problem = self.manifest.chunk_problem(name, i, data)
        if problem:
            return None, problem
        shape = (self.chunk_len, len(self._columns[name]))
        try:
            return _decode(self._codec, data, shape, self.dtype, self._filters[name]), None
        except ValueError as e:
            return None, f"{self.manifest.describe(name, i)} does not decode: {e}"

    def chunk(self, name, i):
        """Chunk i of array ``name``, decoded; ChunkError when it is missing or damaged."""
        decoded, problem = self.checked_chunk(name, i)
        if problem:
            raise chunk_error(self.path, [problem])
        return decoded

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, key):
        rows, cols = key if isinstance(key, tuple) and len(key) == 2 else (key, slice(None))
        if not isinstance(rows, slice):
            raise TypeError("index the time axis with a slice: rec[t0:t1] or rec[t0:t1, channels]")
        lo, hi, step = rows.indices(self.shape[0])
        if step < 1:
            raise ValueError("the time axis takes a positive step")
        hi = max(lo, hi)
        out = np.empty((hi - lo, self.shape[1]), self.dtype)
        for i in range(lo // self.chunk_len, -(-hi // self.chunk_len)):
            c0 = i * self.chunk_len
            a, b = max(lo, c0), min(hi, c0 + self.chunk_len)
            for name, columns in self._columns.items():
                out[a - lo : b - lo, columns] = self.chunk(name, i)[a - c0 : b - c0]
        out = out[::step]
        return out if isinstance(cols, slice) and cols == slice(None) else out[:, cols]

    def __repr__(self):
        return (
            f"<Recording {self.path.name}: {self.shape[0]} samples x {self.shape[1]} channels {self.dtype}, "
            f"{self.sampling_frequency:g} Hz, {self.duration:.3f} s>"
        )


def open_recording(path):
    """Open a store written by compress_file (a path or URL) as a lazily sliceable :class:`Recording`."""
    return Recording(path)


def _channel_index(channels, n):
    if channels is None:
        return slice(None)
    idx = np.arange(n)[channels] if isinstance(channels, slice) else np.asarray(channels, dtype=int)
    if idx.ndim != 1 or idx.size == 0 or idx.min() < -n or idx.max() >= n:
        raise ValueError(f"channels must be indices in [0, {n}), got {channels!r}")
    return idx % n


def _iter_decoded(rec, start, stop, channels):
    step = rec.chunk_len
    edges = [start, *range(start - start % step + step, stop, step), stop]
    bounds = list(zip(edges[:-1], edges[1:]))
    cols = _channel_index(channels, rec.shape[1])

    def read(i):
        return np.ascontiguousarray(rec[bounds[i][0] : bounds[i][1]][:, cols])

    return _read_ahead(len(bounds), read, _depth(rec.path))


class _FileOut:
    """A file being written at a path or URL: under a temporary name and renamed (local), or
    uploaded and committed only when complete (fsspec's autocommit=False: an object store
    shows nothing until then)."""

    def __init__(self, final):
        self.final = final
        if isinstance(final, RemoteFile):
            self.file = final.fs.open(final.path, "wb", autocommit=False)
        else:
            self.tmp = _temporary(final)
            self.file = open(self.tmp, "wb")

    def write(self, data):
        self.file.write(data)

    def commit(self):
        self.file.close()
        if isinstance(self.final, RemoteFile):
            self.file.commit()
        else:
            os.replace(self.tmp, self.final)

    def discard(self):
        if isinstance(self.final, RemoteFile):
            self.file.discard()
        else:
            self.file.close()
            remove_local(self.tmp)


def _write_whole(final, content):
    out = _FileOut(final)
    try:
        out.write(content)
        out.commit()
    except BaseException:
        out.discard()
        raise


def decompress_file(store, output=None, *, start=None, end=None, channels=None, overwrite=False, progress=False):
    """Write the recording in ``store`` back as the original file (byte for byte, and its
    .meta / structure.oebin beside it), or samples [start, end) (seconds) of the given
    channel indices (then without metadata files). ``store`` and ``output`` may be URLs.
    Returns the output path (or URL)."""
    rec = open_recording(store)
    n = rec.shape[0]
    t0 = 0 if start is None else int(round(start * rec.sampling_frequency))
    t1 = n if end is None else int(round(end * rec.sampling_frequency))
    if not 0 <= t0 < t1 <= n:
        raise ValueError(f"time range {start}-{end} s is outside the recording (0-{rec.duration:.6f} s)")
    whole = t0 == 0 and t1 == n and channels is None
    final = location(output) if output is not None else rec.path.parent / rec.source["file_name"]
    meta_paths = []
    if whole:
        for m in rec.source.get("metadata_files", []):
            # a .meta follows the data file's name (SpikeGLX pairs them by name); others keep theirs
            # and a file that sat in a folder above the data (structure.oebin) goes beside it, never
            # above the output
            same_stem = m["path"] == Path(rec.source["file_name"]).with_suffix(".meta").name
            parts = m["path"].replace("\\", "/").split("/")
            beside = parts[-1] if ".." in parts or m["path"].startswith("/") else m["path"]
            path = final.with_suffix(".meta") if same_stem else final.parent / beside
            meta_paths.append((path, m["text"].encode(m["encoding"])))
    for p in [final] + [p for p, _ in meta_paths]:
        _check_free(p, overwrite)
    if isinstance(final, Path):
        final.parent.mkdir(parents=True, exist_ok=True)
    checksums = DataChecksums.for_store(rec.source)
    n_cols = rec.shape[1] if channels is None else len(_channel_index(channels, rec.shape[1]))
    bar = _Progress((t1 - t0) * n_cols * rec.dtype.itemsize, f"decompress {rec.path.name}", progress)
    out = _FileOut(final)
    try:
        for block in _iter_decoded(rec, t0, t1, channels):
            out.write(block)
            if whole:
                checksums.update(block)
            bar.update(block.nbytes)
        mismatch = checksums.mismatch(rec.source) if whole and rec.info.get("lossless") else None
        if mismatch:
            raise StoreError(f"{store}: {mismatch}: the store is damaged")
        for p, content in meta_paths:
            if isinstance(p, Path):
                p.parent.mkdir(parents=True, exist_ok=True)
            _write_whole(p, content)
        out.commit()
    except BaseException:
        out.discard()
        raise
    finally:
        bar.close()
    return final.url if isinstance(final, RemoteFile) else final


def verify_store(store, original=None, progress=False):
    """Decode all of ``store`` and check it against its chunk manifest, its source's recorded
    checksum (lossless stores) and ``original`` (a path or URL, read as compress_file would) when
    given. Returns the store's info dict, for a lossy store checked against ``original``
    with ``error``: the maximum and RMS error (and in uV when the gains are known, see
    _ErrorStats.summary). Raises StoreError naming every chunk that is missing, damaged or
    (lossless) differs (ChunkError for the store's own damage)."""
    rec = Recording(store, check_listing=False)
    src = None
    if original is not None:
        if isinstance(original, Source):
            src = original
        elif location(original).suffix == ".cbin":
            src = open_source(original)
        else:  # the bytes that decompress writes: the store's samples, as a raw file
            src = open_source(original, rec.shape[1], rec.sampling_frequency, rec.dtype)
        if (src.n_samples, src.n_channels) != rec.shape:
            raise StoreError(
                f"{original} has {src.n_samples} x {src.n_channels} samples, the store {rec.shape[0]} x {rec.shape[1]}"
            )
    problems = rec.listing_problems()
    differs = []
    lossy = not rec.info.get("lossless")
    error = _ErrorStats(rec.shape[1]) if lossy and src is not None else None
    checksums = DataChecksums.for_store(rec.source)
    bar = _Progress(rec.shape[0] * rec.shape[1] * rec.dtype.itemsize, f"verify {rec.path.name}", progress)

    def read(i):
        t0, t1 = i * rec.chunk_len, min((i + 1) * rec.chunk_len, rec.shape[0])
        block = np.empty((t1 - t0, rec.shape[1]), rec.dtype)
        damaged = []
        for name, columns in rec._columns.items():
            decoded, problem = rec.checked_chunk(name, i)
            if problem:
                damaged.append(problem)
            else:
                block[:, columns] = decoded[: t1 - t0]
        return t0, t1, block, damaged

    try:
        for t0, t1, block, damaged in _read_ahead(-(-rec.shape[0] // rec.chunk_len), read, _depth(rec.path)):
            for line in damaged:
                if line not in problems:
                    problems.append(line)
            if not lossy:  # a lossy store's decoded samples are not the original's
                checksums.update(block)
            if not damaged and error is not None:
                error.add(t0, block, src.read(t0, t1))
            elif not damaged and src is not None and not _identical(block, src.read(t0, t1)):
                differs.append(f"samples {t0}-{t1}")
            bar.update(block.nbytes)
    finally:
        bar.close()
        if src is not None:
            src.close()
    if problems:
        raise chunk_error(store, problems)
    if differs:
        raise StoreError(f"{store} differs from {original} in " + ", ".join(differs[:20]))
    mismatch = checksums.mismatch(rec.source) if rec.info.get("lossless") else None
    if mismatch:
        raise StoreError(f"{store}: {mismatch}: the store is damaged")
    info = store_info(store)
    if error is not None:
        info["error"] = error.summary(rec.gains_to_uv)
    return info


class _ErrorStats:
    """A lossy store's error against its source, accumulated chunk by chunk, per channel."""

    def __init__(self, n_channels):
        self.max = np.zeros(n_channels)
        self.at = np.zeros(n_channels, dtype=np.int64)  # the sample of each channel's maximum
        self.squares = np.zeros(n_channels)
        self.n_samples = 0

    def add(self, t0, decoded, original):
        wide = np.float64 if decoded.dtype.kind == "f" else np.int64
        diff = np.abs(decoded.astype(wide) - original.astype(wide)).astype(np.float64)
        rows = diff.argmax(axis=0)
        chunk_max = diff[rows, np.arange(diff.shape[1])]
        better = chunk_max > self.max
        self.max[better], self.at[better] = chunk_max[better], t0 + rows[better]
        self.squares += (diff**2).sum(axis=0)
        self.n_samples += diff.shape[0]

    def summary(self, gains_to_uv=None):
        """``max`` and ``rms`` in the samples' units, where the maximum is (``sample``,
        ``channel``), and ``max_uv`` / ``rms_uv`` when the store knows the gains."""
        c = int(self.max.argmax())
        out = {
            "max": float(self.max[c]),
            "rms": float(np.sqrt(self.squares.sum() / max(1, self.n_samples * len(self.max)))),
            "sample": int(self.at[c]),
            "channel": c,
        }
        if gains_to_uv is not None:
            gains = np.abs(np.asarray(gains_to_uv, dtype=np.float64))
            out["max_uv"] = float((self.max * gains).max())
            out["rms_uv"] = float(np.sqrt((self.squares * gains**2).sum() / max(1, self.n_samples * len(gains))))
        return out


def store_info(store):
    """What a store holds: shape, rate, duration, codec, compression ratio, source file."""
    rec = Recording(store, check_listing=False)
    info = rec.info
    stored = info.get("stored_bytes") or 1
    return {
        "store": str(rec.path),
        "shape": list(rec.shape),
        "dtype": rec.dtype.str,
        "sampling_frequency": rec.sampling_frequency,
        "duration_s": rec.duration,
        "chunk_duration_s": info.get("chunk_duration"),
        "codec": info["codec"],
        "filters": info.get("filters", []),
        "lossless": info.get("lossless"),
        "compression_ratio": rec.source["size"] / stored,
        "stored_bytes": info.get("stored_bytes"),
        "chunk_manifest": "manifest" in info,
        "source_format": rec.source["format"],
        "source_file": rec.source["file_name"],
        "source_size": rec.source["size"],
        "source_sha1": rec.source.get("sha1"),
        "source_crc32c": rec.source.get("crc32c"),
        "metadata_files": [m["path"] for m in rec.source.get("metadata_files", [])],
        "written_by": f"numcodecs-ephys {info.get('version')}",
    }


def format_info(info):
    lines = []
    for key, value in info.items():
        if key in ("codec", "filters"):
            value = json.dumps(value if key == "codec" else [f.get("id") for f in value])
        elif key == "compression_ratio":
            value = f"{value:.3f}"
        lines.append(f"{key:20s} {value}")
    return "\n".join(lines)
