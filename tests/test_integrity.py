"""Never wrong data without an error: Fortran-order chunks and zarr arrays, checksums,
WavPack's concealment, hostile headers (decoding into every layout and damaged chunks of
every codec: test_codec_contract.py; tests/mutation_campaign.py and `make sanitize` run
the random damage at scale)."""

import struct
import textwrap
import tracemalloc

import numcodecs
import numpy as np
import pytest

import numcodecs_ephys as ne
from numcodecs_ephys._extension import lib

from conftest import FIXTURES, HERE, fresh_python, simulated, unavailable
from writers import format2_array, format3_array

# every codec and filter of our own formats, lossy ones included
CODECS = [
    ne.WavPack(block_channels=4),
    ne.WavPack(bps=3, block_channels=4),
    ne.FLAC(block_channels=3),
    ne.Delta2D("time+space"),
    ne.BitTruncation(2),
    ne.LSB(0.0, 1.0),
]


def test_crc32c():
    assert lib.ephys_crc32c(0, b"123456789", 9) == 0xE3069283  # the CRC-32C check value
    data = np.random.default_rng(0).integers(0, 256, 10007, dtype=np.uint8).tobytes()
    for n in (0, 1, 7, 8, 9, 100, 767, 768, 769, 1543, 10007):
        assert lib.ephys_crc32c(0, data, n) == lib.ephys_crc32c_portable(0, data, n)
    assert lib.ephys_crc32c(lib.ephys_crc32c(0, data, 100), data[100:], 900) == lib.ephys_crc32c(0, data, 1000)


@pytest.mark.parametrize("codec", CODECS, ids=repr)
def test_decoded_chunk_keeps_the_memory_order_it_was_given(codec):
    """zarr reads a chunk's memory back in its array's order: a Fortran-order chunk decodes
    to Fortran order, so its bytes are what zarr expects."""
    x = simulated(400, 5, seed=2)
    expected = np.asarray(codec.decode(codec.encode(x)))
    for src in (np.asfortranarray(x), np.asfortranarray(x.reshape(400, 5, 1))):
        dec = np.asarray(codec.decode(codec.encode(src)))
        assert dec.flags.f_contiguous and not dec.flags.c_contiguous
        assert dec.tobytes(order="A") == np.asfortranarray(expected.reshape(src.shape)).tobytes(order="A")
    assert np.asarray(codec.decode(codec.encode(x))).flags.c_contiguous


def _zarr_cases():
    zlib = numcodecs.Zlib()
    return {
        "wavpack": (ne.WavPack(block_channels=4), None),
        "flac": (ne.FLAC(block_channels=4), None),
        "delta2d+wavpack": (ne.WavPack(), [ne.Delta2D("time+space")]),
        "lsb+flac": (ne.FLAC(), [ne.LSB(0.0, 1.0)]),
        "bittruncation+zlib": (zlib, [ne.BitTruncation(2)]),
        "delta2d+zlib": (zlib, [ne.Delta2D()]),
    }


@pytest.mark.parametrize("case", sorted(_zarr_cases()))
def test_zarr_fortran_order_arrays(tmp_path, case):
    """Format-2 arrays with order="F", zarr 2 and zarr 3 alike, read back whole and in part."""
    import zarr

    compressor, filters = _zarr_cases()[case]
    x = simulated(3000, 16, seed=3)
    expected = x
    for f in filters or ():
        expected = np.asarray(f.decode(f.encode(expected)))
    for order in "FC":
        path = str(tmp_path / f"{order}.zarr")
        format2_array(path, x, (1000, 16), compressor, filters, order=order)
        back = zarr.open_array(path, mode="r")
        np.testing.assert_array_equal(back[:], expected, err_msg=order)
        np.testing.assert_array_equal(back[500:2500, 3:11], expected[500:2500, 3:11], err_msg=order)
        if order == "F":
            try:
                import dask.array as da
            except ImportError:
                unavailable("dask is not installed")
            np.testing.assert_array_equal(da.from_zarr(path).compute(), expected)


