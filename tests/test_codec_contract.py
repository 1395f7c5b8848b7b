"""What every codec and filter of the package owes its users, checked over all of them
(CASES, TAKES and BAD_PARAMETERS; a new codec is one more entry in each): its config
round-trips through JSON and the numcodecs registry, it pickles, its repr rebuilds it, it
equals exactly the codecs of the same config, a bad parameter is a ValueError naming it, it
codes every dtype it takes and refuses every other one with a ValueError, it decodes into a
caller's ``out`` of any layout, a damaged chunk decodes to the right data or raises
ValueError, its bytes do not depend on the thread count, one instance serves 8 Python
threads at once, the frozen fixtures of every format still decode, and the zarr 3 and HDF5
classes take the same parameters with the same defaults."""

import inspect
import json
import pickle
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from functools import cache

import float_cases
import numcodecs
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numcodecs.compat import ensure_bytes
from numcodecs.registry import codec_registry, get_codec

import numcodecs_ephys
from numcodecs_ephys import (
    FLAC,
    LSB,
    BitTruncation,
    Delta2D,
    EphysLPC,
    FLACNumcodecsFormat,
    WavPack,
    WavPackNumcodecsFormat,
)
from numcodecs_ephys.flac import _supported_dtypes as flac_dtypes

from conftest import FIXTURES, decode_or_valueerror, fresh_python, load_real, require, simulated
from fixtures import make_fixtures

GRID_STEP = 24.0384  # an Open Ephys-like ADC step (LSB)


def _to_grid(x):
    x = np.round(np.round(x / GRID_STEP) * GRID_STEP).astype("int16")
    x[::7, 0] += 1  # off the grid: escapes
    return x


def _on_grid(n, channels):
    return _to_grid(simulated(n, channels, seed=31, std=300.0))


@dataclass(frozen=True)
class Case:
    codec: object  # the instance under test
    data: np.ndarray  # a chunk it takes
    kind: str  # "container" (our chunk container), "filter" (ours), "peer" (another package's format)
    variants: tuple = ()  # more instances, of configs that differ from each other and from codec's
    shapes: tuple = ((500, 6), (300, 2, 3), (200,))  # chunk shapes of the decode-into-out test
    lossy: bool = False

    @property
    def instances(self):
        return (self.codec,) + self.variants


CASES = {
    "WavPack": Case(
        WavPack(block_channels=2, num_threads=2),
        simulated(300, 5, seed=21),
        "container",
        (
            WavPack(),
            WavPack(level=4, bps=3.5, dynamic_noise_shaping=False, shaping_weight=-0.5, block_channels=2),
            WavPack(level=1, block_channels=3),
        ),
    ),
    "WavPack hybrid": Case(WavPack(bps=3, block_channels=3), simulated(300, 5, seed=22), "container", lossy=True),
    "FLAC": Case(
        FLAC(channels_per_stream=2, block_channels=4, blocksize=128, num_threads=2),
        simulated(300, 6, seed=11),
        "container",
        (
            FLAC(),
            FLAC(level=8, blocksize=1024, channels_per_stream=1, block_channels=7, exhaustive_stereo=True),
            FLAC(level=0, blocksize=16, channels_per_stream=8, block_channels=20),
            FLAC(level=7, exhaustive_stereo=True),
        ),
    ),
    "EphysLPC": Case(
        EphysLPC(block_channels=4, num_threads=2),
        simulated(700, 6, seed=11),
        "container",
        (EphysLPC(), EphysLPC(level=3, max_error=2, block_channels=7), EphysLPC(level=1, block_channels=3)),
    ),
    "EphysLPC near-lossless": Case(
        EphysLPC(max_error=2, block_channels=5), simulated(300, 3, seed=12), "container", lossy=True
    ),
    "Delta2D": Case(
        Delta2D("time+space", num_threads=2), simulated(300, 6, seed=13), "filter", (Delta2D("time"), Delta2D("space"))
    ),
    "BitTruncation": Case(
        BitTruncation(2), simulated(300, 6, seed=14), "filter", (BitTruncation(0), BitTruncation(bits=4)), lossy=True
    ),
    "LSB": Case(
        LSB(offsets=0.0, steps=GRID_STEP, num_threads=2),
        _on_grid(300, 6),
        "filter",
        (LSB(), LSB(offsets=[0.5, -1.25], steps=[24.0384, 12.0]), LSB(0.0, 2.0), LSB(0.0, 3.0)),
    ),
    # the peers' formats hold 1-D and 2-D chunks; flac-numcodecs flattens more than 2 channels into one
    "WavPackNumcodecsFormat": Case(
        WavPackNumcodecsFormat(),
        simulated(300, 5, seed=23),
        "peer",
        (WavPackNumcodecsFormat(level=3, bps=2.25, dynamic_noise_shaping=False),),
        ((500, 6), (200,)),
    ),
    "FLACNumcodecsFormat": Case(
        FLACNumcodecsFormat(blocksize=256),
        simulated(700, 2, seed=12),
        "peer",
        (
            FLACNumcodecsFormat(level=8, blocksize=1024),
            FLACNumcodecsFormat(level=3),
            FLACNumcodecsFormat(sample_rate=96000),
        ),
        ((500, 2), (200,)),
    ),
}
PEER_MODULES = ("wavpack_numcodecs", "flac_numcodecs")  # their import registers the ids "wavpack", "flac"
cases = pytest.mark.parametrize("name", sorted(CASES))
ours = pytest.mark.parametrize("name", [n for n in sorted(CASES) if CASES[n].kind != "peer"])

