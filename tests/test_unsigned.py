"""Unsigned samples (uint8/uint16/uint32; Intan recordings reach SpikeInterface as uint16):
every block codec stores them losslessly as the signed type of their width with the top
bit flipped, and the chunk header says so (EPHYS_CHUNK_UNSIGNED, csrc/chunk.h)."""

import struct

import numpy as np
import pytest
from mutation_campaign import layouts, reseal

import numcodecs_ephys as ne
from numcodecs_ephys._extension import lib

from conftest import require, simulated, unavailable
from writers import format2_array, format3_array, read_back

UNSIGNED = ("uint8", "uint16", "uint32")
FLAGS_OFFSET = 16  # csrc/chunk.h


def codecs():
    return {
        "wavpack": ne.WavPack(block_channels=4),
        "flac": ne.FLAC(block_channels=4),
        "lpc": ne.EphysLPC(block_channels=4),
    }


def takes(codec, dtype):
    if isinstance(codec, ne.FLAC) and np.dtype(dtype).itemsize * 8 > lib.ephys_flac_max_bits_per_sample():
        return False  # libFLAC < 1.4 codes at most 24-bit samples
    return True


def intan_like(dtype, n_samples=700, n_channels=10, seed=0):
    """A correlated signal around the middle of the unsigned range (as Intan's uint16), with
    0, the maximum and the values either side of the flipped bit in every channel."""
    dtype = np.dtype(dtype)
    top = np.iinfo(dtype).max
    mid = top // 2 + 1
    std = {1: 12.0, 2: 40.0, 4: 3000.0}[dtype.itemsize]
    x = simulated(n_samples, n_channels, seed=seed, dtype="float64", std=std) + mid
    x = np.clip(np.round(x), 0, top).astype(dtype)
    for c in range(n_channels):
        x[10 + c, c], x[20 + c, c], x[30 + c, c], x[40 + c, c] = 0, top, mid - 1, mid
    x[100:110, 0] = 0  # a rail at each end of the range
    x[200:210, 1] = top
    return x


def codec_taking(name, dtype):
    """The codec, which must code dtype (a libFLAC without 32-bit samples fails in CI)."""
    codec = codecs()[name]
    if not takes(codec, dtype):
        unavailable(f"this libFLAC does not code {dtype}")
    return codec


@pytest.mark.parametrize("dtype", UNSIGNED)
@pytest.mark.parametrize("name", ["wavpack", "flac", "lpc"])
def test_round_trip_every_layout(name, dtype):
    codec = codec_taking(name, dtype)
    x = intan_like(dtype)
    for lname, arr in layouts(x):
        enc = codec.encode(arr)
        dec = np.asarray(codec.decode(enc))
        assert dec.dtype == x.dtype and np.array_equal(dec, x), lname
        for oname, out in layouts(np.zeros_like(x)):
            codec.decode(enc, out=out)
            assert np.array_equal(out, x), (lname, oname)


@pytest.mark.parametrize("dtype", UNSIGNED)
@pytest.mark.parametrize("name", ["wavpack", "flac", "lpc"])
def test_round_trip_shapes(name, dtype):
    codec = codec_taking(name, dtype)
    x = intan_like(dtype, 300, 12)
    for arr in (
        x[:, 0],
        x.reshape(300, 3, 4),
        x[:0],
        np.full((50, 3), np.iinfo(dtype).max, dtype),
        np.zeros((50, 3), dtype),
    ):
        dec = np.asarray(codec.decode(codec.encode(arr)))
        assert dec.dtype == arr.dtype and dec.shape == arr.shape and np.array_equal(dec, arr)


@pytest.mark.parametrize("name", ["wavpack", "flac", "lpc"])
def test_streams_are_those_of_the_flipped_signed_samples(name):
    """The codecs code the unsigned signal shifted into the signed range: the payload is the
    signed chunk's byte for byte; the header differs in its flags and checksums only."""
    codec = codecs()[name]
    x = intan_like("uint16")
    unsigned, signed = codec.encode(x), codec.encode((x ^ np.uint16(0x8000)).view("int16"))
    n_blocks = struct.unpack_from("<I", unsigned, 12)[0]
    header = 20 + 4 * x.ndim + 8 * n_blocks + 4
    assert len(unsigned) == len(signed) and unsigned[header:] == signed[header:]
    assert unsigned[6] == signed[6] == lib.EPHYS_DTYPE_INT16
    assert struct.unpack_from("<I", unsigned, FLAGS_OFFSET)[0] == lib.EPHYS_CHUNK_UNSIGNED
    assert struct.unpack_from("<I", signed, FLAGS_OFFSET)[0] == 0
    fortran = codec.encode(np.asfortranarray(x))
    assert struct.unpack_from("<I", fortran, FLAGS_OFFSET)[0] == lib.EPHYS_CHUNK_UNSIGNED | lib.EPHYS_CHUNK_FORTRAN


