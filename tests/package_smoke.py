"""Smoke test of an installed numcodecs-ephys, run by `make package-check` in a fresh venv
holding only the built wheel or sdist (with its hdf5 extra): the package imports from the
installation (its subpackages included), every codec round-trips and is found by id, the
three HDF5 filter plugins round-trip through h5py, plain h5py reads without importing us
(numcodecs_ephys_hdf5.pth), the system's h5dump, started from this Python, prints the values
of each filter's dataset, and the numcodecs-ephys command runs.

``--no-h5dump`` leaves out the h5dump check, where no system h5dump is installed (the
cibuildwheel test environments of pyproject.toml).

``--without-system-libs`` (the repaired wheel): runs the same checks again inside a mount
namespace (``unshare -m``) where the system's libwavpack, libFLAC and libogg are empty files,
and also checks that the extension and the plugins resolve those libraries inside the
installation (ldd, and the libraries this process mapped)."""

import ctypes
import os
import re
import subprocess
import sys
import tempfile

HIDDEN = ("libwavpack.so", "libFLAC.so", "libogg.so")  # what the repaired wheel carries
INSIDE = "NUMCODECS_EPHYS_SMOKE_HIDDEN"  # set in the namespace: the files hidden there


def _system_libraries():
    """The real files of the system's libwavpack, libFLAC and libogg (every soname ldconfig knows)."""
    listing = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    paths = {
        os.path.realpath(line.rsplit("=>", 1)[1].strip())
        for line in listing.splitlines()
        if "=>" in line and line.strip().startswith(HIDDEN)
    }
    return sorted(p for p in paths if os.path.exists(p))


def _rerun_without_system_libraries():
    """This script again, in a mount namespace where each system library is an empty file."""
    libraries = _system_libraries()
    if not libraries:
        sys.exit("no system libwavpack/libFLAC found to hide: nothing to prove")
    with tempfile.TemporaryDirectory() as tmp:
        empty = os.path.join(tmp, "empty")
        open(empty, "w").close()
        mounts = 'for f in "$@"; do mount --bind "$EMPTY" "$f" || exit 1; done; exec "$PYTHON" "$SCRIPT"'
        unshare = ["unshare", "--mount"] + ([] if os.getuid() == 0 else ["--map-root-user"])
        env = dict(os.environ, EMPTY=empty, PYTHON=sys.executable, SCRIPT=os.path.abspath(__file__))
        env[INSIDE] = os.pathsep.join(libraries)
        print(f"hiding {', '.join(libraries)} (mount namespace)", flush=True)
        sys.exit(subprocess.run([*unshare, "sh", "-c", mounts, "sh", *libraries], env=env).returncode)


if sys.argv[1:] == ["--without-system-libs"]:
    _rerun_without_system_libraries()
if sys.argv[1:] not in ([], ["--no-h5dump"]):
    sys.exit(f"usage: {sys.argv[0]} [--without-system-libs | --no-h5dump]")

import numcodecs  # noqa: E402
import numpy as np  # noqa: E402

import numcodecs_ephys as ne  # noqa: E402

hidden = [p for p in os.environ.get(INSIDE, "").split(os.pathsep) if p]
for path in hidden:  # the namespace really hides them
    try:
        ctypes.CDLL(path)
    except OSError:
        pass
    else:
        sys.exit(f"{path} still loads inside the namespace")

