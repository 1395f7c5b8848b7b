"""HDF5 filters (numcodecs_ephys.hdf5): h5py, h5dump through HDF5_PLUGIN_PATH, pynwb, NeuroConv."""

import os
import shutil
import subprocess
import textwrap

import numpy as np
import pytest

from conftest import REAL, fresh_python, load_real, run_python, simulated, unavailable

try:
    import h5py
except ImportError:  # pragma: no cover
    h5py = None


@pytest.fixture(scope="module")
def eh5():
    if h5py is None:
        unavailable("h5py is not installed")
    import numcodecs_ephys.hdf5 as module

    return module


# name -> (filter class, options, largest error of a decoded sample): the filter configurations
# the tests below run, a lossless one of every class of numcodecs_ephys.hdf5 among them
FILTERS = {
    "wavpack": ("WavPackH5", {}, 0),
    "wavpack_fast": ("WavPackH5", dict(level=1, block_channels=4), 0),
    "hybrid": ("WavPackH5", dict(bps=3), 63),
    "flac": ("FLACH5", dict(blocksize=512), 0),
    "lpc": ("LPCH5", {}, 0),
    "lpc_near": ("LPCH5", dict(level=1, max_error=3, block_channels=7), 3),
}
LOSSLESS = sorted(name for name, (_, _, bound) in FILTERS.items() if bound == 0)
ONE_PER_CLASS = ["flac", "lpc", "wavpack"]


def make_filter(eh5, name):
    cls, options, _ = FILTERS[name]
    return getattr(eh5, cls)(**options)


def test_the_table_has_every_filter_class(eh5):
    assert {FILTERS[name][0] for name in ONE_PER_CLASS} == {cls.__name__ for cls in eh5.FILTERS.values()}


def _write(path, data, flt, chunks, name="x"):
    with h5py.File(path, "w") as f:
        f.create_dataset(name, data=data, chunks=chunks, **flt)


def _read(path, name="x"):
    with h5py.File(path, "r") as f:
        return f[name][()]


def _padded_chunks(data, chunks):
    """Every HDF5 chunk of data, edge chunks padded with zeros to the full chunk shape, in chunk order."""
    grid = [range(0, n, c) for n, c in zip(data.shape, chunks)]
    for start in np.array(np.meshgrid(*grid, indexing="ij")).reshape(len(chunks), -1).T:
        sl = tuple(slice(s, s + c) for s, c in zip(start, chunks))
        block = np.zeros(chunks, data.dtype)
        part = data[sl]
        block[tuple(slice(0, n) for n in part.shape)] = part
        yield tuple(int(s) for s in start), block


def test_no_h5py_import_in_package():
    fresh_python("import sys, numcodecs_ephys; assert 'h5py' not in sys.modules")


def test_plugin_files(eh5):
    names = sorted(os.listdir(eh5.PLUGIN_PATH))
    assert names == ["libh5ephys_flac.so", "libh5ephys_lpc.so", "libh5ephys_wavpack.so"]
    assert h5py.h5z.filter_avail(eh5.WAVPACK_FILTER_ID) and h5py.h5z.filter_avail(eh5.FLAC_FILTER_ID)
    assert h5py.h5z.filter_avail(eh5.LPC_FILTER_ID)


def test_plugins_do_not_link_libhdf5(eh5):
    if shutil.which("ldd") is None:
        unavailable("ldd not available")
    for name in os.listdir(eh5.PLUGIN_PATH):
        out = subprocess.run(["ldd", os.path.join(eh5.PLUGIN_PATH, name)], capture_output=True, text=True).stdout
        assert "hdf5" not in out, out


CHUNKS = [(1000, 8), (777, 5), (3000, 40), (2048, 32), (256, 1)]  # (777, 5), (2048, 32): partial edge chunks


