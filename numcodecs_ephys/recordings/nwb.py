"""NWB files recompressed: the data of every ElectricalSeries re-encoded with our filters,
everything else copied as it is.

NWB HDF5 out: the file is copied object by object with h5py. Groups, links (soft, external,
and hard links to an object met before), attributes and every other dataset (by HDF5's own
object copy, which keeps its chunks and filters) come over unchanged, object references
pointed again at the same objects in the new file; each series' data is written anew with
our HDF5 filter, ``chunk_duration`` seconds x all channels per chunk, one chunk at a time
(memory stays flat). NWB-Zarr out (``zarr=True``): pynwb reads the file and hdmf-zarr
exports it, with our numcodecs codec on the series' data; hdmf writes what the NWB schema
and the file's extensions describe (an attribute or dataset outside them is not carried).

Integer series take the codec asked for; a float series takes it too when it codes
floats, and lossless WavPack (which does) otherwise. The report says which, per series.
Before the output gets its final name, each rewritten dataset is read back and compared
with its source (``check``).
"""

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .locations import is_url
from .manifest import StoreError
from .storage import remove_local, replace_local
from .stores import DEFAULT_CODEC

NWB_SUFFIX = ".nwb"
DEFAULT_CHUNK_SAMPLES = 30000  # a series without a rate (timestamps only)
BUFFER_CHUNKS = 1  # chunks read from the source per write: memory stays ~ one chunk per series


@dataclass
class SeriesReport:
    """One rewritten series: where it is, what it holds, its stored bytes before and after."""

    path: str  # the dataset's HDF5 path, e.g. /acquisition/ElectricalSeriesAP/data
    dtype: str
    shape: tuple
    codec: str  # the codec that coded it ("wavpack (floats)" when the asked one does not take floats)
    bytes_before: int
    bytes_after: int = 0

    @property
    def ratio(self):
        return self.bytes_before / self.bytes_after if self.bytes_after else float("nan")


def is_nwb(path_or_url):
    """An input the NWB path handles: a .nwb file (HDF5) or an NWB-Zarr folder (.nwb.zarr)."""
    name = str(path_or_url).rstrip("/")
    return name.endswith(NWB_SUFFIX) or name.endswith(NWB_SUFFIX + ".zarr")


def output_suffix(zarr=False):
    """What replaces an NWB file's suffix in the name of its recompressed copy."""
    return f".ephys{NWB_SUFFIX}{'.zarr' if zarr else ''}"


def default_output(path, zarr=False):
    """session.nwb -> session.ephys.nwb (session.ephys.nwb.zarr with zarr)."""
    path = Path(path)
    stem = path.name[: -len(NWB_SUFFIX)] if path.name.endswith(NWB_SUFFIX) else path.stem
    return path.with_name(stem + output_suffix(zarr))


def _local(path, what):
    if is_url(path):
        raise ValueError(f"{what} {path}: NWB files are read and written on a local disk (not a URL)")
    return Path(path)


def _filter_classes():
    from .. import hdf5

    return {"wavpack": hdf5.WavPackH5, "flac": hdf5.FLACH5, "lpc": hdf5.LPCH5}


def _codec_options(codec, level, bps):
    return {k: v for k, v in (("level", level), ("bps", bps)) if v is not None}


def _pick_codec(codec, options, sample):
    """(codec name, its HDF5 filter, its numcodecs codec) for data like ``sample``: the codec
    asked for, else lossless WavPack for floats it does not take; None when none takes it."""
    classes = _filter_classes()
    candidates = [(codec, options)]
    if sample.dtype.kind == "f" and codec != "wavpack":
        candidates.append(("wavpack", {}))
    for name, opts in candidates:
        try:
            h5filter = classes[name](**opts)
        except TypeError:
            raise ValueError(f"codec {codec} has no {' or '.join(opts)} option") from None
        numcodec = h5filter.codec()
        try:
            numcodec.encode(np.ascontiguousarray(sample))
        except ValueError:
            continue
        label = name if name == codec else f"{name} ({sample.dtype} data: {codec} does not take it)"
        return label, h5filter, numcodec
    return None


