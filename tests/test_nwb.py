"""NWB files recompressed (numcodecs_ephys.recordings.nwb and `numcodecs-ephys compress x.nwb`):
files made here with pynwb (int16 AP on two probes, raw and gzip, chunked and contiguous;
float32 LFP; a series of another type), rewritten with our HDF5 filters or as NWB-Zarr,
opened again with pynwb, and every other object of the file compared with the source's."""

from datetime import datetime, timezone

import h5py
import numpy as np
import pytest

from numcodecs_ephys import hdf5
from numcodecs_ephys.recordings import cli, nwb

from conftest import require, simulated

pytestmark = pytest.mark.zarr2  # pynwb, hdmf and hdmf-zarr: the zarr 2 stack

AP = ["/acquisition/ap_probe_a/data", "/acquisition/ap_probe_b/data"]
LFP = "/processing/ecephys/LFP/lfp_probe_a/data"
OTHER = "/acquisition/running_speed/data"


def make_nwb(path):
    """An NWB file as acquisition systems write them; returns {data path: the samples}."""
    pynwb = require("pynwb")
    from hdmf.backends.hdf5 import H5DataIO
    from pynwb.ecephys import LFP as LFPContainer
    from pynwb.ecephys import ElectricalSeries

    nwbfile = pynwb.NWBFile(
        session_description="two probes", identifier="s1", session_start_time=datetime(2024, 1, 1, tzinfo=timezone.utc)
    )
    regions = []
    for p, name in enumerate(("probe_a", "probe_b")):
        device = nwbfile.create_device(name=name)
        group = nwbfile.create_electrode_group(name=f"shank_{name}", description="", location="CA1", device=device)
        for _ in range(6):
            nwbfile.add_electrode(group=group, location="CA1")
        regions.append(nwbfile.create_electrode_table_region(list(range(6 * p, 6 * p + 6)), name))
    ap_a = simulated(3000, 6, seed=1)  # 0.1 s at 30 kHz
    ap_b = simulated(3000, 6, seed=2)
    lfp = simulated(500, 6, seed=3, dtype="float64", std=1e-4).astype("float32")
    speed = np.linspace(0, 1, 200)
    series = [
        # gzip, chunked (as NeuroConv writes), and raw contiguous (as older converters did)
        ElectricalSeries(
            name="ap_probe_a",
            data=H5DataIO(ap_a, compression="gzip", chunks=(1000, 6)),
            electrodes=regions[0],
            rate=30000.0,
            conversion=2.34e-6,
        ),
        ElectricalSeries(name="ap_probe_b", data=ap_b, electrodes=regions[1], rate=30000.0),
    ]
    for s in series:
        nwbfile.add_acquisition(s)
    module = nwbfile.create_processing_module(name="ecephys", description="LFP")
    module.add(
        LFPContainer(
            ElectricalSeries(
                name="lfp_probe_a",
                data=H5DataIO(lfp, compression="gzip", compression_opts=4),
                electrodes=regions[0],
                rate=2500.0,
            )
        )
    )
    nwbfile.add_acquisition(pynwb.TimeSeries(name="running_speed", data=speed, unit="m/s", rate=100.0))
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    # what a lab adds outside the schema: it must come over too
    with h5py.File(path, "a") as f:
        f["general"].attrs["lab_note"] = "kept as is"
        f["acquisition/ap_probe_a"].attrs["custom_gain"] = np.arange(3.0)
        f["acquisition"].create_dataset("extra_table", data=np.arange(10), chunks=(5,), compression="gzip")
        f["acquisition"]["elsewhere"] = h5py.ExternalLink("other.h5", "/x")
    return {AP[0]: ap_a, AP[1]: ap_b, LFP: lfp, OTHER: speed}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    path = tmp_path_factory.mktemp("nwb") / "session.nwb"
    return path, make_nwb(path)


def objects(path, rewritten=()):
    """Every link, group, dataset and attribute of an HDF5 file, comparable across files
    (object references as the paths they point at); the rewritten datasets by value only."""
    out = {}

    def value(f, v):
        if isinstance(v, h5py.Reference):
            return ("ref", f[v].name if v else None)
        if isinstance(v, np.ndarray):
            if v.dtype.kind == "O":
                return tuple(value(f, x) for x in v.ravel())
            return (v.dtype.str, v.shape, v.tobytes())
        return v

    with h5py.File(path, "r") as f:

        def visit(group, prefix):
            for name in group:
                path = f"{prefix}/{name}"
                link = group.get(name, getlink=True)
                if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
                    out[path] = (type(link).__name__, link.path, getattr(link, "filename", None))
                    continue
                obj = group[name]
                attrs = {k: value(f, obj.attrs[k]) for k in obj.attrs}
                if isinstance(obj, h5py.Group):
                    out[path] = ("group", attrs)
                    visit(obj, path)
                else:
                    layout = () if path in rewritten else (obj.chunks, obj.compression, obj.compression_opts)
                    out[path] = ("dataset", attrs, obj.dtype.str, obj.shape, value(f, obj[()]), layout)

        out["/"] = {k: value(f, f.attrs[k]) for k in f.attrs}
        visit(f, "")
    return out