@pytest.mark.parametrize("chunks", CHUNKS)
@pytest.mark.parametrize("make", LOSSLESS)
def test_lossless_roundtrip(eh5, tmp_path, make, chunks):
    flt = make_filter(eh5, make)
    x = simulated(3000, 40)
    _write(tmp_path / "a.h5", x, flt, chunks)
    y = _read(tmp_path / "a.h5")
    assert y.dtype == x.dtype and np.array_equal(y, x)
    with h5py.File(tmp_path / "a.h5") as f:
        opts = f["x"]._filters[str(flt.filter_id)]
        assert f["x"].id.get_storage_size() < x.nbytes
    n = len(flt.filter_options)
    assert opts[:n] == flt.filter_options
    assert opts[n:] == (1, 2, 2) + chunks  # layout version, int16, rank, chunk dims


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "float32"])
def test_dtypes_and_ranks(eh5, tmp_path, dtype):
    x = simulated(1200, 12, std=3.0 if dtype == "int8" else 20.0).astype(dtype)
    for flt in [eh5.WavPackH5()] + ([eh5.FLACH5(), eh5.LPCH5()] if dtype != "float32" else []):
        for data, chunks in ((x, (500, 5)), (x[:, 0], (300,)), (x.reshape(1200, 3, 4), (400, 2, 4))):
            _write(tmp_path / "d.h5", data, flt, chunks)
            y = _read(tmp_path / "d.h5")
            assert y.dtype == data.dtype and np.array_equal(y, data), (flt, data.shape)


def test_unsupported_types_refused(eh5, tmp_path):
    with h5py.File(tmp_path / "u.h5", "w") as f:
        for dtype, flt in (
            ("uint64", eh5.WavPackH5()),
            ("float64", eh5.WavPackH5()),
            ("float32", eh5.FLACH5()),
            (">i2", eh5.WavPackH5()),
            ("int64", eh5.LPCH5()),
            (">i2", eh5.LPCH5()),
        ):
            with pytest.raises((ValueError, OSError)):
                f.create_dataset(
                    f"{dtype.replace('>', 'be')}_{flt.filter_id}", shape=(100, 4), dtype=dtype, chunks=(50, 4), **flt
                )


@pytest.mark.parametrize("make", sorted(FILTERS))
def test_chunks_are_the_numcodecs_chunks(eh5, tmp_path, make):
    """Each HDF5 chunk holds exactly what the numcodecs codec writes for that (padded) chunk."""
    flt = make_filter(eh5, make)
    bound = FILTERS[make][2]
    codec = flt.codec()
    x = simulated(2500, 20)
    chunks = (1000, 12)
    _write(tmp_path / "c.h5", x, flt, chunks)
    with h5py.File(tmp_path / "c.h5") as f:
        d = f["x"]
        for start, block in _padded_chunks(x, chunks):
            mask, raw = d.id.read_direct_chunk(start)
            assert mask == 0
            assert raw == codec.encode(block)
            assert np.array_equal(codec.decode(raw), codec.decode(codec.encode(block)))
        y = d[()]
    if bound:
        expect = np.concatenate(
            [
                np.concatenate(
                    [codec.decode(codec.encode(b)) for s, b in _padded_chunks(x, chunks) if s[0] == t], axis=1
                )
                for t in range(0, 2500, 1000)
            ]
        )[:2500, :20]
        assert np.array_equal(y, expect)
        assert 0 < np.abs(y.astype(int) - x).max() <= bound
    else:
        assert np.array_equal(y, x)


@pytest.mark.parametrize("make", ONE_PER_CLASS)
def test_compression_ratio_matches_numcodecs(eh5, tmp_path, make):
    x = load_real("np_ultra")  # (samples, 384) int16
    flt = getattr(eh5, FILTERS[make][0])()  # the defaults
    codec = flt.codec()
    chunks = (2048, 96)
    _write(tmp_path / "r.h5", x, flt, chunks)
    with h5py.File(tmp_path / "r.h5") as f:
        stored = f["x"].id.get_storage_size()
    assert np.array_equal(_read(tmp_path / "r.h5"), x)
    expected = sum(len(codec.encode(b)) for _, b in _padded_chunks(x, chunks))
    assert abs(stored - expected) <= 0.01 * expected
    # and against the codec on unpadded chunks (what the padding costs)
    unpadded = sum(
        len(codec.encode(np.ascontiguousarray(x[t : t + chunks[0], c : c + chunks[1]])))
        for t in range(0, x.shape[0], chunks[0])
        for c in range(0, x.shape[1], chunks[1])
    )
    print(
        f"{make}: CR hdf5 {x.nbytes / stored:.3f}, numcodecs padded {x.nbytes / expected:.3f}, "
        f"unpadded {x.nbytes / unpadded:.3f}"
    )