_SIGNED_AND_UNSIGNED = ("int8", "int16", "int32", "uint8", "uint16", "uint32")
_CHUNK_NDIMS = range(1, 9)  # the chunk container: time, then up to 7 channel axes
_FILTER_NDIMS = range(0, 9)  # a filter also takes a 0-d chunk (one sample)
# class -> (the dtypes it codes, the numbers of dimensions of the chunks it codes); every other
# dtype or number of dimensions is refused with a ValueError
TAKES = {
    WavPack: (_SIGNED_AND_UNSIGNED + ("float32",), _CHUNK_NDIMS),
    # int32 and uint32 with libFLAC >= 1.4
    FLAC: (tuple(d for d in _SIGNED_AND_UNSIGNED if np.dtype(d) in flac_dtypes()), _CHUNK_NDIMS),
    EphysLPC: (_SIGNED_AND_UNSIGNED + ("float32", "float64"), _CHUNK_NDIMS),
    Delta2D: (("int8", "int16", "int32", "int64"), _FILTER_NDIMS),
    BitTruncation: (("int16", "int32"), _FILTER_NDIMS),
    LSB: (("int16", "int32", "float32", "float64"), _FILTER_NDIMS),
    WavPackNumcodecsFormat: (("int8", "int16", "int32", "float32"), range(1, 3)),
    FLACNumcodecsFormat: (("int16",), _CHUNK_NDIMS),  # channel axes flattened into one
}
ALL_DTYPES = _SIGNED_AND_UNSIGNED + ("int64", "uint64", "float16", "float32", "float64", "bool", "complex64")

_BAD_NUM_THREADS = [0, -1, 257, 1.5, True, "2"]  # every codec of our formats
# class -> parameter -> values its constructor refuses with a ValueError that names the parameter
BAD_PARAMETERS = {
    WavPack: dict(
        level=[0, 5, True],
        bps=[1.0, 2.2, -3, 40, "3"],
        shaping_weight=[1.5],
        block_channels=[0, 4097],
        num_threads=_BAD_NUM_THREADS,
    ),
    FLAC: dict(
        level=[-1, 9, 5.5, True, "5"],
        blocksize=[15, 65536, None],
        channels_per_stream=[0, 9],
        block_channels=[0, 2.5],
        exhaustive_stereo=["yes"],
        num_threads=_BAD_NUM_THREADS,
    ),
    EphysLPC: dict(
        level=[0, 4, True],
        max_error=[-1, 65536, -0.5, float("nan"), float("inf"), "1"],
        block_channels=[0],
        num_threads=_BAD_NUM_THREADS,
    ),
    Delta2D: dict(axis=["x", 0], num_threads=_BAD_NUM_THREADS),
    BitTruncation: dict(bits=[-1, 32, 2.5, True, "3", None], num_threads=_BAD_NUM_THREADS),
    LSB: dict(
        steps=[-0.5, 0, float("nan"), [], [1.0, "a"], 2.0**25, True],
        offsets=[float("inf"), 2.0**41],
        num_threads=_BAD_NUM_THREADS,
    ),
    FLACNumcodecsFormat: dict(level=[9], blocksize=[8], sample_rate=[0]),
}


