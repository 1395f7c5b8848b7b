"""The compiled C extension (numcodecs_ephys._native, built by cffi from csrc/build_native.py),
its dtype codes and its error codes."""

import numpy as np

try:
    from ._native import ffi, lib
except ImportError as exc:  # pragma: no cover - exercised only on broken installs
    raise ImportError(
        "the numcodecs_ephys C extension is not built; reinstall the package "
        "(pip install numcodecs-ephys) with libwavpack and libFLAC development files available"
    ) from exc

DTYPE_CODES = {
    np.dtype("int8"): lib.EPHYS_DTYPE_INT8,
    np.dtype("int16"): lib.EPHYS_DTYPE_INT16,
    np.dtype("int32"): lib.EPHYS_DTYPE_INT32,
    np.dtype("float32"): lib.EPHYS_DTYPE_FLOAT32,
    np.dtype("float64"): lib.EPHYS_DTYPE_FLOAT64,
    np.dtype("uint8"): lib.EPHYS_DTYPE_UINT8,
    np.dtype("uint16"): lib.EPHYS_DTYPE_UINT16,
    np.dtype("uint32"): lib.EPHYS_DTYPE_UINT32,
}
CODE_DTYPES = {v: k for k, v in DTYPE_CODES.items()}


def check(err, what):
    """Turn a C error code into a ValueError a person can act on."""
    if err:
        raise ValueError(f"{what}: {ffi.string(lib.ephys_strerror(err)).decode()}")