def _series_data(h5file, names):
    """{data path: rate or None} for every ElectricalSeries of the file (by its
    neurodata_type attribute; spike snippets are SpikeEventSeries) or, with ``names``, for
    the TimeSeries groups of those names; numeric 1-D or 2-D data only."""
    import h5py

    found = {}

    def visit(path, obj):
        if not isinstance(obj, h5py.Group) or not isinstance(obj.get("data"), h5py.Dataset):
            return
        kind = obj.attrs.get("neurodata_type")
        kind = kind.decode() if isinstance(kind, bytes) else kind
        chosen = (path.rsplit("/", 1)[-1] in names) if names is not None else kind == "ElectricalSeries"
        data = obj["data"]
        if chosen and data.ndim in (1, 2) and data.dtype.kind in "iuf":
            start = obj.get("starting_time")
            rate = start.attrs.get("rate") if isinstance(start, h5py.Dataset) else None
            found[data.name] = float(rate) if rate else None

    h5file.visititems(visit)
    if names is not None:
        missing = set(names) - {p.rsplit("/", 2)[-2] for p in found}
        if missing:
            raise ValueError(f"no numeric TimeSeries named {', '.join(sorted(missing))} in the file")
    return dict(sorted(found.items()))


def _chunk_rows(rate, n_rows, chunk_duration):
    rows = int(round(chunk_duration * rate)) if rate else DEFAULT_CHUNK_SAMPLES
    return max(1, min(rows, n_rows))


def _source_chunks(dataset, rows):
    """The source dataset as hdmf's chunk iterator: ``rows`` samples x all channels per read."""
    from hdmf.data_utils import GenericDataChunkIterator

    class DatasetChunks(GenericDataChunkIterator):
        def __init__(self):
            shape = (rows,) + dataset.shape[1:]
            super().__init__(buffer_shape=shape, chunk_shape=shape, display_progress=False)

        def _get_data(self, selection):
            return dataset[selection]

        def _get_maxshape(self):
            return dataset.shape

        def _get_dtype(self):
            return dataset.dtype

    return DatasetChunks()


def _stored_bytes(dataset):
    """Bytes a dataset takes in its file: HDF5's storage size, or a zarr array's chunks."""
    if hasattr(dataset, "id"):
        return int(dataset.id.get_storage_size())
    return int(dataset.nbytes_stored)


class _Copier:
    """Copies an HDF5 file object by object into another, rewriting the datasets of ``plans``
    ({path: (HDF5 filter, rows per chunk)})."""

    def __init__(self, src, dst, plans):
        self.src, self.dst, self.plans = src, dst, plans
        self.seen = {}  # source object address -> its first path in dst (hard links)
        self.with_refs = []  # (path, attribute name or None for the data) holding object references

    def run(self):
        self._attrs(self.src, "/")
        self._group(self.src, self.dst)
        for path, attr in self.with_refs:
            self._remap(path, attr)

    def _group(self, src, dst):
        for name in src:  # HDF5's iteration order: creation order where the group tracks it
            import h5py

            link = src.get(name, getlink=True)
            if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
                dst[name] = link
                continue
            obj = src[name]
            addr = h5py.h5o.get_info(obj.id).addr
            if addr in self.seen:
                dst[name] = self.dst[self.seen[addr]]
                continue
            path = f"{dst.name.rstrip('/')}/{name}"
            self.seen[addr] = path
            if isinstance(obj, h5py.Group):
                gcpl = obj.id.get_create_plist()
                sub = dst.create_group(name, track_order=bool(gcpl.get_link_creation_order()) or None)
                self._attrs(obj, path)
                self._group(obj, sub)
            elif path in self.plans:
                self._rewrite(obj, dst, name, *self.plans[path])
                self._attrs(obj, path)
            else:
                src.copy(obj, dst, name, without_attrs=True)  # HDF5's object copy: layout and filters kept
                self._attrs(obj, path)
                if _has_refs(obj.dtype):
                    self.with_refs.append((path, None))

    def _attrs(self, obj, path):
        target = self.dst[path]
        for key in obj.attrs:
            dtype = obj.attrs.get_id(key).dtype  # as stored: fixed or variable-length strings stay so
            if _has_refs(dtype):  # written once the objects it points at exist in dst
                self.with_refs.append((path, key))
            else:
                target.attrs.create(key, obj.attrs[key], dtype=dtype)

    def _rewrite(self, ds, dst, name, h5filter, rows):
        out = dst.create_dataset(
            name,
            shape=ds.shape,
            dtype=ds.dtype,
            maxshape=ds.maxshape,
            chunks=(rows,) + ds.shape[1:],
            fillvalue=ds.fillvalue,
            **h5filter,
        )
        for t0 in range(0, ds.shape[0], rows):
            out[t0 : t0 + rows] = ds[t0 : t0 + rows]

    def _remap(self, path, attr):
        """Point the references of a copied attribute or dataset at the same objects in dst."""
        src_obj, dst_obj = self.src[path], self.dst[path]
        if attr is None:
            dst_obj[...] = _map_refs(src_obj[()], src_obj.dtype, self._ref)
        else:
            dtype = src_obj.attrs.get_id(attr).dtype
            dst_obj.attrs.create(attr, _map_refs(src_obj.attrs[attr], dtype, self._ref), dtype=dtype)

    def _ref(self, ref):
        import h5py

        if isinstance(ref, h5py.RegionReference):
            raise ValueError("region references are not supported (NWB 2 files do not use them)")
        if not ref:
            return h5py.Reference()
        return self.dst[self.src[ref].name].ref


