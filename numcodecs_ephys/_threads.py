"""The process-wide thread count of the C codecs, and a codec instance's override of it."""

import os

from ._extension import lib

MAX_THREADS = lib.EPHYS_MAX_THREADS
NUM_THREADS_ENV = "NUMCODECS_EPHYS_NUM_THREADS"
"""The environment variable holding the process-wide thread count of the C codecs; the
HDF5 filter plugins read it too."""


def all_cores():
    """All cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def validate_num_threads(num_threads):
    if num_threads is None:
        return None
    if isinstance(num_threads, bool) or int(num_threads) != num_threads or not 1 <= num_threads <= MAX_THREADS:
        raise ValueError(
            f"num_threads must be None (all cores) or an integer from 1 to {MAX_THREADS}, got {num_threads!r}"
        )
    return int(num_threads)


def set_num_threads(num_threads):
    """Set how many C threads every codec of this process uses per chunk (None: all cores).

    The thread count belongs to the machine that runs the code, not to the data: it is never
    written into a codec's config, zarr metadata or HDF5 cd_values. It is kept in the
    environment variable ``NUMCODECS_EPHYS_NUM_THREADS``, which also sets it for a whole
    program (and for the HDF5 filter plugins, in h5py or any other HDF5 program). When an
    outer layer already runs one chunk per core (dask, SpikeInterface ``n_jobs``), set 1.
    A codec's own ``num_threads`` argument overrides it for that instance."""
    num_threads = validate_num_threads(num_threads)
    if num_threads is None:
        os.environ.pop(NUM_THREADS_ENV, None)
    else:
        os.environ[NUM_THREADS_ENV] = str(num_threads)


def get_num_threads():
    """The process-wide thread count of the C codecs (see :func:`set_num_threads`)."""
    value = os.environ.get(NUM_THREADS_ENV, "").strip()
    if not value:
        return all_cores()
    try:
        return validate_num_threads(int(value))
    except ValueError:
        raise ValueError(f"{NUM_THREADS_ENV}={value!r}: must be an integer from 1 to {MAX_THREADS}") from None


def threads(num_threads):
    """A codec instance's thread count: its own override, else the process-wide setting."""
    return num_threads or get_num_threads()
