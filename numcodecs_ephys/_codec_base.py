"""The base of every codec of the package: its state is its config."""

import functools
import inspect

from numcodecs.abc import Codec

from . import _container, _partial_decode


@functools.cache
def stored_params(cls):
    """The names of the parameters of ``cls``'s constructor that its config stores, in the
    constructor's order: all but ``num_threads``. Each is kept as the attribute of that name."""
    return tuple(name for name in inspect.signature(cls.__init__).parameters if name not in ("self", "num_threads"))


class ConfigCodec(Codec):
    """A numcodecs Codec whose config is its whole state: it pickles through the config
    (the cffi structs it may hold do not pickle; SpikeInterface n_jobs and dask need
    this), and its repr is the constructor call that rebuilds it. The config is the
    constructor's parameters (:func:`stored_params`), read back from the attributes of
    the same names.

    ``num_threads`` is not state: it overrides the process-wide thread count
    (:func:`numcodecs_ephys.set_num_threads`) for this instance, in this process only. It
    is never in the config, so it is never stored with the data, and codecs that differ
    only in it are equal; a pickle keeps it. Configs written by 0.1.0, which hold it, load
    without it."""

    num_threads = None

    def get_config(self):
        return dict(id=self.codec_id, **{name: getattr(self, name) for name in stored_params(type(self))})

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("id", None)
        config.pop("num_threads", None)  # stored by 0.1.0: the machine that reads decides
        return cls(**config)

    def __getstate__(self):
        # a pickle goes to another process of this run (dask, SpikeInterface n_jobs): the
        # instance's thread override goes with it
        state = self.get_config()
        if self.num_threads is not None:
            state["num_threads"] = self.num_threads
        return state

    def __setstate__(self, state):
        state = dict(state)
        state.pop("id", None)
        self.__init__(**state)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "id")
        return f"{type(self).__name__}({args})"


class ChunkCodec(ConfigCodec):
    """A codec of the chunk container (csrc/chunk.h): encoding, and decoding whole or a
    subset of the channels, go through the same C entry points for every block codec,
    named here."""

    _name: str  # in error messages
    _c_info = _c_decode = _c_decode_blocks = None  # the codec's *_info, *_decode, *_decode_blocks
    _c_encode = None  # the codec's *_encode, which takes the instance's _params
    block_channels: int

    def _samples(self, buf):
        """The chunk as an array of samples this codec codes, or a ValueError saying why not."""
        raise NotImplementedError

    def encode(self, buf):
        return _container.encode_chunk(
            self._c_encode, self._params, self._samples(buf), self.block_channels, self.num_threads
        )

    def decode(self, buf, out=None):
        return _container.decode_chunk(self._c_info, self._c_decode, buf, out, self.num_threads, self._name)

    def decode_channels(self, buf, channels):
        """Only the given channels of a chunk, as a (samples, len(channels)) array: decodes
        just the channel blocks (of ``block_channels``) that hold them, so reading 4 of 384
        channels costs about one block's decode. Channels count the chunk's channel axes
        flattened in C order; negative numbers count from the end."""
        return _partial_decode.decode_channels(
            self._c_info, self._c_decode_blocks, buf, channels, self.num_threads, self._name
        )

    def decode_selection(self, buf, selection, shape=None):
        """``decode(buf)[selection]`` for a tuple of one slice, integer or index array per
        axis, decoding only the channel blocks it touches (zarr 3's partial decoding);
        None when ``shape`` is given and the chunk recorded another shape."""
        return _partial_decode.decode_selection(
            self._c_info, self._c_decode_blocks, buf, selection, self.num_threads, self._name, shape
        )
