"""Recordings on disk as (time, channels) sources: SpikeGLX, Open Ephys binary, raw, mtscomp.

A `Source` describes one recording (shape, rate, dtype, channel ids, gains, the metadata
files that go with it) and reads any range of samples. It holds no open file when
pickled, so that dask workers can read their own chunks. A recording may sit on a local
disk or behind an fsspec URL (a bucket): then ``path`` is a RemoteFile and samples are
read by ranged requests.
"""

import json
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np

from .locations import RemoteFile, location


class RecordingError(ValueError):
    """The input is not a recording this package can read (the message says why)."""


@dataclass
class MetadataFile:
    """A text file that goes with the data file (SpikeGLX .meta, Open Ephys structure.oebin).

    ``relpath`` is where it sits relative to the data file's folder, so that decompression
    can put it back in the same place.
    """

    relpath: str
    content: bytes


_OPENING = threading.Lock()


@dataclass
class Source:
    kind: str  # "spikeglx", "openephys", "raw" or "mtscomp"
    path: Union[Path, RemoteFile]  # the data file (.bin / .dat / .cbin)
    n_channels: int
    sampling_frequency: float
    dtype: np.dtype
    n_samples: int
    channel_ids: list
    gains_to_uv: Optional[list] = None  # per channel, or None when the source does not say
    offsets_to_uv: Optional[list] = None
    probe: Optional[dict] = None  # probeinterface ProbeGroup dict, contacts -> channel indices of the file
    metadata_files: list = field(default_factory=list)
    expected_sha1: Optional[str] = None  # the source's own record of the data's SHA1, if any
    lsb_candidate: bool = False  # values may sit on a non-integer grid (Open Ephys)
    ch_path: Optional[Path] = None  # mtscomp: the .ch file
    _handle: object = field(default=None, repr=False, compare=False)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_handle"] = None
        return state

    @property
    def probe_channels(self):
        """Indices (in file order) of the channels wired to a probe contact; None without a probe."""
        if self.probe is None:
            return None
        return sorted(int(i) for p in self.probe["probes"] for i in p["device_channel_indices"])

    @property
    def nbytes(self):
        return self.n_samples * self.n_channels * self.dtype.itemsize

    def read(self, start, stop, out=None):
        """Samples [start, stop) as a C-contiguous (stop - start, n_channels) array; a local
        file's are read into ``out`` (a C-contiguous array at least that long) when given, so
        that a caller reusing its buffers does not pay the kernel for zeroing new memory."""
        start = min(max(0, start), self.n_samples)
        stop = max(start, min(stop, self.n_samples))
        if self.kind == "mtscomp":
            return self._read_mtscomp(start, stop)
        frame = self.n_channels * self.dtype.itemsize
        if isinstance(self.path, RemoteFile):
            data = self.path.read_range(start * frame, stop * frame)
            if len(data) != (stop - start) * frame:
                raise RecordingError(f"{self.path} ended early (was it truncated while being read?)")
            return np.frombuffer(bytearray(data), self.dtype).reshape(stop - start, self.n_channels)
        fd = self._opened(lambda: open(self.path, "rb", buffering=0)).fileno()
        if out is None:
            out = np.empty((stop - start, self.n_channels), self.dtype)
        out = out[: stop - start]
        view = memoryview(out.reshape(-1).view(np.uint8))
        done = 0
        while done < len(view):
            n = os.preadv(fd, [view[done:]], start * frame + done)
            if n == 0:
                raise RecordingError(f"{self.path} ended early (was it truncated while being read?)")
            done += n
        return out

    def _read_mtscomp(self, start, stop):
        handle = self._opened(lambda: _open_mtscomp(self.path, self.ch_path))
        try:
            return np.ascontiguousarray(handle[start:stop])
        except (AssertionError, OSError, ValueError, KeyError) as e:
            raise RecordingError(f"cannot read the mtscomp archive {self.path}: {e or type(e).__name__}") from e

    def _opened(self, opener):
        # Worker threads (the thread pool, dask's in-process workers) share one Source: two
        # first reads must not each open a handle, or the one dropped closes under the other.
        handle = self._handle
        if handle is None:
            with _OPENING:
                if self._handle is None:
                    self._handle = opener()
                handle = self._handle
        return handle

    def close(self):
        if self._handle is not None:
            self._handle.close()
            self._handle = None