def _h5dump_binary(path, dataset, out):
    h5dump = shutil.which("h5dump")
    if h5dump is None:
        unavailable("h5dump (apt-get install hdf5-tools) is not installed")
    env = {k: v for k, v in os.environ.items() if k != "HDF5_PLUGIN_PATH"}
    import numcodecs_ephys.hdf5 as eh5

    no_plugin = subprocess.run(
        [h5dump, "-d", dataset, "-b", "LE", "-o", str(out), str(path)], env=env, capture_output=True, text=True
    )
    env["HDF5_PLUGIN_PATH"] = eh5.PLUGIN_PATH
    with_plugin = subprocess.run(
        [h5dump, "-d", dataset, "-b", "LE", "-o", str(out), str(path)], env=env, capture_output=True, text=True
    )
    return no_plugin, with_plugin


@pytest.mark.parametrize("make", sorted(FILTERS))
def test_h5dump_reads_through_plugin_path(eh5, tmp_path, make):
    flt = make_filter(eh5, make)
    x = simulated(3000, 10)
    _write(tmp_path / "h.h5", x, flt, (700, 4))
    expect = _read(tmp_path / "h.h5")
    no_plugin, with_plugin = _h5dump_binary(tmp_path / "h.h5", "/x", tmp_path / "out.bin")
    assert no_plugin.returncode != 0  # the data really needs the plugin
    assert with_plugin.returncode == 0, with_plugin.stderr
    y = np.fromfile(tmp_path / "out.bin", dtype="<i2").reshape(x.shape)
    assert np.array_equal(y, expect)
    assert np.abs(y.astype(int) - x).max() <= FILTERS[make][2]


def _wavpack_and_flac_file(eh5, tmp_path):
    """p.h5 holding x.npy's samples twice: dataset "w" through WavPackH5, "f" through FLACH5."""
    x = simulated(2000, 6)
    _write(tmp_path / "p.h5", x, eh5.WavPackH5(), (500, 6), name="w")
    with h5py.File(tmp_path / "p.h5", "a") as f:
        f.create_dataset("f", data=x, chunks=(500, 3), **eh5.FLACH5())
    np.save(tmp_path / "x.npy", x)


def test_plugin_path_in_fresh_python_process(eh5, tmp_path):
    """h5py's own libhdf5 loading the plugin from HDF5_PLUGIN_PATH, without importing numcodecs_ephys."""
    _wavpack_and_flac_file(eh5, tmp_path)
    code = textwrap.dedent(f"""
        import sys, h5py, numpy as np
        x = np.load({str(tmp_path / "x.npy")!r})
        with h5py.File({str(tmp_path / "p.h5")!r}) as f:
            assert np.array_equal(f["w"][()], x) and np.array_equal(f["f"][()], x)
            f.close()
        with h5py.File({str(tmp_path / "q.h5")!r}, "w") as f:   # writing works too
            f.create_dataset("w", data=x, chunks=(300, 6), compression={eh5.WAVPACK_FILTER_ID})
        with h5py.File({str(tmp_path / "q.h5")!r}) as f:
            assert np.array_equal(f["w"][()], x)
        assert "numcodecs_ephys" not in sys.modules
    """)
    fresh_python(code, env=dict(os.environ, HDF5_PLUGIN_PATH=eh5.PLUGIN_PATH))


@pytest.mark.parametrize("make", sorted(FILTERS))
def test_corrupted_chunks_raise(eh5, tmp_path, make):
    x = simulated(3000, 16)
    path = tmp_path / "c.h5"
    _write(path, x, make_filter(eh5, make), (1000, 8))
    x = _read(path)  # what the intact file holds (lossy filters: not the input)
    with h5py.File(path) as f:
        d = f["x"]
        infos = [d.id.get_chunk_info(i) for i in range(d.id.get_num_chunks())]
    raw = path.read_bytes()
    rng = np.random.default_rng(0)
    errors = 0
    trials = 40
    for trial in range(trials):
        info = infos[trial % len(infos)]
        data = bytearray(raw)
        if trial < len(infos):  # the magic bytes, then anywhere in the chunk
            pos = info.byte_offset + trial % 4
        else:
            pos = info.byte_offset + int(rng.integers(0, info.size))
        data[pos] ^= 1 << int(rng.integers(0, 8))
        bad = tmp_path / "bad.h5"
        bad.write_bytes(bytes(data))
        with h5py.File(bad) as f:
            try:
                y = f["x"][()]
            except OSError as exc:
                assert "filter" in str(exc)
                errors += 1
            else:  # a bit the decoder does not use: the data must still be right
                assert np.array_equal(y, x)
    assert errors >= 0.9 * trials