@pytest.mark.parametrize(
    "codec",
    [ne.WavPack(bps=3, block_channels=4), ne.EphysLPC(max_error=3, block_channels=4)],
    ids=["wavpack_hybrid", "lpc_near_lossless"],
)
def test_lossy_modes_decode_what_the_signed_samples_decode_to(codec):
    x = intan_like("uint16")
    dec = np.asarray(codec.decode(codec.encode(x)))  # the block checksums hold
    dec_signed = np.asarray(codec.decode(codec.encode((x ^ np.uint16(0x8000)).view("int16"))))
    assert dec.dtype == np.uint16
    assert np.array_equal(dec, dec_signed.view("uint16") ^ np.uint16(0x8000))
    if isinstance(codec, ne.EphysLPC):
        assert np.abs(dec.astype(np.int64) - x).max() <= 3


@pytest.mark.parametrize("name", ["wavpack", "flac", "lpc"])
def test_decode_some_channels(name):
    codec = codecs()[name]
    x = intan_like("uint16", 400, 10)
    enc = codec.encode(x)
    channels = [9, 0, 5, 5, -1]
    got = codec.decode_channels(enc, channels)
    assert got.dtype == np.uint16 and np.array_equal(got, x[:, channels])
    sel = (slice(3, 50), np.array([1, 8]))
    got = codec.decode_selection(enc, sel)
    assert got.dtype == np.uint16 and np.array_equal(got, x[sel])


def _with_flags(enc, flags, resealed):
    b = bytearray(enc)
    b[FLAGS_OFFSET : FLAGS_OFFSET + 4] = struct.pack("<I", flags)
    return bytes(reseal(b) if resealed else b)


@pytest.mark.parametrize("name", ["wavpack", "flac", "lpc"])
def test_unknown_flags_are_refused(name):
    """A flag this version does not know (a newer writer's) is refused, never ignored; the
    same bytes with a stale header checksum are damage."""
    codec = codecs()[name]
    x = simulated(200, 6)
    enc = codec.encode(x)
    for bit in range(2, 32):
        with pytest.raises(ValueError, match="newer numcodecs-ephys"):
            codec.decode(_with_flags(enc, 1 << bit, resealed=True))
        with pytest.raises(ValueError, match="newer numcodecs-ephys"):
            codec.decode_channels(_with_flags(enc, 1 << bit, resealed=True), [0])
    with pytest.raises(ValueError, match="header is corrupted"):
        codec.decode(_with_flags(enc, 4, resealed=False))


@pytest.mark.parametrize("name", ["wavpack", "flac", "lpc"])
def test_a_forged_unsigned_flag_fails_the_checksums(name):
    """Setting or clearing the flag (with a valid header checksum) flips every decoded sample:
    the block checksums, of the samples as decoded, refuse it."""
    codec = codecs()[name]
    signed, unsigned = simulated(200, 6), intan_like("uint16", 200, 6)
    for enc, flags in ((codec.encode(signed), lib.EPHYS_CHUNK_UNSIGNED), (codec.encode(unsigned), 0)):
        with pytest.raises(ValueError, match="checksum"):
            codec.decode(_with_flags(enc, flags, resealed=True))


def test_unsigned_float_chunks_are_refused():
    enc = ne.WavPack().encode(np.zeros((50, 2), "float32"))
    with pytest.raises(ValueError, match="header is corrupted"):
        ne.WavPack().decode(_with_flags(enc, lib.EPHYS_CHUNK_UNSIGNED, resealed=True))


@pytest.mark.parametrize("codec", [ne.WavPack(), ne.FLAC(), ne.EphysLPC()], ids=["wavpack", "flac", "lpc"])
@pytest.mark.parametrize("dtype", ["uint64", "int64", "float64", "float16"])
def test_other_dtypes_refused(codec, dtype):
    if isinstance(codec, ne.EphysLPC) and dtype == "float64":  # EphysLPC codes floats (test_lpc_float.py)
        assert codec.decode(codec.encode(np.zeros((10, 2), dtype))).dtype == np.float64
        return
    with pytest.raises(ValueError):
        codec.encode(np.zeros((10, 2), dtype))


@pytest.mark.parametrize("codec", [ne.WavPackLegacy(), ne.FLACLegacy()], ids=["wavpack_legacy", "flac_legacy"])
def test_the_peers_formats_refuse_unsigned(codec):
    """A bare WavPack stream or FLAC file has no place to say the samples were unsigned."""
    with pytest.raises(ValueError, match="supports dtypes"):
        codec.encode(np.zeros((10, 2), "uint16"))