INPUTS = (
    "a recording's data file: a SpikeGLX .bin (beside its .meta), an Open Ephys continuous.dat, "
    "an mtscomp .cbin, or a raw file with -n/--n-channels, -s/--sample-rate and -d/--dtype"
)


def open_source(path, n_channels=None, sample_rate=None, dtype=None, stream=None, gain_to_uv=None):
    """The Source for a data file: SpikeGLX .bin (+ .meta), Open Ephys .dat (+ structure.oebin),
    mtscomp .cbin (+ .ch), or any file read as raw when ``n_channels``, ``sample_rate`` and
    ``dtype`` are given (``gain_to_uv``: a raw file's microvolts per unit, one number or one
    per channel); ``path`` is a local path or an fsspec URL. Raises RecordingError with a
    clear message for bad input."""
    path = location(path)
    if path.is_dir():
        raise RecordingError(f"{path} is a directory; give {INPUTS}{_data_files_in(path)}")
    if not path.is_file():
        raise RecordingError(f"{path}: no such file")
    raw = (n_channels, sample_rate, dtype)
    if any(v is not None for v in raw):
        if any(v is None for v in raw):
            raise RecordingError("a raw file needs all of -n/--n-channels, -s/--sample-rate and -d/--dtype")
        return _raw(path, n_channels, sample_rate, dtype, gain_to_uv)
    if gain_to_uv is not None:
        raise RecordingError(
            f"{path}: --gain-to-uv is for raw files (with -n, -s and -d); this recording's own metadata gives its gains"
        )
    if path.suffix == ".cbin":
        return _mtscomp(path)
    if path.with_suffix(".meta").exists() or path.suffix == ".bin":
        return _spikeglx(path)
    if path.suffix == ".dat":
        return _openephys(path, stream)
    raise RecordingError(
        f"{path}: not a SpikeGLX .bin, Open Ephys .dat or mtscomp .cbin; for a raw file "
        "give -n/--n-channels, -s/--sample-rate and -d/--dtype"
    )


def _data_files_in(folder, limit=5):
    """' (it holds ...)' naming the first data files found under a local folder, or ''."""
    if not isinstance(folder, Path):
        return ""
    found = []
    for p in folder.rglob("*"):
        if p.suffix in (".bin", ".cbin") or p.name.endswith("continuous.dat"):
            found.append(str(p))
            if len(found) == limit:
                break
    return f" (it holds {', '.join(sorted(found))}{', ...' if len(found) == limit else ''})" if found else ""


def _parse_dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise RecordingError(f"unknown dtype {dtype!r} (e.g. int16, int32, float32)") from None
    if dt.kind not in "iuf":
        raise RecordingError(f"dtype {dt} is not a numeric sample type")
    return dt


def _n_samples(path, n_channels, dtype):
    size = path.stat().st_size
    frame = n_channels * dtype.itemsize
    if n_channels < 1:
        raise RecordingError(f"the number of channels must be at least 1, got {n_channels}")
    if size % frame:
        raise RecordingError(
            f"{path}: its size ({size} bytes) is not a multiple of channels x itemsize "
            f"({n_channels} x {dtype.itemsize} = {frame} bytes): wrong channel count or "
            f"dtype, or a truncated file"
        )
    return size // frame


