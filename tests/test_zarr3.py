"""zarr-python 3: format-3 arrays with the native codecs of numcodecs_ephys.zarr3 and
format-2 arrays with the numcodecs classes, to a directory and a zip store, read back in
a fresh process that finds the codecs through the entry points alone."""

import asyncio
import json
import pickle

import numpy as np
import pytest

from conftest import fresh_python, load_real, require, simulated
from writers import expected_chunked, format3_array, read_back

pytestmark = pytest.mark.zarr3

CHUNKS = (1000, 96)


@pytest.fixture(scope="module")
def zarr():
    zarr = require("zarr")
    if int(zarr.__version__.split(".")[0]) < 3:
        pytest.fail(f"zarr {zarr.__version__} in the zarr 3 environment")
    return zarr


def recording(name):
    if name == "simulated":
        return simulated(2500, 100, seed=4)
    return load_real(name)[:2000]


def v3_chains(data_name, data):
    """name -> (serializer, filters, compressors, lossless chain as numcodecs (compressor, filters) or None)."""
    import numcodecs_ephys as ne
    from numcodecs_ephys import zarr3 as z3

    out = {
        "wavpack": (z3.WavPack(num_threads=1), [], None, None),
        "flac_delta": (z3.FLAC(), [z3.Delta2D(axis="time")], None, None),
        "wavpack_delta_space_zstd": (z3.WavPack(level=1), [z3.Delta2D(axis="time+space")], "auto", None),
        "bytes_delta_zstd": ("auto", [z3.Delta2D()], "auto", None),  # shape-preserving filter + zarr's serializer
        "flac_bittrunc": (z3.FLAC(), [z3.BitTruncation(bits=2)], None, (ne.FLAC(), [ne.BitTruncation(bits=2)])),
        "bytes_bittrunc": ("auto", [z3.BitTruncation(bits=1)], None, (None, [ne.BitTruncation(bits=1)])),
        "wavpack_hybrid": (z3.WavPack(bps=3), [], None, (ne.WavPack(bps=3), [])),
        "wavpack_legacy": (z3.WavPackLegacy(), [], None, None),
        "lpc": (z3.EphysLPC(), [], None, None),
        "lpc_delta": (z3.EphysLPC(num_threads=1), [z3.Delta2D()], None, None),
        "lpc_near": (z3.EphysLPC(max_error=2, level=3), [], None, (ne.EphysLPC(max_error=2, level=3), [])),
    }
    if data_name == "openephys_lfp":
        lsb = ne.LSB.from_data(data)
        out["wavpack_lsb"] = (z3.LSB.from_numcodecs(lsb), [], None, None)
        out["flac_lsb_zstd"] = (z3.LSB.from_numcodecs(lsb, serializer=z3.FLAC()), [], "auto", None)
    return out


def v2_chains():
    from numcodecs_ephys import FLAC, BitTruncation, Delta2D, WavPack

    return {
        "v2_wavpack_delta": (WavPack(num_threads=1), [Delta2D()], True),
        "v2_flac": (FLAC(), [], True),
        "v2_flac_bittrunc": (FLAC(), [BitTruncation(bits=1)], False),
    }


READ = """
import sys, numpy as np, zarr
arrays = {}
for prefix, path in zip(["", "v2/"], sys.argv[2:]):
    store = (zarr.storage.ZipStore(path, mode="r") if path.endswith(".zip")
             else zarr.storage.LocalStore(path, read_only=True))
    group = zarr.open_group(store, mode="r")
    assert group.metadata.zarr_format == (2 if prefix else 3)
    arrays.update({prefix + name: group[name][:] for name in group.array_keys()})
    store.close()
np.savez(sys.argv[1], **arrays)
"""