def _has_refs(dtype):
    import h5py

    if dtype.names:
        return any(_has_refs(dtype[n]) for n in dtype.names)
    return h5py.check_dtype(ref=dtype) is not None


def _map_refs(value, dtype, ref):
    """value with every object reference r replaced by ref(r) (plain, array or compound)."""
    import h5py

    if dtype.names:
        arr = np.array(value, dtype=dtype, copy=True)
        for n in dtype.names:
            if _has_refs(dtype[n]):
                arr[n] = _map_refs(arr[n], dtype[n], ref)
        return arr
    if h5py.check_dtype(ref=dtype) is None:
        return value
    if isinstance(value, np.ndarray):
        out = np.empty(value.shape, dtype=object)
        for i, r in np.ndenumerate(value):
            out[i] = ref(r)
        return out
    return ref(value)


def compress_nwb(
    path,
    output=None,
    *,
    codec=DEFAULT_CODEC,
    level=None,
    bps=None,
    chunk_duration=1.0,
    zarr=False,
    series=None,
    overwrite=False,
    check=True,
):
    """Recompress an NWB file; returns (output path, [SeriesReport, ...]).

    Every ElectricalSeries' data (or, with ``series``, the TimeSeries of those names) is
    re-encoded with the HDF5 filter of ``codec`` (``level``, ``bps`` as the command takes
    them), chunked ``chunk_duration`` seconds x all channels; ``zarr`` writes NWB-Zarr
    through hdmf-zarr instead, with the numcodecs codec. Nothing is left under ``output``
    unless it succeeds; ``check`` compares each rewritten dataset with its source first.
    """
    import h5py

    src = _local(path, "input")
    if not src.is_file():
        raise StoreError(f"{src}: no such NWB file")
    final = _local(output, "output") if output is not None else default_output(src, zarr)
    if final.resolve() == src.resolve():
        raise ValueError(f"the output {final} would replace the input")
    if (final.exists() or final.is_symlink()) and not overwrite:
        raise FileExistsError(f"{final} exists; pass --overwrite (overwrite=True) to replace it")
    if codec not in _filter_classes():
        raise ValueError(f"unknown codec {codec!r}; choose from {', '.join(_filter_classes())}")
    options = _codec_options(codec, level, bps)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".partial.{os.getpid()}.{final.name}"  # keeps the suffix that pynwb and hdmf-zarr check
    reports, plans = [], {}
    try:
        with h5py.File(src, "r") as f:
            found = _series_data(f, series)
            if not found:
                raise ValueError(f"{src} holds no ElectricalSeries (name other series with --series)")
            for name, rate in found.items():
                data = f[name]
                report = SeriesReport(name, data.dtype.str, tuple(data.shape), "", _stored_bytes(data))
                reports.append(report)
                picked = _pick_codec(codec, options, data[: min(64, data.shape[0])])
                if picked is None:
                    report.codec = f"none ({data.dtype} is taken by no codec: copied as it is)"
                    continue
                report.codec, h5filter, numcodec = picked
                plans[name] = (h5filter, numcodec, _chunk_rows(rate, data.shape[0], chunk_duration))
            if not zarr:
                with h5py.File(tmp, "w", userblock_size=f.userblock_size or None) as out:
                    _Copier(f, out, {p: (h5f, rows) for p, (h5f, _, rows) in plans.items()}).run()
                if f.userblock_size:
                    with open(src, "rb") as a, open(tmp, "r+b") as b:
                        b.write(a.read(f.userblock_size))
        if zarr:
            _export_zarr(src, tmp, plans)
        with _open_output(tmp) as out:
            for report in reports:
                report.bytes_after = _stored_bytes(out[report.path])
        if check and plans:
            verify_nwb(tmp, src, _name=final)
        replace_local(tmp, final)
    except BaseException:
        remove_local(tmp)
        raise
    return final, reports