def test_recompressed_hdf5(source, tmp_path):
    pynwb = require("pynwb")
    src, data = source
    out, reports = nwb.compress_nwb(src, tmp_path / "session.ephys.nwb", codec="lpc", chunk_duration=0.05)
    assert [r.path for r in reports] == sorted(AP + [LFP])  # every ElectricalSeries, nothing else
    by_path = {r.path: r for r in reports}
    assert by_path[AP[0]].codec == by_path[AP[1]].codec == by_path[LFP].codec == "lpc"  # EphysLPC takes floats
    for r in reports:
        assert r.bytes_after > 0 and r.bytes_before > 0
    assert by_path[AP[1]].bytes_before == data[AP[1]].nbytes  # contiguous: the raw size
    with h5py.File(out, "r") as f:
        assert str(hdf5.LPC_FILTER_ID) in f[AP[0]]._filters and f[AP[0]].chunks == (1500, 6)
        assert str(hdf5.LPC_FILTER_ID) in f[LFP]._filters and f[LFP].chunks == (125, 6)
    # every other group, dataset, attribute and link as in the source; the data equal
    assert objects(out, rewritten=set(AP + [LFP])) == objects(src, rewritten=set(AP + [LFP]))
    with pynwb.NWBHDF5IO(str(out), "r") as io:
        f = io.read()
        for name in ("ap_probe_a", "ap_probe_b"):
            assert np.array_equal(f.acquisition[name].data[:], data[f"/acquisition/{name}/data"])
        assert f.acquisition["ap_probe_a"].conversion == 2.34e-6
        assert f.acquisition["ap_probe_b"].electrodes.table["group_name"][:][6] == "shank_probe_b"
        lfp = f.processing["ecephys"]["LFP"]["lfp_probe_a"].data[:]
        assert lfp.dtype == np.float32 and np.array_equal(lfp.view("u4"), data[LFP].view("u4"))
    assert nwb.verify_nwb(out, src) == {AP[0]: 3000, AP[1]: 3000, LFP: 500}


def test_other_series_by_name_and_codecs(source, tmp_path):
    src, data = source
    out, reports = nwb.compress_nwb(src, tmp_path / "speed.nwb", codec="wavpack", series=["running_speed"])
    # float64 is taken by none of the codecs: the series is copied as it is, and said so
    assert [(r.path, r.codec.split(" ")[0]) for r in reports] == [(OTHER, "none")]
    with h5py.File(out, "r") as f:
        assert np.array_equal(f[OTHER][:], data[OTHER]) and f[AP[1]].compression is None
    with pytest.raises(ValueError, match="no numeric TimeSeries named nothing"):
        nwb.compress_nwb(src, tmp_path / "x.nwb", series=["nothing"])
    with pytest.raises(ValueError, match="codec flac has no bps option"):
        nwb.compress_nwb(src, tmp_path / "x.nwb", codec="flac", bps=3)
    assert not (tmp_path / "x.nwb").exists() and not list(tmp_path.glob(".partial*"))


def test_nwb_zarr(source, tmp_path):
    require("hdmf_zarr")
    from hdmf_zarr.nwb import NWBZarrIO

    src, data = source
    out, reports = nwb.compress_nwb(src, tmp_path / "session.nwb.zarr", codec="flac", zarr=True)
    codecs = {r.path: r.codec for r in reports}
    assert codecs[AP[0]] == "flac" and codecs[LFP].startswith("wavpack (float32")  # floats: a codec that takes them
    with NWBZarrIO(str(out), mode="r") as io:
        f = io.read()
        series = f.acquisition["ap_probe_a"]
        assert series.data.compressor.codec_id == "ephys_flac"
        assert np.array_equal(series.data[:], data[AP[0]])
        lfp = f.processing["ecephys"]["LFP"]["lfp_probe_a"].data
        assert lfp.compressor.codec_id == "ephys_wavpack" and np.array_equal(lfp[:], data[LFP])
    assert nwb.verify_nwb(out, src)[AP[1]] == 3000


def test_command_and_verify(source, tmp_path, capsys):
    src, _ = source
    out = tmp_path / "session.ephys.nwb"
    assert cli.main(["compress", str(src), "-o", str(out), "--codec", "wavpack", "--level", "3"]) == 0
    printed = capsys.readouterr().out
    for path in AP + [LFP]:
        assert path in printed  # bytes before and after, per series
    assert "all series" in printed
    assert cli.main(["verify", str(out), str(src), "-q"]) == 0
    assert cli.main(["compress", str(src), "-o", str(out), "-q"]) == 1  # exists
    # one damaged chunk: verify names the dataset and its time range
    with h5py.File(out, "r") as f:
        info = f[AP[1]].id.get_chunk_info(0)  # chunks of 1 s: the series' only one
    with open(out, "r+b") as fh:
        fh.seek(info.byte_offset + info.size // 2)
        byte = fh.read(1)
        fh.seek(-1, 1)
        fh.write(bytes([byte[0] ^ 0x40]))
    capsys.readouterr()
    assert cli.main(["verify", str(out), str(src), "-q"]) == 1
    err = capsys.readouterr().err
    assert AP[1] in err and "samples 0-3000" in err
