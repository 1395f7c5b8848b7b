"""HDF5 filters for h5py, pynwb and NeuroConv: WavPack (lossless and hybrid), FLAC and EphysLPC.

Importing this module registers both filters with h5py's HDF5, so that::

    import numcodecs_ephys.hdf5 as eh5
    f.create_dataset("data", data=x, chunks=(30000, 64), **eh5.WavPackH5())
    H5DataIO(x, **eh5.WavPackH5(bps=3), allow_plugin_filters=True)   # pynwb

write and read them. Reading needs no import: the installed ``numcodecs_ephys_hdf5.pth``
appends :data:`PLUGIN_PATH` to ``HDF5_PLUGIN_PATH`` when Python starts (keeping a path the
user set), so plain h5py/pynwb read our files in any process of that environment.
Programs outside it (h5dump, HDFView, MATLAB, netCDF) read the same files when
``HDF5_PLUGIN_PATH`` names :data:`PLUGIN_PATH`.

Each HDF5 chunk is one numcodecs-ephys chunk, byte-identical to what
:class:`numcodecs_ephys.WavPack` / :class:`numcodecs_ephys.FLAC` with the same options
write for that chunk: axis 0 of the dataset is time, the other axes are channels.

:func:`references` builds kerchunk references of a file whose datasets use these filters
(fsspec ``reference://`` + zarr, xarray); ``EphysHdf5ToZarr`` (imported on first use, it
needs kerchunk) is kerchunk's ``SingleHdf5ToZarr`` with our filters mapped.

Filter ids: :data:`WAVPACK_FILTER_ID`, :data:`FLAC_FILTER_ID`, :data:`LPC_FILTER_ID`, in HDF5's
untracked range 32768-65535 (their values, and how registered ids would be adopted while files
with these still read: ``_filter_ids.py``; the request: docs/hdf5-filter-registration.md). The FLAC
filter does not use FLAC's registered id 32027 because it stores our container (channel
blocks of stereo-paired FLAC streams), not one plain FLAC stream.
"""

from ._filters import FILTERS, FLACH5, LPCH5, WavPackH5, codec_for_filter
from ._plugins import FLAC_FILTER_ID, LPC_FILTER_ID, PLUGIN_PATH, WAVPACK_FILTER_ID, plugin_library

__all__ = [
    "WavPackH5",
    "FLACH5",
    "LPCH5",
    "PLUGIN_PATH",
    "WAVPACK_FILTER_ID",
    "FLAC_FILTER_ID",
    "LPC_FILTER_ID",
    "FILTERS",
    "plugin_library",
    "codec_for_filter",
    "references",
]


def references(path_or_url, *, inline_threshold=500, error="warn", **storage_options):
    """kerchunk references (a ``{"version": 1, "refs": ...}`` dict) of an HDF5/NWB file whose
    datasets may use our filters, for fsspec's ``reference://`` filesystem, zarr and xarray.

    Our HDF5 chunks are byte-identical to the chunks of the numcodecs codecs, so each
    reference points at the bytes in the file and the zarr metadata names the codec (with the
    file's options) in ``filters``. Other datasets are translated by kerchunk as usual;
    ``inline_threshold`` and ``error`` are kerchunk's (``error="warn"``: a dataset kerchunk
    cannot translate is left out with a warning). ``storage_options`` open ``path_or_url``
    with fsspec (e.g. ``anon=True`` or ``client_kwargs={"endpoint_url": ...}`` for S3).
    Needs kerchunk (``pip install numcodecs-ephys[references]``).
    """
    from ._kerchunk import EphysHdf5ToZarr

    translator = EphysHdf5ToZarr(
        path_or_url, inline_threshold=inline_threshold, error=error, storage_options=storage_options
    )
    try:
        return translator.translate()
    finally:
        if hasattr(translator, "close"):  # kerchunk >= 0.2.8; 0.2.7 leaves the file to the GC
            translator.close()


def __getattr__(name):
    # the kerchunk subclass is built on first use: kerchunk (and zarr) stay unimported otherwise
    if name == "EphysHdf5ToZarr":
        from ._kerchunk import EphysHdf5ToZarr

        return EphysHdf5ToZarr
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
