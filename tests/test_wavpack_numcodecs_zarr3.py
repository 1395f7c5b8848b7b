"""zarr 3 arrays written by wavpack-numcodecs 0.3.0 (codec name "wavpack", its parameters at the
top level of the codec entry; committed fixtures that 0.3.0 itself wrote, with
tests/fixtures/make_wavpack_numcodecs_zarr3.py) open and read bit-exact with numcodecs-ephys
alone; and zarr takes another package's class for that name when one declares it."""

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from conftest import fresh_python, require
from writers import read_back

pytestmark = pytest.mark.zarr3

HERE = Path(__file__).resolve().parent / "fixtures" / "wavpack_numcodecs_zarr3"
# store -> its input (<input>.npy); a hybrid store also has <store>.decoded.npy (what 0.3.0 read back)
STORES = {
    "int16_level1": "int16_2d",
    "int16_level3_channel_chunks": "int16_2d",
    "int16_1d_level2": "int16_1d",
    "int32_level2": "int32_2d",
    "int16_hybrid_bps3": "int16_2d",
    "int16_hybrid_bps5_fixed_shaping": "int16_2d",
}

READ = """
import sys, warnings, numpy as np, zarr
warnings.simplefilter("error")  # zarr's warning of two classes for one name would fail here
out = {}
for path in sys.argv[2:]:
    z = zarr.open_array(path, mode="r")
    name = path.rsplit("/", 1)[-1].split(".")[0]
    out[name] = z[:]
    out["class_" + name] = f"{type(z.serializer).__module__}.{type(z.serializer).__name__}"
assert sys.modules["wavpack_numcodecs"] is None and "numcodecs_ephys.zarr3" in sys.modules
np.savez(sys.argv[1], **out)
"""


@pytest.fixture(scope="module")
def zarr3():
    zarr = require("zarr")
    if zarr.__version__.startswith("2."):
        pytest.skip("zarr 3 only (marked zarr3)")
    from numcodecs_ephys import zarr3

    return zarr3


def test_fixtures_are_wavpack_numcodecs_03():
    assert (HERE / "WRITER").read_text().startswith("wavpack-numcodecs 0.3.0,")
    for store in STORES:
        (codec,) = json.loads((HERE / f"{store}.zarr" / "zarr.json").read_text())["codecs"]
        assert codec["name"] == "wavpack" and "configuration" not in codec and "level" in codec


def test_arrays_open_without_wavpack_numcodecs(zarr3, tmp_path):
    got = read_back(tmp_path, READ, *(HERE / f"{s}.zarr" for s in STORES))
    for store, name in STORES.items():
        assert str(got[f"class_{store}"]) == "numcodecs_ephys.zarr3.WavPackNumcodecsFormat"
        x = np.load(HERE / f"{name}.npy")
        y = got[store]
        assert y.dtype == x.dtype and y.shape == x.shape, store
        if "hybrid" in store:  # lossy: bit-exact with what 0.3.0 itself decodes
            np.testing.assert_array_equal(y, np.load(HERE / f"{store}.decoded.npy"), err_msg=store)
            assert 0 < np.abs(y.astype(int) - x).max() < 64, store
        else:
            np.testing.assert_array_equal(y, x, err_msg=store)


def test_dict_layouts(zarr3):
    entry = json.loads((HERE / "int16_hybrid_bps5_fixed_shaping.zarr" / "zarr.json").read_text())["codecs"][0]
    codec = zarr3.WavPackNumcodecsFormat.from_dict(entry)
    assert (codec.level, codec.bps, codec.dynamic_noise_shaping, codec.shaping_weight) == (2, 5.0, False, -0.5)
    # written back in 0.3.0's layout, without the thread counts (the machine that runs it decides)
    assert codec.to_dict() == {
        "name": "wavpack",
        "level": 2,
        "bps": 5.0,
        "dynamic_noise_shaping": False,
        "shaping_weight": -0.5,
    }
    assert zarr3.WavPackNumcodecsFormat().to_dict()["bps"] is None  # lossless, as 0.3.0 writes it
    nested = {"name": "wavpack", "configuration": {"level": 3}}
    assert zarr3.WavPackNumcodecsFormat.from_dict(nested).level == 3
    with pytest.raises(ValueError, match="unknown parameters \\['levle'\\]"):
        zarr3.WavPackNumcodecsFormat.from_dict({"name": "wavpack", "levle": 3})
    with pytest.raises(ValueError, match="named 'wavpack'"):
        zarr3.WavPackNumcodecsFormat.from_dict({"name": "numcodecs_ephys.wavpack", "level": 3})
    with pytest.raises(ValueError):
        zarr3.WavPackNumcodecsFormat.from_dict({"name": "wavpack", "level": 9})


def test_written_arrays_read_back(zarr3, tmp_path):
    """Writing through the class gives 0.3.0's metadata and the same chunks, read back in a
    fresh process by name."""
    import zarr

    x = np.load(HERE / "int16_2d.npy")
    z = zarr.create_array(
        str(tmp_path / "w.zarr"),
        shape=x.shape,
        dtype=x.dtype,
        chunks=(2000, 8),
        serializer=zarr3.WavPackNumcodecsFormat(level=1),
        compressors=None,
    )
    z[:] = x
    (codec,) = json.loads((tmp_path / "w.zarr" / "zarr.json").read_text())["codecs"]
    assert codec == {"name": "wavpack", "level": 1, "bps": None, "dynamic_noise_shaping": True, "shaping_weight": 0.0}
    for key in ("c/0/0", "c/1/0"):  # byte-identical chunks to 0.3.0's at the same level
        assert (tmp_path / "w.zarr" / key).read_bytes() == (HERE / "int16_level1.zarr" / key).read_bytes()
    got = read_back(tmp_path, READ, tmp_path / "w.zarr")
    np.testing.assert_array_equal(got["w"], x)


def test_another_package_owns_the_name(zarr3, tmp_path):
    """When another installed package declares the zarr codec name "wavpack" (as
    wavpack-numcodecs >= 0.3 does), zarr finds its class alone: ours does not register."""
    site = tmp_path / "site"
    (site / "other_wavpack-1.0.dist-info").mkdir(parents=True)
    (site / "other_wavpack-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: other-wavpack\n")
    (site / "other_wavpack-1.0.dist-info" / "entry_points.txt").write_text(
        "[zarr.codecs]\nwavpack = other_wavpack:WavPack\n"
    )
    (site / "other_wavpack.py").write_text(
        "from numcodecs_ephys.zarr3 import WavPackNumcodecsFormat\nclass WavPack(WavPackNumcodecsFormat):\n    pass\n"
    )
    code = textwrap.dedent(f"""
        import sys, warnings
        sys.path.insert(0, {str(site)!r})
        warnings.simplefilter("error")
        import zarr
        from zarr.registry import get_codec_class
        assert get_codec_class("wavpack").__module__ == "other_wavpack"
        z = zarr.open_array({str(HERE / "int16_level1.zarr")!r}, mode="r")
        assert type(z.serializer).__module__ == "other_wavpack"
        print(int(abs(z[:].astype(int)).sum()))
    """)
    out = fresh_python(code)
    assert int(out) == int(np.abs(np.load(HERE / "int16_2d.npy").astype(int)).sum())