def test_filter_classes(eh5):
    w = eh5.WavPackH5(bps=3.25)
    assert dict(w) == {"compression": eh5.WAVPACK_FILTER_ID, "compression_opts": (2, 3250, 1, 0, 16, 0)}
    with pytest.warns(DeprecationWarning, match="thread count"):  # a property of the reader, not the file
        assert eh5.WavPackH5(bps=3.25, num_threads=2) == w
    assert eval(repr(w), {"WavPackH5": eh5.WavPackH5}) == w
    assert eh5.WavPackH5(shaping_weight=-0.5, dynamic_noise_shaping=False).filter_options[2:4] == (0, 2**32 - 500)
    f = eh5.FLACH5(level=8, exhaustive_stereo=True)
    assert dict(f) == {"compression": eh5.FLAC_FILTER_ID, "compression_opts": (8, 4096, 2, 16, 0, 1)}
    assert eval(repr(f), {"FLACH5": eh5.FLACH5}) == f
    for bad in (dict(level=0), dict(bps=1.0), dict(block_channels=0)):
        with pytest.raises(ValueError):
            eh5.WavPackH5(**bad)
    for bad in (dict(level=9), dict(channels_per_stream=9), dict(blocksize=8)):
        with pytest.raises(ValueError):
            eh5.FLACH5(**bad)
    lpc = eh5.LPCH5(max_error=2)
    assert dict(lpc) == {"compression": eh5.LPC_FILTER_ID, "compression_opts": (2, 2, 32, 0)}
    assert eval(repr(lpc), {"LPCH5": eh5.LPCH5}) == lpc
    for bad in (dict(level=9), dict(max_error=-1), dict(block_channels=0)):
        with pytest.raises(ValueError):
            eh5.LPCH5(**bad)


def test_cd_values_defaults_filled_in(eh5, tmp_path):
    """A writer giving fewer options (h5repack, other languages) gets the defaults."""
    x = simulated(1000, 4)
    with h5py.File(tmp_path / "o.h5", "w") as f:
        f.create_dataset("w", data=x, chunks=(500, 4), compression=eh5.WAVPACK_FILTER_ID, compression_opts=(3,))
        f.create_dataset("f", data=x, chunks=(500, 4), compression=eh5.FLAC_FILTER_ID)
        f.create_dataset("l", data=x, chunks=(500, 4), compression=eh5.LPC_FILTER_ID, compression_opts=(3,))
        assert f["w"]._filters[str(eh5.WAVPACK_FILTER_ID)] == (3, 0, 1, 0, 16, 0, 1, 2, 2, 500, 4)
        assert f["f"]._filters[str(eh5.FLAC_FILTER_ID)] == (5, 4096, 2, 16, 0, 0, 1, 2, 2, 500, 4)
        assert f["l"]._filters[str(eh5.LPC_FILTER_ID)] == (3, 0, 32, 0, 1, 2, 2, 500, 4)
        with pytest.raises((ValueError, OSError)):
            f.create_dataset("bad", data=x, chunks=(500, 4), compression=eh5.WAVPACK_FILTER_ID, compression_opts=(7,))
    for name in ("w", "f", "l"):
        assert np.array_equal(_read(tmp_path / "o.h5", name), x), name


# ---- pynwb and NeuroConv ----


def _fresh_process_read_nwb(nwb_path, series_name, expect_path, env=None):
    code = textwrap.dedent(f"""
        import numpy as np
        import numcodecs_ephys.hdf5
        from pynwb import NWBHDF5IO
        with NWBHDF5IO({str(nwb_path)!r}, "r") as io:
            nwb = io.read()
            es = nwb.acquisition[{series_name!r}]
            data = es.data[()]
            filters = es.data._filters
        expect = np.load({str(expect_path)!r})
        assert data.dtype == expect.dtype and np.array_equal(data, expect), "data differ"
        assert str(numcodecs_ephys.hdf5.WAVPACK_FILTER_ID) in filters, filters
    """)
    fresh_python(code, env=env)


def _pynwb():
    try:
        import pynwb
    except ImportError:
        unavailable("pynwb is not installed")
    return pynwb


def _nwbfile(pynwb):
    from datetime import datetime, timezone

    nwb = pynwb.NWBFile(
        session_description="numcodecs-ephys HDF5 test",
        identifier="hdf5-test",
        session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc),
    )
    device = nwb.create_device(name="probe")
    group = nwb.create_electrode_group(name="shank", description="", location="brain", device=device)
    return nwb, group


