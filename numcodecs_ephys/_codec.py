"""The base of every codec of the package: its state is its config."""
from numcodecs.abc import Codec


class ConfigCodec(Codec):
    """A numcodecs Codec whose config is its whole state: it pickles through the config
    (the cffi structs it may hold do not pickle; SpikeInterface n_jobs and dask need
    this), and its repr is the constructor call that rebuilds it."""

    def __getstate__(self):
        return self.get_config()

    def __setstate__(self, state):
        state = dict(state)
        state.pop("id", None)
        self.__init__(**state)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "id")
        return f"{type(self).__name__}({args})"