@pytest.mark.parametrize("store_kind", ["directory", "zip"])
@pytest.mark.parametrize("data_name", ["np_ultra", "np2", "openephys_lfp", "simulated"])
def test_zarr3_roundtrip_fresh_process(zarr, tmp_path, data_name, store_kind):
    data = recording(data_name)
    paths = [tmp_path / (f"store{v}.zip" if store_kind == "zip" else f"store{v}.zarr") for v in (3, 2)]
    store, store_format2 = (
        zarr.storage.ZipStore(str(p), mode="w") if store_kind == "zip" else zarr.storage.LocalStore(str(p))
        for p in paths
    )
    zarr.open_group(store, mode="w", zarr_format=3)
    expected = {}
    for name, (serializer, filters, compressors, lossy) in v3_chains(data_name, data).items():
        chunks = (CHUNKS[0], data.shape[1]) if "lsb" in name else CHUNKS
        format3_array(store, data, chunks, serializer, filters, compressors, name=name)
        expected[name] = data if lossy is None else expected_chunked(data, chunks, *lossy)
    # format-2 arrays in zarr 3: the numcodecs classes
    root_format2 = zarr.open_group(store_format2, mode="w", zarr_format=2)
    for name, (compressor, filters, lossless) in v2_chains().items():
        a = root_format2.create_array(
            name, shape=data.shape, chunks=CHUNKS, dtype=data.dtype, compressors=compressor, filters=filters or None
        )
        a[:] = data
        expected["v2/" + name] = data if lossless else expected_chunked(data, CHUNKS, compressor, filters)
    store.close()
    store_format2.close()

    got = read_back(tmp_path, READ, *paths)
    assert sorted(got) == sorted(expected)
    for name, want in expected.items():
        np.testing.assert_array_equal(got[name], want, err_msg=name)


def test_metadata_names_and_entry_points(zarr, tmp_path):
    from zarr.registry import get_codec_class

    from numcodecs_ephys import zarr3 as z3

    for cls, name in [
        (z3.WavPack, "wavpack"),
        (z3.FLAC, "flac"),
        (z3.WavPackLegacy, "wavpack_legacy"),
        (z3.FLACLegacy, "flac_legacy"),
        (z3.Delta2D, "delta2d"),
        (z3.BitTruncation, "bittruncation"),
        (z3.LSB, "lsb"),
        (z3.EphysLPC, "lpc"),
    ]:
        assert cls.codec_name == "numcodecs_ephys." + name
        assert get_codec_class(cls.codec_name) is cls
    a = zarr.create_array(
        str(tmp_path / "a.zarr"),
        shape=(100, 4),
        chunks=(50, 4),
        dtype="int16",
        serializer=z3.LSB(offsets=[0, 1, 2, 3], steps=2, serializer=z3.WavPack(level=3)),
        compressors=None,
    )
    meta = json.loads((tmp_path / "a.zarr" / "zarr.json").read_text())
    wavpack = {
        "name": "numcodecs_ephys.wavpack",
        "configuration": {
            "level": 3,
            "bps": None,
            "dynamic_noise_shaping": True,
            "shaping_weight": 0.0,
            "block_channels": z3.WavPack().block_channels,
        },
    }
    assert meta["codecs"] == [
        {
            "name": "numcodecs_ephys.lsb",
            "configuration": {"offsets": [0.0, 1.0, 2.0, 3.0], "steps": 2.0, "serializer": wavpack},
        }
    ]
    assert a.metadata.codecs[0] == z3.LSB(offsets=[0, 1, 2, 3], steps=2, serializer=z3.WavPack(level=3))
    zarr.create_array(
        str(tmp_path / "b.zarr"), shape=(100, 4), dtype="int16", serializer=z3.EphysLPC(num_threads=2), compressors=None
    )
    meta = json.loads((tmp_path / "b.zarr" / "zarr.json").read_text())
    assert meta["codecs"] == [
        {"name": "numcodecs_ephys.lpc", "configuration": {"level": 2, "max_error": 0, "block_channels": 32}}
    ]  # no thread count: the machine that reads decides