def _export_zarr(src, tmp, plans):
    """NWB-Zarr through pynwb and hdmf-zarr, our numcodecs codec on the planned series' data."""
    try:
        import pynwb
        from hdmf_zarr import ZarrDataIO
        from hdmf_zarr.nwb import NWBZarrIO
    except ImportError:
        raise ImportError("NWB-Zarr output needs pynwb and hdmf-zarr: install the package's nwb extra") from None
    with pynwb.NWBHDF5IO(str(src), "r") as reader:
        nwbfile = reader.read()
        for obj in nwbfile.objects.values():
            data = getattr(obj, "fields", {}).get("data")
            if getattr(data, "name", None) in plans:
                _, numcodec, rows = plans[data.name]
                chunks = (rows,) + data.shape[1:]
                # the field's setter refuses a second value: the export takes this one
                obj.fields["data"] = ZarrDataIO(data=_source_chunks(data, rows), chunks=chunks, compressor=numcodec)
                obj.set_modified()
        with NWBZarrIO(str(tmp), mode="w") as writer:
            writer.export(src_io=reader, nwbfile=nwbfile, write_args={"link_data": False})


def _open_output(path):
    """The output's root group: h5py for an HDF5 file, zarr for an NWB-Zarr folder."""
    path = Path(path)
    if path.is_dir():
        import zarr

        return contextlib.nullcontext(zarr.open_group(str(path), mode="r"))
    import h5py

    return h5py.File(path, "r")


def _ours(dataset):
    """Does the dataset use one of our codecs (HDF5 filter or zarr compressor)?"""
    from .. import hdf5

    filters = getattr(dataset, "_filters", None)
    if filters is not None:
        return any(int(k) in hdf5.FILTERS for k in filters if str(k).isdigit())
    compressor = getattr(dataset, "compressor", None)
    return compressor is not None and compressor.codec_id.startswith("ephys_")


def _datasets(group, prefix=""):
    """Every dataset of an h5py or zarr group, by path, each once (links aside)."""
    out = {}
    for name in group:
        try:
            item = group[name]
        except KeyError:  # a dangling link
            continue
        path = f"{prefix}/{name}"
        if hasattr(item, "shape") and hasattr(item, "dtype"):
            out[path] = item
        elif hasattr(item, "keys"):
            out.update(_datasets(item, path))
    return out


def _same(a, b):
    """Bit for bit (floats compared as their bits: NaN payloads and -0.0 included)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind == "f":
        view = np.dtype(f"u{a.dtype.itemsize}")
        return np.array_equal(a.view(view), b.view(view))
    return np.array_equal(a, b)


def verify_nwb(output, original=None, *, _name=None):
    """Decode every dataset of ``output`` that uses our codecs and compare it, chunk by
    chunk, with the same dataset of ``original`` (the source NWB file) when given. Returns
    {dataset path: samples compared}; raises StoreError naming every dataset and time range
    that differs (a damaged chunk raises the codec's own error, named the same way)."""
    import h5py

    name = _name or output
    problems, compared = [], {}
    with _open_output(output) as out:
        ours = {p: d for p, d in _datasets(out).items() if _ours(d)}
        if not ours:
            raise StoreError(f"{name}: no dataset uses a numcodecs-ephys codec")
        src = h5py.File(_local(original, "original"), "r") if original is not None else None
        try:
            for path, ds in ours.items():
                rows = ds.chunks[0]
                ref = src[path] if src is not None else None
                if ref is not None and (ref.shape != ds.shape or ref.dtype != ds.dtype):
                    problems.append(f"{path}: {ds.dtype} {ds.shape} where the original has {ref.dtype} {ref.shape}")
                    continue
                for t0 in range(0, ds.shape[0], rows):
                    t1 = min(t0 + rows, ds.shape[0])
                    try:
                        got = np.asarray(ds[t0:t1])
                    except (ValueError, OSError) as e:
                        problems.append(f"{path} samples {t0}-{t1}: does not decode ({e})")
                        continue
                    if ref is not None and not _same(got, np.asarray(ref[t0:t1])):
                        problems.append(f"{path} samples {t0}-{t1}: differ from {original}")
                compared[path] = int(ds.shape[0])
        finally:
            if src is not None:
                src.close()
    if problems:
        raise StoreError(f"{name}: " + "; ".join(problems[:20]) + (" ..." if len(problems) > 20 else ""))
    return compared


def format_report(reports):
    """The per-series table the command prints."""
    lines = [f"{'series data':48s} {'dtype':6s} {'shape':>16s} {'before':>12s} {'after':>12s} {'CR':>6s}  codec"]
    for r in reports:
        lines.append(
            f"{r.path:48s} {r.dtype:6s} {'x'.join(map(str, r.shape)):>16s} {r.bytes_before:12d} "
            f"{r.bytes_after:12d} {r.ratio:6.2f}  {r.codec}"
        )
    before = sum(r.bytes_before for r in reports)
    after = sum(r.bytes_after for r in reports)
    lines.append(f"{'all series':48s} {'':6s} {'':>16s} {before:12d} {after:12d} {before / max(after, 1):6.2f}")
    return "\n".join(lines)