@cache
def encoded(name):
    """(the case's chunk as bytes, what it decodes to): lossy codecs are held to their own output."""
    case = CASES[name]
    chunk = ensure_bytes(case.codec.encode(case.data))
    return chunk, np.asarray(case.codec.decode(chunk)).reshape(case.data.shape)


# ---- configuration, registry, pickle, repr, equality ----


@cases
def test_config_round_trips_through_json(name):
    for codec in CASES[name].instances:
        config = json.loads(json.dumps(codec.get_config()))
        assert config["id"] == codec.codec_id and "num_threads" not in config
        again = type(codec).from_config(config)
        assert again == codec and again.get_config() == codec.get_config()
        if CASES[name].kind != "peer":  # the peer, once imported, owns its id in the registry
            assert get_codec(config) == codec


@cases
def test_registry_holds_the_class(name):
    cls = type(CASES[name].codec)
    registered = codec_registry[cls.codec_id]
    assert registered is cls or (CASES[name].kind == "peer" and registered.__module__.split(".")[0] in PEER_MODULES)
    if registered is cls:
        assert get_codec(CASES[name].codec.get_config()) == CASES[name].codec


def test_every_id_resolves_through_entry_points_alone():
    """numcodecs finds each id through the package's entry points, before anything imports
    numcodecs_ephys, and with the peers (which claim "wavpack" and "flac" too) not installed."""
    classes = {c.codec.codec_id: f"{type(c.codec).__module__}.{type(c.codec).__name__}" for c in CASES.values()}
    fresh_python(f"""
        import sys, numcodecs
        assert "numcodecs_ephys" not in sys.modules
        for codec_id, name in {classes!r}.items():
            cls = type(numcodecs.get_codec({{"id": codec_id}}))
            assert f"{{cls.__module__}}.{{cls.__name__}}" == name, (codec_id, cls)
    """)


@cases
def test_pickle_keeps_the_codec(name):
    for codec in CASES[name].instances:
        again = pickle.loads(pickle.dumps(codec))
        assert type(again) is type(codec) and again == codec and repr(again) == repr(codec)
    case = CASES[name]
    assert ensure_bytes(pickle.loads(pickle.dumps(case.codec)).encode(case.data)) == encoded(name)[0]


@cases
def test_repr_rebuilds_the_codec(name):
    for codec in CASES[name].instances:
        text = repr(codec)
        assert text.startswith(f"{type(codec).__name__}(") and "num_threads" not in text
        again = eval(text, vars(numcodecs_ephys))
        assert type(again) is type(codec) and again == codec and repr(again) == text


@cases
def test_equal_exactly_when_the_configs_are(name):
    instances = CASES[name].instances
    configs = [json.dumps(c.get_config(), sort_keys=True) for c in instances]
    assert len(set(configs)) == len(configs), "the variants must differ from each other"
    for a, config_a in zip(instances, configs):
        for b, config_b in zip(instances, configs):
            assert (a == b) == (config_a == config_b)
    assert instances[0] != numcodecs.Zlib()


def test_names_of_0_1_0_still_work():
    """WavPackLegacy and FLACLegacy were renamed for what they hold: the peers' formats."""
    from numcodecs_ephys import FLACLegacy, WavPackLegacy

    assert WavPackLegacy is WavPackNumcodecsFormat and FLACLegacy is FLACNumcodecsFormat
    assert eval("WavPackLegacy(level=2)", vars(numcodecs_ephys)) == WavPackNumcodecsFormat(level=2)
    assert eval("FLACLegacy(blocksize=1024)", vars(numcodecs_ephys)) == FLACNumcodecsFormat(blocksize=1024)


# ---- parameters and dtypes ----


