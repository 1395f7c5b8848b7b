"""Channel-subset decoding: decode_channels / decode_selection of the numcodecs classes, and
zarr 3's partial decoding through the serializers, inside and outside sharding. Only the
channel blocks that hold the channels are decoded; the result is bit-exact."""

import glob
import json
from pathlib import Path

import numpy as np
import pytest

from numcodecs_ephys import FLAC, EphysLPC, WavPack, _partial_decode

from conftest import FIXTURES, load_real, simulated

CODECS = {
    "wavpack": lambda **k: WavPack(**k),
    "hybrid": lambda **k: WavPack(bps=3, **k),
    "flac": lambda **k: FLAC(**k),
    "lpc": lambda **k: EphysLPC(**k),
}


@pytest.fixture
def decoded_blocks(monkeypatch):
    """The channel blocks each partial decode decodes, as sorted lists."""
    calls = []
    original = _partial_decode._decode_runs

    def spy(decode_blocks_fn, source, info, channels, target_for, num_threads, what):
        calls.append(sorted({int(c) // int(info.channels_per_block) for c in channels}))
        return original(decode_blocks_fn, source, info, channels, target_for, num_threads, what)

    monkeypatch.setattr(_partial_decode, "_decode_runs", spy)
    return calls


@pytest.mark.parametrize("make", sorted(CODECS))
def test_decode_channels_real(make, decoded_blocks):
    x = load_real("np_ultra")[:3000]  # (3000, 384)
    codec = CODECS[make](block_channels=96)
    enc = codec.encode(x)
    whole = codec.decode(enc)  # for hybrid, the lossy values every reader gets
    for channels in ([100, 101, 102, 103], [383, 0, 200, 200], [-1], list(range(384)), []):
        decoded_blocks.clear()
        got = codec.decode_channels(enc, channels)
        assert got.dtype == x.dtype and got.shape == (3000, len(channels))
        assert np.array_equal(got, whole[:, channels]), channels
        if make != "hybrid":
            assert np.array_equal(got, x[:, channels])
        assert decoded_blocks == [sorted({c % 384 // 96 for c in channels})]
    assert decoded_blocks[-1] == []


@pytest.mark.parametrize("make", ["wavpack", "flac", "lpc"])
def test_decode_selection_shapes(make):
    codec = CODECS[make](block_channels=5)
    chunk_3d = simulated(800, 24).reshape(800, 4, 6)  # channels: axes 1 and 2 flattened in C order
    enc = codec.encode(np.asfortranarray(chunk_3d))  # recorded Fortran order: same values
    for sel in [
        (slice(None), 1, slice(2, 5)),
        (slice(10, 20), np.array([0, 3]), 5),
        (3, slice(None), slice(None)),
        (slice(None, None, 7), np.array([[1], [2]]), np.array([[0, 5]])),
    ]:
        assert np.array_equal(codec.decode_selection(enc, sel), chunk_3d[sel]), sel
    assert np.array_equal(codec.decode_channels(enc, [23, 0]), chunk_3d.reshape(800, 24)[:, [23, 0]])
    assert codec.decode_selection(enc, (slice(None),) * 3, shape=(800, 24)) is None  # another shape
    one = simulated(500, 1)[:, 0]
    assert np.array_equal(codec.decode_selection(codec.encode(one), (slice(5, 9),)), one[5:9])
    assert np.array_equal(codec.decode_channels(codec.encode(one), [0, 0]), np.stack([one, one], axis=1))


@pytest.mark.parametrize("make", ["wavpack", "flac"])
def test_bad_requests_raise(make):
    codec = CODECS[make]()
    enc = codec.encode(simulated(300, 10))
    for bad in ([10], [-11], [[1, 2]], [1.5], "ab"):
        with pytest.raises(ValueError):
            codec.decode_channels(enc, bad)
    with pytest.raises(ValueError):
        codec.decode_selection(enc, (slice(None),))  # one axis for a 2-D chunk
    with pytest.raises(ValueError):
        codec.decode_channels(b"NCEP" + bytes(40), [0])
    with pytest.raises(ValueError):
        codec.decode_channels(enc[:-3], [0])


@pytest.mark.parametrize("make", ["wavpack", "flac"])
def test_corrupted_block_raises(make):
    """A flipped bit in the block read fails (block checksum); blocks not read are not decoded."""
    codec = CODECS[make](block_channels=4)
    x = simulated(2000, 12)
    enc = bytearray(codec.encode(x))
    rng = np.random.default_rng(1)
    errors = 0
    for _ in range(30):
        bad = bytearray(enc)
        pos = len(enc) - 1 - int(rng.integers(0, len(enc) // 4))  # in the last block (channels 8-11)
        bad[pos] ^= 1 << int(rng.integers(0, 8))
        try:
            got = codec.decode_channels(bytes(bad), [9, 10])
        except ValueError:
            errors += 1
        else:
            assert np.array_equal(got, x[:, [9, 10]])
    assert errors >= 25


@pytest.mark.parametrize("codec_id", ["ephys_wavpack", "ephys_flac", "ephys_lpc"])
def test_fixture_chunks_of_every_format(codec_id):
    """The frozen chunks (formats 1 and 2) decode by channel exactly as whole."""
    import numcodecs

    root = FIXTURES / "fixture" / codec_id
    configs = sorted(glob.glob(str(root / "codec.*" / "config.json")))
    assert configs, f"fixtures missing under {root}"
    for config in configs:
        codec = numcodecs.get_codec(json.loads(Path(config).read_text()))
        for chunk in sorted(Path(config).parent.glob("encoded.*.dat")):
            enc = chunk.read_bytes()
            whole = np.asarray(codec.decode(enc))
            flat = whole.reshape(whole.shape[0], -1) if whole.ndim > 1 else whole[:, None]
            channels = [flat.shape[1] - 1, 0]
            part = np.ascontiguousarray(codec.decode_channels(enc, channels))
            assert part.tobytes() == np.ascontiguousarray(flat[:, channels]).tobytes(), chunk  # NaN payloads too


@pytest.mark.zarr3
@pytest.mark.parametrize("make", ["wavpack", "flac", "lpc"])
@pytest.mark.parametrize("shards", [None, (4000, 384)])
def test_zarr3_partial_decoding(make, shards, decoded_blocks, monkeypatch):
    import zarr

    from numcodecs_ephys import flac, lpc, wavpack, zarr3

    x = np.resize(load_real("np_ultra"), (4000, 384))
    serializer = {
        "wavpack": zarr3.WavPack(block_channels=96),
        "flac": zarr3.FLAC(block_channels=96),
        "lpc": zarr3.EphysLPC(block_channels=96),
    }[make]
    a = zarr.create_array(
        zarr.storage.MemoryStore(),
        shape=x.shape,
        chunks=(2000, 384),
        shards=shards,
        dtype="int16",
        serializer=serializer,
        compressors=None,
    )
    a[:] = x

    def whole_decode(*args, **kwargs):
        raise AssertionError("the whole chunk was decoded")

    numcodecs_class = {"wavpack": wavpack.WavPack, "flac": flac.FLAC, "lpc": lpc.EphysLPC}[make]
    monkeypatch.setattr(numcodecs_class, "decode", whole_decode)
    decoded_blocks.clear()
    assert np.array_equal(a[:, [3, 200]], x[:, [3, 200]])
    assert decoded_blocks == [[0, 2], [0, 2]]  # two chunks (or inner chunks), blocks 0 and 2 of 4
    decoded_blocks.clear()
    assert np.array_equal(a.get_orthogonal_selection((slice(100, 2500), [383, 5])), x[100:2500][:, [383, 5]])
    assert np.array_equal(a[10:20, 100], x[10:20, 100])
    assert decoded_blocks == [[0, 3], [0, 3], [1]]


@pytest.mark.parametrize("make", sorted(CODECS))
def test_mutated_chunks_never_give_wrong_channels(make):
    """The mutation campaign's damage (tests/mutation_campaign.py) on partial reads: a
    ValueError, or exactly the channels of the original chunk, never other values."""
    from mutation_campaign import mutate

    codec = CODECS[make](block_channels=3)
    rng = np.random.default_rng(5)
    originals = [simulated(400, 10, seed=s) for s in range(3)]
    chunks = [codec.encode(x) for x in originals]
    expected = [codec.decode(c) for c in chunks]
    outcomes = {"ValueError": 0, "correct": 0}
    for i in range(600):
        k = i % len(chunks)
        channels = sorted({int(c) for c in rng.integers(0, 10, int(rng.integers(1, 4)))})
        try:
            got = codec.decode_channels(mutate(rng, chunks[k], chunks), channels)
        except ValueError:
            outcomes["ValueError"] += 1
            continue
        if got.shape == (400, len(channels)):
            assert np.array_equal(got, expected[k][:, channels]), (i, channels)
            outcomes["correct"] += 1
    assert outcomes["ValueError"] > 300, outcomes