def _raw_gains(gain_to_uv, n_channels):
    """A raw file's gains: None, or one positive finite number per channel (one given for all)."""
    if gain_to_uv is None:
        return None
    try:
        gains = [float(g) for g in np.atleast_1d(np.asarray(gain_to_uv, dtype=object)).tolist()]
    except (TypeError, ValueError):
        raise RecordingError(f"the gain to uV must be a number or one per channel, got {gain_to_uv!r}") from None
    if len(gains) == 1:
        gains *= n_channels
    if len(gains) != n_channels:
        raise RecordingError(f"{len(gains)} gains to uV for {n_channels} channels: give one, or one per channel")
    bad = [g for g in gains if not (np.isfinite(g) and g > 0)]
    if bad:
        raise RecordingError(f"a gain to uV must be a positive number, got {bad[0]}")
    return gains


def _raw(path, n_channels, sample_rate, dtype, gain_to_uv=None):
    dt = _parse_dtype(dtype)
    if not sample_rate or float(sample_rate) <= 0:
        raise RecordingError(f"the sample rate must be positive, got {sample_rate}")
    gains = _raw_gains(gain_to_uv, int(n_channels))
    return Source(
        "raw",
        path,
        int(n_channels),
        float(sample_rate),
        dt,
        _n_samples(path, int(n_channels), dt),
        [str(i) for i in range(int(n_channels))],
        gains_to_uv=gains,
        offsets_to_uv=[0.0] * int(n_channels) if gains else None,
    )


# ---------------------------------------------------------------- SpikeGLX


def read_meta(meta_path):
    """A SpikeGLX .meta file as a dict (keys as written, '~' included)."""
    meta = {}
    for line in location(meta_path).read_text(errors="replace").splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            meta[key.strip()] = value.strip()
    return meta


def _meta_int(meta, key, meta_path):
    try:
        return int(meta[key])
    except KeyError:
        raise RecordingError(f"{meta_path}: no {key}= line; is this a SpikeGLX .meta file?") from None
    except ValueError:
        raise RecordingError(f"{meta_path}: {key}={meta[key]!r} is not an integer") from None


def _spikeglx(path):
    meta_path = path.with_suffix(".meta")
    if not meta_path.exists():
        raise RecordingError(
            f"{path}: its SpikeGLX .meta file {meta_path.name} is missing (for a raw file "
            "give -n/--n-channels, -s/--sample-rate and -d/--dtype)"
        )
    content = meta_path.read_bytes()
    meta = read_meta(meta_path)
    n_channels = _meta_int(meta, "nSavedChans", meta_path)
    kind = meta.get("typeThis", "imec")
    rate_key = "imSampRate" if kind == "imec" else "niSampRate"
    try:
        rate = float(meta[rate_key])
    except (KeyError, ValueError):
        raise RecordingError(f"{meta_path}: no valid {rate_key}= line") from None
    if rate <= 0:
        raise RecordingError(f"{meta_path}: {rate_key}={meta[rate_key]} is not a sample rate")
    ids = _spikeglx_channel_names(meta)
    if ids is not None and len(ids) != n_channels:
        raise RecordingError(
            f"{meta_path} is inconsistent: nSavedChans={n_channels} but its channel map "
            f"(~snsChanMap) lists {len(ids)} channels"
        )
    counts_key = "snsApLfSy" if kind == "imec" else "snsMnMaXaDw"
    if counts_key in meta:
        try:
            total = sum(int(v) for v in meta[counts_key].split(","))
        except ValueError:
            raise RecordingError(f"{meta_path}: {counts_key}={meta[counts_key]!r} is not a list of counts") from None
        if total != n_channels:
            raise RecordingError(
                f"{meta_path} is inconsistent: nSavedChans={n_channels} but "
                f"{counts_key}={meta[counts_key]} adds up to {total}"
            )
    dtype = np.dtype("int16")
    n_samples = _n_samples(path, n_channels, dtype)
    size = path.stat().st_size
    sha1 = meta.get("fileSHA1", "").lower() or None
    if "fileSizeBytes" in meta and meta["fileSizeBytes"] != str(size):
        sha1 = None  # an excerpt or a file still being written: its recorded hash is not this file's
    gains = _spikeglx_gains(meta, n_channels, path)
    return Source(
        "spikeglx",
        path,
        n_channels,
        rate,
        dtype,
        n_samples,
        ids or [str(i) for i in range(n_channels)],
        gains_to_uv=gains,
        offsets_to_uv=[0.0] * n_channels if gains else None,
        probe=_spikeglx_probe(meta_path),
        metadata_files=[MetadataFile(meta_path.name, content)],
        expected_sha1=sha1,
    )