@pytest.mark.parametrize(
    ("cls", "parameter", "value"),
    [(cls, p, v) for cls, table in BAD_PARAMETERS.items() for p, values in table.items() for v in values],
    ids=str,
)
def test_bad_parameters_are_refused(cls, parameter, value):
    with pytest.raises(ValueError, match=parameter):
        cls(**{parameter: value})


def test_every_class_has_its_tables():
    classes = {type(case.codec) for case in CASES.values()}
    assert set(TAKES) == classes and set(BAD_PARAMETERS) <= classes


def _chunk_of(dtype, shape=(200, 4)):
    """A chunk of dtype as recordings hold it, for the dtype checks: small values (on LSB's
    default grid of 1) around zero, or for unsigned integers around mid-scale (as Intan's
    uint16), which the container stores as small signed values; bools 0 and 1."""
    dtype = np.dtype(dtype)
    x = simulated(shape[0], int(np.prod(shape[1:])), seed=7, std=3.0).reshape(shape)
    if dtype.kind == "b":
        return (x % 2).astype(dtype)
    if dtype.kind == "u":  # x's two's complement plus half the range wraps to mid-scale + x
        return x.astype(np.int64).astype(dtype) + dtype.type(1 << (8 * dtype.itemsize - 1))
    return x.astype(dtype)


@cases
def test_codes_the_dtypes_it_takes_and_refuses_the_others(name):
    case = CASES[name]
    takes, _ = TAKES[type(case.codec)]
    for dtype in ALL_DTYPES:
        x = _chunk_of(dtype)
        if dtype in takes:
            decoded = np.asarray(case.codec.decode(case.codec.encode(x))).reshape(x.shape)
            assert decoded.dtype == x.dtype, dtype
            if not case.lossy:
                np.testing.assert_array_equal(decoded, x, err_msg=dtype)
        else:
            with pytest.raises(ValueError, match=f"got {dtype}"):
                case.codec.encode(x)
    with pytest.raises(ValueError):
        case.codec.encode(np.array([object()] * 4))


@cases
def test_refuses_chunks_of_too_few_or_too_many_dimensions(name):
    codec = CASES[name].codec
    _, ndims = TAKES[type(codec)]
    dtype = CASES[name].data.dtype
    for ndim in range(ndims.stop + 1):
        x = _chunk_of(dtype, (3,) * ndim) if ndim else _chunk_of(dtype, (1,)).reshape(())
        if ndim in ndims:
            codec.encode(x)
        else:
            with pytest.raises(ValueError):
                codec.encode(x)


# ---- encoding and decoding ----


@cases
def test_decodes_from_any_buffer(name):
    case = CASES[name]
    chunk, expected = encoded(name)
    if not case.lossy:
        np.testing.assert_array_equal(expected, case.data)  # lossless
    for src in (chunk, bytearray(chunk), memoryview(chunk), np.frombuffer(chunk, np.uint8)):
        np.testing.assert_array_equal(np.asarray(case.codec.decode(src)).reshape(expected.shape), expected)


def layouts(x):
    """x in every layout a caller may hand over, as (name, array) with x's values."""
    yield "C", np.ascontiguousarray(x)
    yield "F", np.asfortranarray(x)
    wide = np.zeros((2 * x.shape[0],) + x.shape[1:], x.dtype)
    wide[::2] = x
    yield "strided", wide[::2]
    if x.ndim > 1:
        yield "reversed channels", np.ascontiguousarray(x[..., ::-1])[..., ::-1]
    raw = bytearray(x.nbytes + 1)
    unaligned = np.frombuffer(raw, x.dtype, offset=1).reshape(x.shape)
    unaligned[...] = x
    yield "unaligned", unaligned