@pytest.mark.parametrize(
    "codec",
    [
        "WavPack(bps=2.5, level=4)",
        "FLAC(level=8, channels_per_stream=1)",
        "WavPackLegacy(level=2)",
        "FLACLegacy(blocksize=1024)",
        "Delta2D(axis='space')",
        "BitTruncation(bits=3)",
        "LSB(offsets=[1.5, 2.5], steps=[24.04, 24.04])",
        "LSB(steps=3.0, serializer=z3.FLAC(level=2))",
        "EphysLPC(level=3, max_error=2, block_channels=7)",
    ],
)
def test_config_roundtrip_and_pickle(zarr, codec):
    from numcodecs_ephys import zarr3 as z3

    c = eval("z3." + codec)
    d = json.loads(json.dumps(c.to_dict()))
    assert type(c).from_dict(d) == c
    assert hash(c) == hash(type(c).from_dict(d))
    assert pickle.loads(pickle.dumps(c)) == c
    config = c.to_dict()["configuration"]
    if "serializer" in config:  # LSB wraps a serializer
        assert type(c).from_numcodecs(c.numcodecs_codec, serializer=c.serializer) == c
        config.pop("serializer")
    else:
        assert z3.from_numcodecs(c.numcodecs_codec) == c
    assert c.numcodecs_codec.get_config() == {
        "id": c.numcodecs_codec.codec_id,
        **{k: (list(v) if isinstance(v, tuple) else v) for k, v in config.items()},
    }


def test_invalid_parameters_and_dtypes(zarr, tmp_path):
    from numcodecs_ephys import zarr3 as z3

    with pytest.raises(ValueError, match="level"):
        z3.WavPack(level=9)
    with pytest.raises(ValueError, match="supports dtypes"):
        zarr.create_array(str(tmp_path / "f.zarr"), shape=(10,), dtype="float64", serializer=z3.WavPack())
    with pytest.raises(ValueError, match="supports dtypes"):
        zarr.create_array(str(tmp_path / "g.zarr"), shape=(10,), dtype="float32", serializer=z3.FLAC())
    with pytest.raises(ValueError, match="supports dtypes"):
        zarr.create_array(str(tmp_path / "i.zarr"), shape=(10, 2), dtype="int64", serializer=z3.EphysLPC())
    with pytest.raises(ValueError, match="3 offsets but the array's chunks have 4 channels"):
        zarr.create_array(
            str(tmp_path / "h.zarr"), shape=(10, 8), chunks=(5, 4), dtype="int16", serializer=z3.LSB(offsets=[0, 0, 0])
        )


@pytest.mark.parametrize("cls,kwargs", [("Delta2D", {"axis": "time+space"}), ("BitTruncation", {"bits": 2})])
@pytest.mark.parametrize("shape", [(300, 7), (300,), (40, 3, 5), (0, 4), (5, 0)])
def test_headerless_filters_match_numcodecs(zarr, cls, kwargs, shape):
    """The zarr 3 filter output is the numcodecs filter output minus its header, and the
    header rebuilt from the spec is byte for byte the one the numcodecs filter wrote."""
    from numcodecs_ephys import zarr3 as z3

    codec = getattr(z3, cls)(**kwargs)
    x = np.random.default_rng(1).integers(-3000, 3000, size=shape).astype("int16")
    full = np.asarray(codec.numcodecs_codec.encode(x))
    body = codec._encode(x)
    assert body.shape == x.shape and body.dtype == x.dtype
    assert full.tobytes().endswith(body.tobytes())
    np.testing.assert_array_equal(codec._decode(body, x.dtype), codec.numcodecs_codec.decode(full))


def test_sharding_with_filters(zarr, tmp_path):
    """Inside a sharding codec: a filter before our serializer, and LSB wrapping one."""
    from zarr.codecs import ShardingCodec

    from numcodecs_ephys import zarr3 as z3

    x = simulated(2000, 16, seed=5) * 3 + 1
    paths = []
    for name, codecs in [
        ("delta", [z3.Delta2D(), z3.FLAC(num_threads=1)]),
        ("lsb", [z3.LSB(offsets=1.0, steps=3.0, serializer=z3.FLAC(num_threads=1))]),
    ]:
        path = tmp_path / f"{name}.zarr"
        format3_array(path, x, (1000, 16), ShardingCodec(chunk_shape=(250, 16), codecs=codecs))
        paths.append(path)
    got = read_back(
        tmp_path,
        "import sys, numpy as np, zarr\n"
        "np.savez(sys.argv[1], *[zarr.open_array(p, mode='r')[:] for p in sys.argv[2:]])",
        *paths,
    )
    for i in range(len(paths)):
        np.testing.assert_array_equal(got[f"arr_{i}"], x)