def test_zarr2_numcodecs_arrays(tmp_path):
    """zarr 2 (or zarr 3's format-2 arrays): the numcodecs classes as compressors."""
    require("zarr")
    x = intan_like("uint16", 2000, 40)
    for codec in codecs().values():
        format2_array(tmp_path / f"{codec.codec_id}.zarr", x, (600, 16), codec)
        got = read_back(
            tmp_path,
            """
            import sys, numpy as np, zarr
            np.savez(sys.argv[1], x=zarr.open_array(sys.argv[2], mode="r")[:])
            """,
            tmp_path / f"{codec.codec_id}.zarr",
        )["x"]
        assert got.dtype == x.dtype and np.array_equal(got, x), codec


@pytest.mark.zarr3
@pytest.mark.parametrize("dtype", UNSIGNED)
def test_zarr3_serializers(tmp_path, dtype):
    zarr = require("zarr")
    if int(zarr.__version__.split(".")[0]) < 3:
        pytest.fail(f"zarr {zarr.__version__} in the zarr 3 environment")
    from numcodecs_ephys import zarr3 as z3

    x = intan_like(dtype, 1200, 20)
    for serializer in (z3.WavPack(block_channels=4), z3.FLAC(block_channels=4), z3.EphysLPC(block_channels=4)):
        if not takes(serializer.numcodecs_codec, dtype):
            continue
        format3_array(tmp_path / f"{serializer.codec_name}.zarr", x, (500, 20), serializer)
        z = zarr.open_array(str(tmp_path / f"{serializer.codec_name}.zarr"), mode="r")
        assert z.dtype == x.dtype and np.array_equal(z[:], x), serializer
        assert np.array_equal(z[:, [2, 17]], x[:, [2, 17]])  # partial decoding: a few channel blocks
    with pytest.raises(ValueError, match="supports dtypes"):
        zarr.create_array(
            str(tmp_path / "legacy.zarr"),
            shape=x.shape,
            chunks=(500, 2),
            dtype=dtype,
            serializer=z3.WavPackLegacy(),
            compressors=None,
        )


@pytest.mark.parametrize("dtype", UNSIGNED)
def test_hdf5_filters(tmp_path, dtype):
    h5py = require("h5py")
    import numcodecs_ephys.hdf5 as eh5

    x = intan_like(dtype, 900, 12)
    chunks = (400, 8)  # edge chunks in both axes
    for flt in (eh5.WavPackH5(block_channels=4), eh5.FLACH5(block_channels=4), eh5.LPCH5(block_channels=4)):
        if not takes(flt.codec(), dtype):
            continue
        path = tmp_path / f"{type(flt).__name__}.h5"
        with h5py.File(path, "w") as f:
            f.create_dataset("x", data=x, chunks=chunks, **flt)
        with h5py.File(path, "r") as f:
            dset = f["x"]
            assert dset.dtype == x.dtype and np.array_equal(dset[()], x), flt
            _, raw = dset.id.read_direct_chunk((0, 0))
            assert bytes(raw) == flt.codec().encode(x[:400, :8]), flt  # the numcodecs chunk


@pytest.mark.zarr2  # SpikeInterface writes zarr on the zarr 2 stack only
def test_spikeinterface_uint16_recording(tmp_path):
    """An Intan-like uint16 recording saved by SpikeInterface and loaded back."""
    si = require("spikeinterface")
    x = intan_like("uint16", 3000, 16)
    rec = si.NumpyRecording(x, sampling_frequency=30000.0)
    out = tmp_path / "rec.zarr"
    rec.save(format="zarr", folder=out, compressor=ne.WavPack(num_threads=1), chunk_size=1000, progress_bar=False)
    got = read_back(
        tmp_path,
        """
        import sys, numpy as np
        import spikeinterface as si
        np.savez(sys.argv[1], traces=si.load(sys.argv[2]).get_traces())
        """,
        out,
    )["traces"]
    assert got.dtype == np.uint16 and np.array_equal(got, x)


def test_hdf5_plugin_defaults_are_the_python_defaults(tmp_path):
    """A writer that gives only some options (h5repack -f UD=58736,0,1,2) gets the rest from
    the plugin's C defaults: they must be the Python classes' (block_channels included)."""
    h5py = require("h5py")
    import numcodecs_ephys.hdf5 as eh5

    x = intan_like("uint16", 100, 4)
    with h5py.File(tmp_path / "d.h5", "w") as f:
        for cls in (eh5.WavPackH5, eh5.FLACH5, eh5.LPCH5):
            first = cls().filter_options[:1]
            dset = f.create_dataset(
                cls.__name__, data=x, chunks=(50, 4), compression=cls.filter_id, compression_opts=first
            )
            stored = tuple(dset._filters[str(cls.filter_id)])
            assert stored[: len(cls().filter_options)] == cls().filter_options, cls
            assert cls.from_cd_values(stored).codec() == cls().codec()
            assert np.array_equal(dset[()], x)