@pytest.mark.parametrize(("name", "shape"), [(n, s) for n in sorted(CASES) for s in CASES[n].shapes], ids=str)
def test_decode_into_every_layout(name, shape):
    codec = CASES[name].codec
    x = simulated(shape[0], int(np.prod(shape[1:])), seed=1).reshape(shape)
    if name == "LSB":
        x = _on_grid(shape[0], int(np.prod(shape[1:]))).reshape(shape)
    expected = np.asarray(codec.decode(codec.encode(x))).reshape(shape)
    for src_name, src in layouts(x):
        enc = codec.encode(src)
        np.testing.assert_array_equal(np.asarray(codec.decode(enc)).reshape(shape), expected, err_msg=src_name)
        for out_name, out in layouts(np.zeros_like(x)):
            returned = codec.decode(enc, out=out)
            np.testing.assert_array_equal(out, expected, err_msg=f"{src_name} -> out {out_name}")
            assert returned is out
    # a flat byte buffer gets the chunk's bytes, as numcodecs' own codecs give them
    flat = np.zeros(x.nbytes, np.uint8)
    codec.decode(codec.encode(x), out=flat)
    assert flat.tobytes() == expected.tobytes()
    with pytest.raises(ValueError, match="output buffer"):
        codec.decode(codec.encode(x), out=np.zeros(x.size + 1, x.dtype))


@cases
def test_chunks_of_other_codecs_are_refused(name):
    """A chunk of another format is a ValueError; chunks of the same codec id decode (a
    WavPack hybrid chunk with WavPack(), a near-lossless one with EphysLPC())."""
    codec = CASES[name].codec
    for other in sorted(CASES):
        chunk, expected = encoded(other)
        if CASES[other].codec.codec_id == codec.codec_id:
            np.testing.assert_array_equal(np.asarray(codec.decode(chunk)).reshape(expected.shape), expected)
        else:
            with pytest.raises(ValueError):
                codec.decode(chunk)
    for foreign in (numcodecs.Blosc().encode(simulated(100, 4)), b"not a chunk at all", b""):
        with pytest.raises(ValueError):
            codec.decode(foreign)


@pytest.mark.parametrize("name", [n for n in sorted(CASES) if CASES[n].kind == "container"])
def test_hostile_header_cannot_demand_huge_output(name):
    """A header claiming 2**32 - 1 samples over a few bytes is refused before allocating."""
    chunk = bytearray(CASES[name].codec.encode(simulated(20, 2)))
    chunk[16:20] = (2**32 - 1).to_bytes(4, "little")
    with pytest.raises(ValueError):
        CASES[name].codec.decode(bytes(chunk))


# ---- damaged chunks: the right data or a ValueError ----

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cases
@FUZZ
@given(draw=st.data())
def test_random_bytes(name, draw):
    """Bytes alone, and bytes after the start of a valid chunk (its magic, its header)."""
    chunk, _ = encoded(name)
    keep = draw.draw(st.integers(0, min(len(chunk), 64)))
    decode_or_valueerror(CASES[name].codec, chunk[:keep] + draw.draw(st.binary(max_size=1024)))


@cases
@FUZZ
@given(draw=st.data())
def test_truncated_chunks(name, draw):
    chunk, expected = encoded(name)
    decode_or_valueerror(CASES[name].codec, chunk[: draw.draw(st.integers(0, len(chunk) - 1))], expected)


@cases
@FUZZ
@given(draw=st.data())
def test_bit_flips_and_overwritten_bytes(name, draw):
    chunk, expected = encoded(name)
    damaged = bytearray(chunk)
    for _ in range(draw.draw(st.integers(1, 4))):
        pos = draw.draw(st.integers(0, len(damaged) - 1))
        if draw.draw(st.booleans()):
            damaged[pos] ^= 1 << draw.draw(st.integers(0, 7))
        else:
            damaged[pos] = draw.draw(st.integers(0, 255))
    decode_or_valueerror(CASES[name].codec, bytes(damaged), expected)


# ---- threads ----


def _thread_chunk(name):
    """2000 samples of a real Neuropixels 2.0 probe: 384 channels, many channel blocks (for
    LSB, put on its grid)."""
    x = load_real("np2")[:2000]
    return _to_grid(x) if type(CASES[name].codec) is LSB else x


