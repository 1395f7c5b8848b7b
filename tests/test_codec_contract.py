"""What every codec and filter of the package owes its users, checked over all of them
(CASES; a new codec is one more entry): its config round-trips through JSON and the
numcodecs registry, it pickles, its repr rebuilds it, it equals exactly the codecs of the
same config, it decodes into a caller's ``out`` of any layout, a damaged chunk decodes to
the right data or raises ValueError, one instance serves 8 Python threads at once, the
frozen fixtures of every format still decode, and the zarr 3 and HDF5 classes take the same
parameters with the same defaults."""

import inspect
import json
import pickle
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from functools import cache

import numcodecs
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numcodecs.compat import ensure_bytes
from numcodecs.registry import codec_registry, get_codec
from numcodecs.tests.common import check_backwards_compatibility, check_config

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

from conftest import FIXTURES, decode_or_valueerror, fresh_python, require, simulated
from fixtures import make_fixtures

GRID_STEP = 24.0384  # an Open Ephys-like ADC step (LSB)


def _on_grid(n, channels):
    x = np.round(np.round(simulated(n, channels, seed=31, std=300.0) / GRID_STEP) * GRID_STEP).astype("int16")
    x[::7, 0] += 1  # off the grid: escapes
    return x


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
            check_config(codec)


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
def test_frozen_chunks_still_decode(codec_id, monkeypatch):
    """Chunks written by earlier versions (tests/fixtures/fixture/<codec id>) decode with this one."""
    assert (FIXTURES / "fixture" / codec_id).is_dir(), "fixtures missing: run tests/fixtures/make_fixtures.py"
    codecs, arrays = make_fixtures.FROZEN[codec_id]()
    monkeypatch.chdir(FIXTURES)
    check_backwards_compatibility(codec_id, arrays, codecs)


@pytest.mark.parametrize("name", sorted(make_fixtures.FROZEN_LOSSY))
def test_frozen_lossy_chunks_decode_as_written(name):
    """A lossy chunk written by an earlier version decodes to the same samples, within the
    codec's bound of the input."""
    codec, data, bound = make_fixtures.FROZEN_LOSSY[name]()
    folder = FIXTURES / "lossy" / name
    expected = np.load(folder / "decoded.npy")
    np.testing.assert_array_equal(np.asarray(codec.decode((folder / "chunk.bin").read_bytes())), expected)
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