def test_lsb_refuses_a_serializer_that_does_not_record_the_shape(zarr, tmp_path):
    """LSB's chunk is bigger than the array's chunk: wrapping zarr's bytes serializer (which
    reshapes to the array's chunk) is refused when the array is created, as is LSB among the
    filters (it is a serializer)."""
    from zarr.codecs import BytesCodec

    from numcodecs_ephys import zarr3 as z3

    with pytest.raises(ValueError, match="does not record the shape"):
        zarr.create_array(
            str(tmp_path / "b.zarr"),
            shape=(200, 4),
            chunks=(200, 4),
            dtype="int16",
            serializer=z3.LSB(serializer=BytesCodec()),
            compressors=None,
        )
    with pytest.raises((TypeError, ValueError)):
        zarr.create_array(
            str(tmp_path / "c.zarr"),
            shape=(200, 4),
            chunks=(200, 4),
            dtype="int16",
            serializer="auto",
            filters=[z3.LSB()],
            compressors=None,
        )


def test_lsb_arrays_written_by_0_1_0_open(zarr, tmp_path):
    """0.1.0 wrote LSB as a filter before our serializer: such arrays open (LSB.from_dict reads
    that form), and their chunks are byte for byte what the LSB serializer writes now."""
    import numcodecs_ephys as ne
    from numcodecs_ephys import zarr3 as z3

    x = load_real("openephys_lfp")[:3000]
    lsb = ne.LSB.from_data(x)
    config = {"offsets": lsb.offsets, "steps": lsb.steps}
    old = {"name": "numcodecs_ephys.lsb", "configuration": config}
    paths = {"old": tmp_path / "old.zarr", "new": tmp_path / "new.zarr"}
    zarr.create_array(
        str(paths["old"]),
        shape=x.shape,
        chunks=(1000, x.shape[1]),
        dtype="int16",
        filters=[old],
        serializer=z3.WavPack(),
        compressors=None,
    )[:] = x
    zarr.create_array(
        str(paths["new"]),
        shape=x.shape,
        chunks=(1000, x.shape[1]),
        dtype="int16",
        serializer=z3.LSB(**config),
        compressors=None,
    )[:] = x
    meta = json.loads((paths["old"] / "zarr.json").read_text())
    assert meta["codecs"][0] == old and meta["codecs"][1]["name"] == "numcodecs_ephys.wavpack"
    for i in range(3):
        assert (paths["old"] / "c" / str(i) / "0").read_bytes() == (paths["new"] / "c" / str(i) / "0").read_bytes()
    got = read_back(
        tmp_path,
        "import sys, numpy as np, zarr\n"
        "np.savez(sys.argv[1], *[zarr.open_array(p, mode='r')[:] for p in sys.argv[2:]])",
        paths["old"],
        paths["new"],
    )
    np.testing.assert_array_equal(got["arr_0"], x)
    np.testing.assert_array_equal(got["arr_1"], x)


def test_lossy_after_a_filter_is_refused(zarr, tmp_path):
    """The one rule of both stacks (numcodecs: test_lsb.py): a lossy step after a filter is
    refused when the chunk is written; LSB wrapping a lossy serializer when the array is created."""
    from numcodecs_ephys import zarr3 as z3

    x = simulated(500, 4, seed=7)
    for i, (filters, serializer) in enumerate(
        [
            ([z3.Delta2D()], z3.WavPack(bps=3)),
            ([z3.BitTruncation(bits=0)], z3.EphysLPC(max_error=2)),
            ([z3.Delta2D(), z3.BitTruncation(bits=2)], z3.WavPack()),
        ]
    ):
        a = zarr.create_array(
            str(tmp_path / f"{i}.zarr"),
            shape=x.shape,
            chunks=x.shape,
            dtype="int16",
            filters=filters,
            serializer=serializer,
            compressors=None,
        )
        with pytest.raises(ValueError, match="is lossy and this chunk was already transformed by"):
            a[:] = x
    with pytest.raises(ValueError, match="lossy"):
        zarr.create_array(
            str(tmp_path / "lsb.zarr"),
            shape=x.shape,
            chunks=x.shape,
            dtype="int16",
            serializer=z3.LSB(serializer=z3.WavPack(bps=3)),
            compressors=None,
        )
    # lossy first, then filters: fine
    a = zarr.create_array(
        str(tmp_path / "ok.zarr"),
        shape=x.shape,
        chunks=x.shape,
        dtype="int16",
        filters=[z3.BitTruncation(bits=1), z3.Delta2D()],
        serializer=z3.WavPack(),
        compressors=None,
    )
    a[:] = x
    assert np.abs(a[:].astype(int) - x).max() <= 1