@pytest.mark.zarr3
@pytest.mark.parametrize("order", "FC")
def test_zarr3_native_codecs_fortran_order(tmp_path, order):
    from numcodecs_ephys import zarr3 as z3

    x = simulated(3000, 16, seed=4)
    for serializer, filters in [(z3.WavPack(), [z3.Delta2D()]), (z3.LSB(serializer=z3.FLAC()), []), (z3.WavPack(), [])]:
        path = tmp_path / f"{order}{serializer.codec_name}{len(filters)}.zarr"
        z = format3_array(path, x, (1000, 16), serializer, filters, config={"order": order})
        np.testing.assert_array_equal(z[:], x)
        np.testing.assert_array_equal(z[100:2900, 5:7], x[100:2900, 5:7])


# ---- checksums ----


def _payload_flip(enc, offset_from_end):
    b = bytearray(np.asarray(enc).tobytes())
    b[len(b) - offset_from_end] ^= 0x10
    return bytes(b)


@pytest.mark.parametrize("codec", CODECS[3:], ids=repr)
def test_filters_detect_a_flipped_sample(codec):
    x = simulated(300, 6, seed=5)
    enc = codec.encode(x)
    for at in (1, x.nbytes // 2):
        with pytest.raises(ValueError, match="checksum"):
            codec.decode(_payload_flip(enc, at))


def test_checksum_of_a_lossy_chunk_is_of_what_decoding_gives():
    x = simulated(2000, 8, seed=6)
    for codec in (ne.WavPack(bps=2.25), ne.BitTruncation(5)):
        dec = np.asarray(codec.decode(codec.encode(x)))
        assert not np.array_equal(dec, x)  # lossy, and verified against its own output


def test_fixtures_hold_both_format_versions():
    """The frozen fixtures keep chunks of format 1 (0.1.0) and 2: each must stay decodable."""
    folders = {
        "container": [FIXTURES / "fixture" / n for n in ("ephys_wavpack", "ephys_flac")],
        "filters": [FIXTURES / "fixture" / n for n in ("ephys_delta2d", "ephys_bittruncation", "ephys_lsb")],
    }
    for kind, paths in folders.items():
        versions = {p.read_bytes()[4] for path in paths for p in path.rglob("encoded.*.dat")}
        assert versions == {1, 2}, kind


# ---- WavPack: what libwavpack would conceal ----


def _wv_blocks(buf, start=0):
    """(offset, size) of each WavPack block from start."""
    blocks, pos = [], start
    while pos < len(buf):
        assert buf[pos : pos + 4] == b"wvpk"
        size = struct.unpack_from("<I", buf, pos + 4)[0] + 8
        blocks.append((pos, size))
        pos += size
    return blocks


def _damaged_crc_fields(enc):
    """Copies of enc with the samples-CRC field of a non-first block of a set set to FF FF FF FF."""
    buf = bytes(enc)
    blocks = _wv_blocks(buf, buf.index(b"wvpk"))
    for pos, _ in [blocks[1], blocks[len(blocks) // 2], blocks[-1]]:
        b = bytearray(buf)
        b[pos + 28 : pos + 32] = b"\xff\xff\xff\xff"
        yield bytes(b)


@pytest.mark.parametrize(
    "codec", [ne.WavPack(), ne.WavPack(bps=3), ne.WavPackNumcodecsFormat(), ne.WavPackNumcodecsFormat(bps=3)], ids=repr
)
def test_wavpack_damaged_block_crc_is_an_error(codec):
    x = simulated(2000, 96, seed=7)
    for damaged in _damaged_crc_fields(codec.encode(x)):
        with pytest.raises(ValueError):
            codec.decode(damaged)


def test_wavpack_hdf5_damaged_block_is_an_error(tmp_path):
    try:
        import h5py

        import numcodecs_ephys.hdf5 as eh5
    except ImportError:
        unavailable("h5py is not installed")
    x = simulated(2000, 96, seed=8)
    with h5py.File(tmp_path / "x.h5", "w") as f:
        dset = f.create_dataset("x", data=x, chunks=x.shape, **eh5.WavPackH5())
        _, chunk = dset.id.read_direct_chunk((0, 0))
        for damaged in _damaged_crc_fields(chunk):
            dset.id.write_direct_chunk((0, 0), damaged)
            with pytest.raises(OSError):
                dset[()]


def test_wavpack_legacy_takes_exactly_one_stream():
    x = simulated(1000, 6, seed=9)
    legacy = ne.WavPackNumcodecsFormat()
    stream = legacy.encode(x)
    blocks = _wv_blocks(stream)
    first, second = (stream[p : p + n] for p, n in blocks[:2])
    rest = stream[blocks[2][0] :]
    for bad in [
        ne.WavPack().encode(x),  # our container: not a bare stream
        stream + b"\0" * 8,  # trailing bytes
        b"junk" + stream,  # bytes before the first block
        first + second + second + rest,  # a duplicated block
        second + first + rest,  # swapped blocks
        stream[: blocks[-1][0]],
    ]:  # a lost block
        with pytest.raises(ValueError):
            legacy.decode(bad)
    np.testing.assert_array_equal(legacy.decode(stream), x)


# ---- hostile headers: refused before the output is allocated ----


def _run_limited(code, limit_gib=2):
    """Run code in a child whose address space is limited: an allocation of what a hostile
    header claims fails there with MemoryError instead of succeeding lazily."""
    limit = f"import resource\nresource.setrlimit(resource.RLIMIT_AS, ({limit_gib} << 30, {limit_gib} << 30))\n"
    return fresh_python(limit + textwrap.dedent(code), cwd=HERE)


def test_hostile_headers_are_refused_before_allocating():
    out = _run_limited("""
        import struct
        import numpy as np
        import numcodecs_ephys as ne

        payload = bytes(1 << 20)
        def container(codec_id, version=1):
            # format 1 (no header checksum): 2^32 - 1 samples of 2 int16 channels (16 GiB) in 1 MiB
            head = b"NCEP" + bytes([version, codec_id, 2, 2]) + struct.pack("<IIII", 2, 1, 2**32 - 1, 2)
            return head + struct.pack("<I", len(payload)) + payload
        streaminfo = struct.pack(">HH", 4096, 4096) + bytes(6) + bytes([0x0b, 0xb8, 0x02, 0xf1]) \\
            + (6_900_000_000 & 0xFFFFFFFF).to_bytes(4, "big") + bytes(16)
        legacy_flac = b"fLaC" + bytes([0x80, 0, 0, 34]) + streaminfo + payload
        for codec, chunk in [(ne.WavPack(), container(1)), (ne.FLAC(), container(2)),
                             (ne.WavPackNumcodecsFormat(), payload), (ne.FLACNumcodecsFormat(), legacy_flac)]:
            for out in (None, np.empty((1000, 2), "int16")):
                try:
                    codec.decode(chunk, out=out)
                except ValueError as exc:
                    print(type(codec).__name__, "ValueError", exc)
                else:
                    raise SystemExit(f"{codec!r} decoded a hostile chunk")
        # a legitimate chunk that compresses ~10,000x still decodes
        zeros = np.zeros((3_000_000, 2), "int16")
        for codec in (ne.WavPack(), ne.FLAC()):
            chunk = codec.encode(zeros)
            assert zeros.nbytes / len(chunk) > 1000, len(chunk)
            assert not codec.decode(chunk).any()
        print("ok")
    """)
    assert out.strip().endswith("ok")
    assert out.count("ValueError") == 8


@pytest.mark.parametrize("codec", [CODECS[0], CODECS[2]], ids=repr)
def test_decoding_into_out_allocates_nothing_like_the_chunk(codec):
    x = simulated(30000, 32, seed=10)
    chunk, out = codec.encode(x), np.empty_like(x)
    tracemalloc.start()
    codec.decode(chunk, out=out)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    np.testing.assert_array_equal(out, x)
    assert peak < x.nbytes / 20, peak