def _spikeglx_channel_names(meta):
    """'AP0', ..., 'SY0' from ~snsChanMap, in file order."""
    text = meta.get("~snsChanMap")
    if not text:
        return None
    return [entry.split(";")[0] for entry in re.findall(r"\(([^()]*;[^()]*)\)", text)]


def _spikeglx_gains(meta, n_channels, path):
    """Microvolts per integer unit for each saved channel, as SpikeGLX's own formula gives
    (range / max int / gain); 1 for the sync channel. None for an unknown layout."""
    try:
        if meta.get("typeThis", "imec") == "imec":
            vmax = float(meta["imAiRangeMax"])
            max_int = int(meta.get("imMaxInt", 512))
            n_ap, n_lf, n_sy = (int(v) for v in meta["snsApLfSy"].split(","))
            entries = re.findall(r"\(([^()]*)\)", meta["~imroTbl"])[1:]
            lf_file = ".lf" in path.name
            gains = []
            for entry in entries:
                fields = entry.split()
                # NP1-style tables list AP and LF gains per channel; NP2-style ones have a fixed gain of 80
                gains.append(float(fields[4] if lf_file else fields[3]) if len(fields) >= 6 else 80.0)
            per_type = [vmax / max_int / g * 1e6 for g in gains]
            saved = _saved_channels(meta, n_ap + n_lf + n_sy)
            out = []
            for c in saved:
                is_sync = c >= n_ap + n_lf
                out.append(1.0 if is_sync else per_type[c % len(per_type)])
        else:
            vmax = float(meta["niAiRangeMax"])
            max_int = int(meta.get("niMaxInt", 32768))
            mn, ma, xa, dw = (int(v) for v in meta["snsMnMaXaDw"].split(","))
            g_mn, g_ma = float(meta.get("niMNGain", 1)), float(meta.get("niMAGain", 1))
            saved = _saved_channels(meta, mn + ma + xa + dw)
            out = []
            for c in saved:
                gain = g_mn if c < mn else g_ma if c < mn + ma else 1.0
                out.append(1.0 if c >= mn + ma + xa else vmax / max_int / gain * 1e6)
        return out if len(out) == n_channels else None
    except (KeyError, ValueError, IndexError, ZeroDivisionError):
        return None


def _saved_channels(meta, n_acquired):
    subset = meta.get("snsSaveChanSubset", "all")
    if subset == "all":
        return list(range(n_acquired))
    out = []
    for part in subset.split(","):
        a, _, b = part.partition(":")
        out.extend(range(int(a), int(b or a) + 1))
    return out


def _spikeglx_probe(meta_path):
    """The probe (contact positions, shanks) that probeinterface reads from a .meta, as its dict;
    None when probeinterface is not installed or does not know the probe."""
    try:
        import probeinterface
    except ImportError:
        return None
    try:
        if isinstance(meta_path, RemoteFile):  # probeinterface reads local files: a copy of the text
            import tempfile

            with tempfile.TemporaryDirectory() as folder:
                local = Path(folder) / meta_path.name
                local.write_bytes(meta_path.read_bytes())
                probe = probeinterface.read_spikeglx(local)
        else:
            probe = probeinterface.read_spikeglx(meta_path)
    except Exception:  # an unknown or partial probe description: the recording itself is still fine
        return None
    group = probeinterface.ProbeGroup()
    group.add_probe(probe)
    return group.to_dict(array_as_list=True)


# ---------------------------------------------------------------- Open Ephys binary


def _find_oebin(path):
    for folder in [path.parent, *list(path.parents)[1:4]]:
        if (folder / "structure.oebin").exists():
            return folder / "structure.oebin"
    return None