@pytest.mark.zarr2  # pynwb pins numcodecs<0.16: the zarr 2 environment
def test_pynwb_h5dataio(eh5, tmp_path):
    pynwb = _pynwb()
    from hdmf.backends.hdf5.h5_utils import H5DataIO

    x = simulated(3000, 12)
    nwb, group = _nwbfile(pynwb)
    for _ in range(x.shape[1]):
        nwb.add_electrode(group=group, location="brain")
    region = nwb.create_electrode_table_region(list(range(x.shape[1])), "all")
    data = H5DataIO(x, chunks=(1000, 12), allow_plugin_filters=True, **eh5.WavPackH5())
    nwb.add_acquisition(pynwb.ecephys.ElectricalSeries(name="es", data=data, electrodes=region, rate=30000.0))
    with pynwb.NWBHDF5IO(str(tmp_path / "a.nwb"), "w") as io:
        io.write(nwb)
    np.save(tmp_path / "x.npy", x)
    _fresh_process_read_nwb(tmp_path / "a.nwb", "es", tmp_path / "x.npy")


@pytest.mark.zarr2  # NeuroConv pins zarr<3: the zarr 2 environment
def test_neuroconv_spikeglx_wavpack(eh5, tmp_path):
    pynwb = _pynwb()
    try:
        from neuroconv.tools.nwb_helpers import configure_backend, get_default_backend_configuration
        from neuroconv.tools.spikeinterface import add_recording_to_nwbfile
        from spikeinterface.extractors import read_spikeglx
    except ImportError as exc:
        unavailable(f"neuroconv / spikeinterface not installed ({exc})")
    folder = REAL / "spikeglx" / "p5_g0"
    if not folder.exists():
        unavailable(f"SpikeGLX recording {folder} not found")
    recording = read_spikeglx(folder, stream_id="imec0.ap")
    nwb, _ = _nwbfile(pynwb)
    try:
        add_recording_to_nwbfile(recording, nwbfile=nwb, parent_container="acquisition")
    except TypeError:  # neuroconv < 0.10
        add_recording_to_nwbfile(recording, nwbfile=nwb, write_as="raw")
    config = get_default_backend_configuration(nwbfile=nwb, backend="hdf5")
    configured = 0
    for dataset_config in config.dataset_configurations.values():
        if dataset_config.dataset_name == "data" and "ElectricalSeries" in dataset_config.location_in_file:
            if hasattr(dataset_config, "compressors"):  # neuroconv >= 0.10
                dataset_config.compressors = [eh5.WavPackH5(level=3)]
                dataset_config.compressor_options = None
            else:
                dataset_config.compression_method = eh5.WavPackH5(level=3)
                dataset_config.compression_options = None
            configured += 1
    assert configured == 1
    configure_backend(nwbfile=nwb, backend_configuration=config)
    path = tmp_path / "spikeglx.nwb"
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    series = next(iter(nwb.acquisition))
    np.save(tmp_path / "traces.npy", recording.get_traces())
    with h5py.File(path) as f:
        d = f[f"acquisition/{series}/data"]
        assert str(eh5.WAVPACK_FILTER_ID) in d._filters
        assert d.id.get_storage_size() < 0.6 * d.size * d.dtype.itemsize
    _fresh_process_read_nwb(path, series, tmp_path / "traces.npy")
    # and a reader that only has the plugin path (no numcodecs_ephys import)
    code = textwrap.dedent(f"""
        import sys, numpy as np
        from pynwb import NWBHDF5IO
        with NWBHDF5IO({str(path)!r}, "r") as io:
            data = io.read().acquisition[{series!r}].data[()]
        assert np.array_equal(data, np.load({str(tmp_path / "traces.npy")!r}))
        assert "numcodecs_ephys" not in sys.modules
    """)
    fresh_python(code, env=dict(os.environ, HDF5_PLUGIN_PATH=eh5.PLUGIN_PATH))


