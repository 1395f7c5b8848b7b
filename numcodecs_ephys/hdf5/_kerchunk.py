"""kerchunk's HDF5 translator, taught our filter ids (see numcodecs_ephys.hdf5.references)."""

from kerchunk.hdf import SingleHdf5ToZarr

from ._filters import codec_for_filter


class _OneFilter:
    """A dataset seen through one entry of its filter pipeline, for kerchunk's own mapping."""

    def __init__(self, dataset, key):
        self._dataset, self._filters = dataset, {key: dataset._filters[key]}
        self.shuffle = key == "shuffle" and dataset.shuffle

    def __getattr__(self, name):
        return getattr(self._dataset, name)


class EphysHdf5ToZarr(SingleHdf5ToZarr):
    """kerchunk's ``SingleHdf5ToZarr`` that also maps the filters of numcodecs-ephys
    (:data:`numcodecs_ephys.hdf5.FILTERS`) to their numcodecs codecs.

    kerchunk maps filter ids to codecs from a fixed list in ``_decode_filters`` and leaves
    out (with a warning) every dataset that uses another filter. This subclass walks the
    pipeline in order: our filters become our codecs, every other entry is mapped by
    kerchunk itself, so datasets without our filters translate exactly as before.
    Use it as kerchunk's class (``EphysHdf5ToZarr(url, storage_options=...).translate()``),
    or call :func:`numcodecs_ephys.hdf5.references`.
    """

    def _decode_filters(self, h5obj):
        pipeline = h5obj._filters
        if all(codec_for_filter(key, values) is None for key, values in pipeline.items()):
            return super()._decode_filters(h5obj)
        codecs = []
        for key, values in pipeline.items():
            codec = codec_for_filter(key, values)
            codecs += [codec] if codec is not None else super()._decode_filters(_OneFilter(h5obj, key))
        return codecs