def _openephys(path, stream=None):
    oebin = _find_oebin(path)
    if oebin is None:
        raise RecordingError(
            f"{path}: no structure.oebin found beside it or in the folders above it (for a raw "
            "file give -n/--n-channels, -s/--sample-rate and -d/--dtype)"
        )
    content = oebin.read_bytes()
    try:
        streams = json.loads(content)["continuous"]
    except (ValueError, KeyError, TypeError) as e:
        raise RecordingError(f"{oebin}: not a valid structure.oebin ({e})") from None
    names = [s.get("folder_name", "").strip("/") for s in streams]
    if stream is not None:
        picked = [s for s, n in zip(streams, names) if n == stream.strip("/")]
    else:
        # continuous/<folder_name>/continuous.dat, or <folder_name>_continuous.dat
        picked = [s for s, n in zip(streams, names) if n and (path.parent.name == n or path.name.startswith(n + "_"))]
        if not picked and len(streams) == 1:
            picked = streams
    if len(picked) != 1:
        raise RecordingError(
            f"{path}: cannot tell which stream of {oebin} this is (streams: {', '.join(names)}); name it with --stream"
        )
    s = picked[0]
    try:
        n_channels = int(s["num_channels"])
        rate = float(s["sample_rate"])
        channels = s["channels"]
        if len(channels) != n_channels:
            raise RecordingError(
                f"{oebin} is inconsistent: num_channels={n_channels} but {len(channels)} channels are listed"
            )
        ids = [str(c["channel_name"]) for c in channels]
        gains = [float(c["bit_volts"]) for c in channels]
        units = {c.get("units", "uV") for c in channels}
    except (KeyError, TypeError, ValueError) as e:
        raise RecordingError(f"{oebin}: stream {s.get('folder_name')} lacks {e}") from None
    dtype = np.dtype("int16")
    relpath = (
        oebin.relative_to_folder(path.parent) if isinstance(oebin, RemoteFile) else os.path.relpath(oebin, path.parent)
    )
    return Source(
        "openephys",
        path,
        n_channels,
        rate,
        dtype,
        _n_samples(path, n_channels, dtype),
        ids,
        gains_to_uv=gains if units == {"uV"} else None,
        offsets_to_uv=[0.0] * n_channels if units == {"uV"} else None,
        metadata_files=[MetadataFile(relpath, content)],
        lsb_candidate=True,
    )


# ---------------------------------------------------------------- mtscomp


def _open_mtscomp(cbin, ch):
    try:
        import mtscomp
    except ImportError:
        raise RecordingError("reading .cbin files needs mtscomp: install the package's mtscomp extra") from None
    reader = mtscomp.Reader(check_after_decompress=False, quiet=True)
    try:
        reader.open(cbin, ch)
    except (OSError, ValueError, KeyError, TypeError, AssertionError) as e:
        raise RecordingError(f"cannot read the mtscomp archive {cbin} ({ch.name}): {e}") from e
    return reader


def _mtscomp(path):
    if isinstance(path, RemoteFile):
        raise RecordingError(f"{path}: mtscomp archives are read from a local disk (copy it here first)")
    ch = path.with_suffix(".ch")
    if not ch.exists():
        raise RecordingError(f"{path}: its mtscomp header {ch.name} is missing")
    reader = _open_mtscomp(path, ch)
    try:
        offsets = reader.chunk_offsets
        if path.stat().st_size != offsets[-1]:
            raise RecordingError(
                f"{path}: unreadable mtscomp archive: {path.stat().st_size} bytes where its "
                f"header {ch.name} says {offsets[-1]} (truncated or not the archive of this header)"
            )
        source = Source(
            "mtscomp",
            path,
            int(reader.n_channels),
            float(reader.sample_rate),
            np.dtype(reader.dtype),
            int(reader.n_samples),
            [str(i) for i in range(int(reader.n_channels))],
            metadata_files=[],
            expected_sha1=reader.cmeta.get("sha1_uncompressed"),
            ch_path=ch,
        )
    finally:
        reader.close()
    return source