def test_h5repack_writes_with_system_hdf5(eh5, tmp_path):
    """A program linked to another libhdf5 writes with the plugins (set_local included): h5repack."""
    h5repack = shutil.which("h5repack")
    if h5repack is None:
        unavailable("h5repack (apt-get install hdf5-tools) is not installed")
    x = simulated(3000, 10)
    with h5py.File(tmp_path / "plain.h5", "w") as f:
        f.create_dataset("x", data=x, chunks=(1000, 4))
    env = dict(os.environ, HDF5_PLUGIN_PATH=eh5.PLUGIN_PATH)
    for spec, fid, opts in (
        (f"UD={eh5.WAVPACK_FILTER_ID},0,1,3", eh5.WAVPACK_FILTER_ID, (3, 0, 1, 0, 16, 0)),
        (f"UD={eh5.FLAC_FILTER_ID},0,0", eh5.FLAC_FILTER_ID, (5, 4096, 2, 16, 0, 0)),
    ):
        out = tmp_path / f"{fid}.h5"
        run = subprocess.run(
            [h5repack, "-f", spec, str(tmp_path / "plain.h5"), str(out)], env=env, capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
        with h5py.File(out) as f:
            assert f["x"]._filters[str(fid)] == opts + (1, 2, 2, 1000, 4)
            assert np.array_equal(f["x"][()], x)


@pytest.mark.parametrize("dims", [(0xFFFFFFFF, 0xFFFFFFFF), (0x40000000, 4), (1000, 5), (0, 4)])
def test_hostile_cd_values_in_file(eh5, tmp_path, dims):
    """cd_values are read from the file: chunk dims that disagree with the chunks fail cleanly."""
    x = simulated(3000, 8)
    path = tmp_path / "h.h5"
    _write(path, x, eh5.WavPackH5(), (1000, 4))
    raw = path.read_bytes()
    pattern = np.array([1, 2, 2, 1000, 4], "<u4").tobytes()  # layout version, int16, rank, dims
    assert raw.count(pattern) == 1
    path.write_bytes(raw.replace(pattern, np.array([1, 2, 2, *dims], "<u4").tobytes()))
    with h5py.File(path) as f:
        with pytest.raises(OSError):
            f["x"][()]


# ---- reading without an import: numcodecs_ephys_hdf5.pth ----


def _startup_env(**changes):
    env = {k: v for k, v in os.environ.items() if k not in ("HDF5_PLUGIN_PATH", "NUMCODECS_EPHYS_NO_PLUGIN_PATH")}
    env.update(changes)
    return env


def test_pth_installed_and_current(eh5):
    """The start-up hook is in the running interpreter's site-packages (editable or wheel
    install), identical to the repository's file."""
    import sysconfig

    installed = os.path.join(sysconfig.get_paths()["purelib"], "numcodecs_ephys_hdf5.pth")
    source = os.path.join(os.path.dirname(os.path.dirname(eh5.PLUGIN_PATH)), "numcodecs_ephys_hdf5.pth")
    assert os.path.exists(installed), "numcodecs_ephys_hdf5.pth is not installed: reinstall the package"
    if os.path.exists(source):  # a checkout (editable install)
        with open(installed) as a, open(source) as b:
            assert a.read() == b.read(), "stale numcodecs_ephys_hdf5.pth: reinstall the package"


def test_plain_h5py_reads_without_import(eh5, tmp_path):
    """A fresh process with the package installed reads our files with h5py alone: the .pth
    put our plugin folder on HDF5_PLUGIN_PATH at start-up, importing neither h5py nor us."""
    _wavpack_and_flac_file(eh5, tmp_path)
    code = textwrap.dedent(f"""
        import os, sys
        assert "h5py" not in sys.modules and "numcodecs_ephys" not in sys.modules
        print(os.environ.get("HDF5_PLUGIN_PATH"))
        import h5py, numpy as np
        x = np.load({str(tmp_path / "x.npy")!r})
        with h5py.File({str(tmp_path / "p.h5")!r}) as f:
            assert np.array_equal(f["w"][()], x) and np.array_equal(f["f"][()], x)
        assert "numcodecs_ephys" not in sys.modules
    """)
    run = run_python(code, env=_startup_env())
    assert run.returncode == 0, run.stderr
    path = run.stdout.strip().split(os.pathsep)
    # HDF5's own folders first (nothing taken away), those that exist only (tests/test_plugin_path.py)
    assert path[-1] == eh5.PLUGIN_PATH and all(os.path.isdir(p) for p in path)
    # a user's path is kept, ours goes after it; and the hook can be turned off
    mine = str(tmp_path / "my_plugins")
    os.mkdir(mine)
    run = run_python(code, env=_startup_env(HDF5_PLUGIN_PATH=mine))
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == os.pathsep.join([mine, eh5.PLUGIN_PATH])
    run = run_python(code, env=_startup_env(NUMCODECS_EPHYS_NO_PLUGIN_PATH="1"))
    assert run.returncode != 0 and run.stdout.strip() == "None" and "OSError" in run.stderr, run.stderr