package = os.path.dirname(ne.__file__)
assert "site-packages" in package, f"imported from {package}, not from the installation"
rng = np.random.default_rng(0)
x = np.cumsum(rng.normal(0, 4, (2000, 8)), axis=0).astype("int16")
for codec in (
    ne.WavPack(),
    ne.WavPack(bps=3),
    ne.FLAC(),
    ne.EphysLPC(),
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

assert os.path.isdir(eh5.PLUGIN_PATH) and eh5.PLUGIN_PATH.startswith(package)
# the start-up hook put the plugin folder last on HDF5_PLUGIN_PATH, and only folders that exist
plugin_path = os.environ.get("HDF5_PLUGIN_PATH", "").split(os.pathsep)
assert plugin_path[-1] == eh5.PLUGIN_PATH and all(os.path.isdir(p) for p in plugin_path), plugin_path
FILTERS = (("wavpack", eh5.WavPackH5()), ("flac", eh5.FLACH5()), ("lpc", eh5.LPCH5()))

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "x.h5")
    with h5py.File(path, "w") as f:
        for name, flt in FILTERS:
            f.create_dataset(name, data=x, chunks=(1000, 8), **flt)
    with h5py.File(path, "r") as f:
        for name, _ in FILTERS:
            assert np.array_equal(f[name][()], x), name
    # reading needs no import: the installed numcodecs_ephys_hdf5.pth put the plugins on HDF5_PLUGIN_PATH
    plain = (
        "import sys, h5py, numpy as np; f = h5py.File(sys.argv[1]); "
        "assert np.array_equal(f['wavpack'][()], f['flac'][()]) and np.array_equal(f['lpc'][()], f['flac'][()]); "
        "assert 'numcodecs_ephys' not in sys.modules"
    )
    env = {k: v for k, v in os.environ.items() if k != "HDF5_PLUGIN_PATH"}
    subprocess.run([sys.executable, "-c", plain, path], check=True, env=env)
    # the system's h5dump (libhdf5 1.10 on Debian 12), started from this Python
    for name, _ in FILTERS if sys.argv[1:] != ["--no-h5dump"] else ():
        run = subprocess.run(["h5dump", "-y", "-d", name, path], capture_output=True, text=True)
        assert run.returncode == 0, run.stdout + run.stderr
        values = re.search(r"DATA \{(.*?)\}", run.stdout, re.S).group(1)
        printed = np.array([int(v) for v in re.findall(r"-?\d+", values)])
        assert np.array_equal(printed, x.ravel()), f"h5dump printed other values for {name}"
        print(f"h5dump -d {name}: {printed.size} values, equal to the written samples")

command = os.path.join(os.path.dirname(sys.executable), "numcodecs-ephys")
version = subprocess.run([command, "--version"], check=True, capture_output=True, text=True).stdout
assert version == f"numcodecs-ephys {ne.__version__}\n", version

if hidden:
    # every binary of the package resolves libwavpack/libFLAC inside the installation ...
    root = os.path.dirname(package)
    binaries = [os.path.join(package, n) for n in os.listdir(package) if n.endswith(".so")]
    binaries += [os.path.join(eh5.PLUGIN_PATH, n) for n in sorted(os.listdir(eh5.PLUGIN_PATH))]
    for binary in binaries:
        ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
        assert "not found" not in ldd, ldd
        for line in ldd.splitlines():
            if line.strip().startswith(HIDDEN) or re.match(r"\s*lib(wavpack|FLAC|ogg)-", line):
                assert os.path.realpath(line.split("=>")[1].split("(")[0].strip()).startswith(root), line
        found = re.findall(r"(lib(?:wavpack|FLAC|ogg)\S*) =>", ldd)
        print(f"ldd {os.path.relpath(binary, root)}: {', '.join(found) or 'needs none of them'}")
        # ... through a run path relative to the binary only (no folder of the build machine)
        dynamic = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True, check=True).stdout
        for paths in re.findall(r"\((?:RPATH|RUNPATH)\)\s+Library r(?:un)?path: \[(.*)\]", dynamic):
            assert all(p.startswith("$ORIGIN") for p in paths.split(":")), (binary, paths)
    # ... and this process mapped them from there
    with open("/proc/self/maps") as maps:
        mapped = {line.split()[-1] for line in maps if re.search(r"lib(wavpack|FLAC)", line)}
    assert mapped and all(m.startswith(root) for m in mapped), mapped
    print("mapped:", ", ".join(sorted(os.path.relpath(m, root) for m in mapped)))
print(
    f"numcodecs-ephys {ne.__version__} from {package}: smoke test passed "
    f"({sys.version.split()[0]}{', system libwavpack/libFLAC/libogg hidden' if hidden else ''})"
)
