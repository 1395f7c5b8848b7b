"""Smoke test of an installed numcodecs-ephys, run by `make package-check` in a fresh venv
holding only the built wheel or sdist (with its hdf5 extra): the package imports from the
installation, every codec round-trips and is found by id, and the HDF5 filter plugins load."""

import os
import subprocess
import sys
import tempfile

import numcodecs
import numpy as np

import numcodecs_ephys as ne

assert "site-packages" in ne.__file__, f"imported from {ne.__file__}, not from the installation"
rng = np.random.default_rng(0)
x = np.cumsum(rng.normal(0, 4, (2000, 8)), axis=0).astype("int16")
for codec in (
    ne.WavPack(),
    ne.WavPack(bps=3),
    ne.FLAC(),
    ne.Delta2D(),
    ne.BitTruncation(2),
    ne.LSB(),
    ne.WavPackNumcodecsFormat(),
    ne.FLACNumcodecsFormat(),
):
    decoded = np.asarray(codec.decode(codec.encode(x))).reshape(x.shape)
    lossy = getattr(codec, "bps", None) or getattr(codec, "bits", 0)
    assert np.abs(decoded.astype(int) - x).max() <= (64 if lossy else 0), codec
    assert type(numcodecs.get_codec(codec.get_config())) is type(codec), codec

import h5py  # noqa: E402

import numcodecs_ephys.hdf5 as eh5  # noqa: E402

assert os.path.isdir(eh5.PLUGIN_PATH) and eh5.PLUGIN_PATH.startswith(os.path.dirname(ne.__file__))
with tempfile.TemporaryDirectory() as tmp:
    with h5py.File(os.path.join(tmp, "x.h5"), "w") as f:
        for name, flt in (("wavpack", eh5.WavPackH5()), ("flac", eh5.FLACH5())):
            f.create_dataset(name, data=x, chunks=(1000, 8), **flt)
    with h5py.File(os.path.join(tmp, "x.h5"), "r") as f:
        for name in ("wavpack", "flac"):
            assert np.array_equal(f[name][()], x), name
    # reading needs no import: the installed numcodecs_ephys_hdf5.pth put the plugins on HDF5_PLUGIN_PATH
    plain = (
        "import sys, h5py, numpy as np; f = h5py.File(sys.argv[1]); "
        "assert np.array_equal(f['wavpack'][()], f['flac'][()]); assert 'numcodecs_ephys' not in sys.modules"
    )
    env = {k: v for k, v in os.environ.items() if k != "HDF5_PLUGIN_PATH"}
    subprocess.run([sys.executable, "-c", plain, os.path.join(tmp, "x.h5")], check=True, env=env)
print(
    f"numcodecs-ephys {ne.__version__} from {os.path.dirname(ne.__file__)}: smoke test passed "
    f"({sys.version.split()[0]})"
)