def test_filter_dtypes_and_limits_are_the_numcodecs_ones(zarr):
    """One source of truth (the defaults: test_codec_contract): the zarr 3 filters' dtypes
    are the numcodecs modules' lists, and LSB's limits come from csrc/lsb.h."""
    from numcodecs_ephys import bittruncation, delta2d, lsb
    from numcodecs_ephys import zarr3 as z3

    assert z3.Delta2D._supported == delta2d.SUPPORTED_DTYPES
    assert z3.BitTruncation._supported == bittruncation.SUPPORTED_DTYPES
    for itemsize, bits in bittruncation.MAX_BITS.items():
        assert bits == 8 * itemsize - 1
    assert lsb.MAX_OFFSET == 2.0**40 and lsb.MAX_STEP == 2.0**24


def test_chunks_are_coded_in_parallel(zarr):
    """encode/decode run on threads (asyncio.to_thread), off the event loop."""
    import threading

    from zarr.core.array_spec import ArrayConfig, ArraySpec
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.buffer.cpu import NDBuffer
    from zarr.dtype import Int16

    from numcodecs_ephys import zarr3 as z3

    seen = set()
    codec = z3.WavPack(num_threads=1)
    real_encode = codec.numcodecs_codec.encode

    def spy(buf):
        seen.add(threading.get_ident())
        return real_encode(buf)

    codec.numcodecs_codec.encode = spy
    spec = ArraySpec(
        shape=(1000, 8),
        dtype=Int16(),
        fill_value=0,
        config=ArrayConfig.from_dict({}),
        prototype=default_buffer_prototype(),
    )
    chunk = NDBuffer.from_numpy_array(simulated(1000, 8))

    async def run():
        return await codec.encode([(chunk, spec)] * 4)

    out = asyncio.run(run())
    assert len(out) == 4 and threading.get_ident() not in seen


def test_import_does_not_need_zarr3():
    out = fresh_python(
        "import sys, numcodecs_ephys\nprint('numcodecs_ephys.zarr3' in sys.modules, 'zarr' in sys.modules)"
    )
    assert out.split() == ["False", "False"]


def test_lsb_float32_scaled_traces(zarr, tmp_path):
    """SpikeInterface's scaled traces (int16 x gain + offset, float32) through LSB + WavPack:
    bit-exact, grid indices int16, smaller than zlib."""
    import zlib

    import numcodecs_ephys as ne
    from numcodecs_ephys import zarr3 as z3

    q = load_real("np_ultra")[:2000, :8]
    x = q.astype("float32") * np.float32(2.34375) + np.float32(0.5)
    path = tmp_path / "f.zarr"
    a = zarr.create_array(
        str(path),
        shape=x.shape,
        chunks=(1000, 8),
        dtype="float32",
        compressors=None,
        serializer=z3.LSB.from_numcodecs(ne.LSB.from_data(x), serializer=z3.FLAC()),
    )
    a[:] = x
    got = read_back(
        tmp_path,
        "import sys, numpy as np, zarr\nnp.savez(sys.argv[1], x=zarr.open_array(sys.argv[2], mode='r')[:])",
        path,
    )
    np.testing.assert_array_equal(got["x"].view("u4"), x.view("u4"))
    stored = sum(p.stat().st_size for p in (path / "c").rglob("*") if p.is_file())
    assert stored < len(zlib.compress(x.tobytes(), 6))
