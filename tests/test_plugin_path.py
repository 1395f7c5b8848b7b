"""numcodecs_ephys_hdf5.pth against the system's libhdf5: Debian 12's h5dump (libhdf5 1.10.8),
which stops its plugin search at the first missing directory of HDF5_PLUGIN_PATH, started
from a Python where the start-up hook ran; and plain h5py meeting a damaged chunk.

The hook under test is the package's own file (the repository's, or the installed one for
an installed wheel), run in a fresh interpreter exactly as site.py runs it at start-up, so
that the test checks this checkout whatever copy an earlier install left in site-packages."""

import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from conftest import run_python, simulated, unavailable

try:
    import h5py
except ImportError:  # pragma: no cover
    h5py = None

PTH = "numcodecs_ephys_hdf5.pth"
MISSING = ("/usr/local/lib/plugin", "/usr/local/hdf5/lib/plugin")  # h5py's libhdf5 defaults, absent here


@pytest.fixture(scope="module")
def eh5():
    if h5py is None:
        unavailable("h5py is not installed")
    import numcodecs_ephys.hdf5 as module

    return module


@pytest.fixture(scope="module")
def h5dump():
    path = shutil.which("h5dump")
    if path is None:
        unavailable("h5dump (apt-get install hdf5-tools) is not installed")
    return path


@pytest.fixture
def hook(eh5, tmp_path):
    """A folder holding only the package's start-up hook (for site.addsitedir), and the root
    that the hook's find_spec must find the package under."""
    root = os.path.dirname(os.path.dirname(eh5.PLUGIN_PATH))  # <root>/numcodecs_ephys/plugins
    folder = tmp_path / "site"
    folder.mkdir()
    shutil.copyfile(os.path.join(root, PTH), folder / PTH)
    return folder, root


def _with_hook(hook, code, *args, user_path=None):
    """Run code in a fresh interpreter after the hook ran as at start-up (a copy installed in
    site-packages is switched off, so only the hook under test acts)."""
    folder, root = hook
    env = {k: v for k, v in os.environ.items() if k != "HDF5_PLUGIN_PATH"}
    env.update(NUMCODECS_EPHYS_NO_PLUGIN_PATH="1", PYTHONPATH=os.pathsep.join([root, env.get("PYTHONPATH", "")]))
    if user_path is not None:
        env["HDF5_PLUGIN_PATH"] = user_path
    prelude = f"import os, site; del os.environ['NUMCODECS_EPHYS_NO_PLUGIN_PATH']; site.addsitedir({str(folder)!r})\n"
    return run_python(prelude + code, *args, env=env)


@pytest.fixture(scope="module")
def three_filters(eh5, tmp_path_factory):
    """A file with one dataset per filter of ours, and the samples they hold."""
    x = simulated(1500, 6)
    path = tmp_path_factory.mktemp("h5") / "three.h5"
    with h5py.File(path, "w") as f:
        for name, flt in (("wavpack", eh5.WavPackH5()), ("flac", eh5.FLACH5()), ("lpc", eh5.LPCH5())):
            f.create_dataset(name, data=x, chunks=(500, 6), **flt)
    return path, x


H5DUMP = """
import subprocess, sys
print("HDF5_PLUGIN_PATH=" + os.environ.get("HDF5_PLUGIN_PATH", "<unset>"))
sys.stdout.flush()
sys.exit(subprocess.run([sys.argv[1], "-y", "-d", sys.argv[2], sys.argv[3]]).returncode)
"""


def _printed_values(stdout):
    """The values of h5dump's DATA block (printed with -y: no indices), as a flat array."""
    match = re.search(r"DATA \{(.*?)\}", stdout, re.S)
    assert match, stdout
    return np.array([int(v) for v in re.findall(r"-?\d+", match.group(1))])


@pytest.mark.parametrize("user_path", [None, "user"], ids=["unset", "user-path"])
@pytest.mark.parametrize("dataset", ["wavpack", "flac", "lpc"])
def test_h5dump_started_from_python(hook, h5dump, three_filters, tmp_path, dataset, user_path):
    """Debian's h5dump, started from Python with the hook: the printed values are the samples."""
    path, x = three_filters
    if user_path is not None:  # a folder of the user's
        user_path = str(tmp_path / user_path)
        os.makedirs(user_path)
    run = _with_hook(hook, H5DUMP, h5dump, f"/{dataset}", path, user_path=user_path)
    print(run.stdout.splitlines()[0])
    assert run.returncode == 0, run.stdout + run.stderr
    assert "error" not in run.stderr.lower(), run.stderr
    written = run.stdout.splitlines()[0].split("=", 1)[1].split(os.pathsep)
    assert not set(written) & set(MISSING) and all(os.path.isdir(p) for p in written)
    assert written[0] == (user_path or written[0]) and written[-1] == hook[1] + "/numcodecs_ephys/plugins"
    values = _printed_values(run.stdout)
    assert values.size == x.size and np.array_equal(values.reshape(x.shape), x)


def test_h5dump_user_path_with_missing_folder(hook, h5dump, three_filters, tmp_path):
    """A user's path naming a folder that does not exist still finds our filter."""
    path, x = three_filters
    user_path = os.pathsep.join([str(tmp_path / "gone"), str(tmp_path)])
    run = _with_hook(hook, H5DUMP, h5dump, "/lpc", path, user_path=user_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert np.array_equal(_printed_values(run.stdout).reshape(x.shape), x)


def test_h5dump_needs_the_plugin(h5dump, three_filters):
    """Without the plugin folder the same h5dump fails: the test above really used it."""
    path, _ = three_filters
    env = {k: v for k, v in os.environ.items() if k != "HDF5_PLUGIN_PATH"}
    run = subprocess.run([h5dump, "-y", "-d", "/lpc", str(path)], capture_output=True, text=True, env=env)
    assert run.returncode != 0 and "unable to print data" in run.stderr, run.stdout + run.stderr


@pytest.mark.parametrize("dataset", ["wavpack", "flac", "lpc"])
def test_plain_h5py_damaged_chunk_raises_the_filters_error(hook, three_filters, tmp_path, dataset):
    """Plain h5py (no import of ours) reading a damaged chunk: the error is the filter's, not a
    plugin folder that cannot be opened."""
    path, _ = three_filters
    with h5py.File(path) as f:
        info = f[dataset].id.get_chunk_info(0)
    data = bytearray(path.read_bytes())
    data[info.byte_offset : info.byte_offset + 4] = b"\0\0\0\0"  # the container's magic
    bad = tmp_path / "bad.h5"
    bad.write_bytes(bytes(data))
    code = """
import sys, h5py
with h5py.File(sys.argv[1]) as f:
    try:
        f[sys.argv[2]][()]
    except OSError as exc:
        print(exc)
    else:
        raise SystemExit("the damaged chunk decoded")
    assert f[sys.argv[2]][500:].shape[0] == 1000  # the intact chunks read
assert "numcodecs_ephys" not in sys.modules
"""
    run = _with_hook(hook, code, bad, f"/{dataset}")
    assert run.returncode == 0, run.stdout + run.stderr
    message = run.stdout.strip()
    print(message)
    assert "filter returned failure" in message and "can't open directory" not in message, message