@ours
def test_bytes_do_not_depend_on_the_thread_count(name):
    """Encoding on 1, 2, 3 or 8 threads writes the same bytes, and they decode on 1, 2 or 5
    threads to the same samples (the chunk itself for a lossless case's codec)."""
    x = _thread_chunk(name)
    for codec in CASES[name].instances:
        # per-channel parameters (LSB's lists) repeated over the chunk's channels
        params = {
            k: np.resize(v, x.shape[1]).tolist() if isinstance(v, list) else v for k, v in codec.get_config().items()
        }
        params.pop("id")
        chunks = {n: ensure_bytes(type(codec)(**params, num_threads=n).encode(x)) for n in (1, 2, 3, 8)}
        assert len(set(chunks.values())) == 1, codec
        decoded = [np.asarray(type(codec)(**params, num_threads=n).decode(chunks[1])) for n in (1, 2, 5)]
        for n, samples in zip((2, 5), decoded[1:]):
            np.testing.assert_array_equal(samples, decoded[0], err_msg=f"{codec}, {n} threads")
    if not CASES[name].lossy:
        np.testing.assert_array_equal(np.asarray(CASES[name].codec.decode(CASES[name].codec.encode(x))), x)


@cases
def test_one_instance_serves_8_python_threads(name):
    case = CASES[name]
    arrays = [np.roll(case.data, 17 * i, axis=0) for i in range(8)]
    chunks = [ensure_bytes(case.codec.encode(a)) for a in arrays]
    decoded = [np.asarray(case.codec.decode(c)) for c in chunks]

    def work(i):
        for _ in range(3):
            chunk = ensure_bytes(case.codec.encode(arrays[i]))
            assert chunk == chunks[i]
            np.testing.assert_array_equal(np.asarray(case.codec.decode(chunk)), decoded[i])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(8)))  # re-raises what failed in a thread


# ---- frozen formats ----


@pytest.mark.parametrize("codec_id", sorted(make_fixtures.FROZEN))
def test_frozen_chunks_still_decode(codec_id):
    """Chunks written by earlier versions (tests/fixtures/fixture/<codec id>) decode with this one."""
    assert (FIXTURES / "fixture" / codec_id).is_dir(), "fixtures missing: run tests/fixtures/make_fixtures.py"
    make_fixtures.frozen_chunks(codec_id, *make_fixtures.FROZEN[codec_id]())


@pytest.mark.parametrize("name", sorted(make_fixtures.FROZEN_LOSSY))
def test_frozen_lossy_chunks_decode_as_written(name):
    """A lossy chunk written by an earlier version decodes to the same samples, within the
    codec's bound of the input."""
    codec, data, bound = make_fixtures.FROZEN_LOSSY[name]()
    folder = FIXTURES / "lossy" / name
    expected = np.load(folder / "decoded.npy")
    decoded = np.asarray(codec.decode((folder / "chunk.bin").read_bytes()))
    assert decoded.dtype == expected.dtype and decoded.tobytes() == expected.tobytes()  # bit for bit (NaN payloads)
    if expected.dtype.kind == "f":  # finite samples within the bound, the others exact
        assert float_cases.within(expected, data, bound)
    else:
        assert np.abs(expected.astype(np.int64) - data).max() <= bound


# ---- the zarr 3 and HDF5 front ends take the numcodecs parameters ----


def _parameters(fn):
    """name -> default of a callable's parameters (self left out)."""
    return {p.name: p.default for p in inspect.signature(fn).parameters.values() if p.name != "self"}


@pytest.mark.zarr3
def test_zarr3_codecs_have_the_numcodecs_parameters():
    """Each zarr 3 class has the fields, with the defaults, of the numcodecs class it runs."""
    from numcodecs_ephys import zarr3

    classes = [getattr(zarr3, name) for name in zarr3.__all__ if isinstance(getattr(zarr3, name), type)]
    assert {cls._numcodecs_cls for cls in classes} == {type(c.codec) for c in CASES.values()}
    for cls in classes:
        declared = {f.name: f.default for f in fields(cls) if f.name != "serializer"}  # LSB wraps a serializer
        assert declared == _parameters(cls._numcodecs_cls), cls.__name__


def test_hdf5_filters_have_the_numcodecs_parameters():
    """Each HDF5 filter class takes the parameters, with the defaults, of the codec it writes."""
    eh5 = require("numcodecs_ephys.hdf5")
    for cls in eh5.FILTERS.values():
        assert _parameters(cls) == _parameters(type(cls().codec())), cls.__name__
