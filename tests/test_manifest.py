"""No lost chunk reads as zeros: every chunk is written (all-zero ones too) and recorded in the
store's chunk manifest; open_recording, decompress and verify raise, naming the array, the
chunk and its time range, when a chunk is missing or differs; verify names every one. What
zarr itself (and so SpikeInterface) does with the same store is pinned too: zeros."""

import json

import numpy as np
import pytest
import zarr

from numcodecs_ephys.recordings import cli, stores
from numcodecs_ephys.recordings.manifest import MANIFEST_KEY, ChunkError

from conftest import simulated

RATE = 1000.0
CHANNELS = 6
CHUNK = 0.1  # s: 100 samples per chunk
ZARR3 = int(zarr.__version__.split(".")[0]) >= 3
FORMATS = [2, 3] if ZARR3 else [2]


def raw_recording(folder, seconds=1.05):
    """A raw int16 recording whose chunk 3 (0.3-0.4 s) is all zeros; the last chunk is partial."""
    data = simulated(int(seconds * RATE), CHANNELS, seed=4)
    data[300:400] = 0
    path = folder / "rec.bin"
    data.tofile(path)
    return path, data


def compress(path, store, *extra):
    args = ["compress", path, "-o", store, "-n", CHANNELS, "-s", RATE, "-d", "int16", "--chunk-duration", CHUNK]
    assert cli.main([str(a) for a in args + ["-q", *extra]]) == 0
    return store


def chunk_path(store, i, zarr_format):
    return store / stores.TRACES / (f"{i}.0" if zarr_format == 2 else f"c/{i}/0")


@pytest.mark.parametrize("zarr_format", FORMATS)
def test_every_chunk_written_and_recorded(tmp_path, zarr_format):
    path, data = raw_recording(tmp_path)
    store = compress(path, tmp_path / "rec.zarr", "--zarr-format", zarr_format)
    assert all(chunk_path(store, i, zarr_format).is_file() for i in range(11))  # the zero chunk 3 too
    manifest = json.loads((store / MANIFEST_KEY).read_bytes())
    chunks = manifest["arrays"][stores.TRACES]["chunks"]
    assert len(chunks) == 11 and manifest["arrays"][stores.TRACES]["n_samples"] == 1050
    assert [size for size, _ in chunks] == [chunk_path(store, i, zarr_format).stat().st_size for i in range(11)]
    info = stores.store_info(store)
    assert info["chunk_manifest"] and info["stored_bytes"] == sum(size for size, _ in chunks)
    # the small arrays: every chunk there too (offsets are all zeros)
    assert np.array_equal(stores.open_recording(store)[:], data)


@pytest.mark.parametrize("zarr_format", FORMATS)
def test_missing_chunk_is_an_error_everywhere(tmp_path, capsys, zarr_format):
    path, data = raw_recording(tmp_path)
    store = compress(path, tmp_path / "rec.zarr", "--zarr-format", zarr_format)
    chunk_path(store, 3, zarr_format).unlink()  # the all-zero chunk: zeros would even look right
    chunk_path(store, 7, zarr_format).unlink()
    # zarr (and so SpikeInterface) fills a missing chunk with the fill value, without a word
    assert np.array_equal(zarr.open_group(str(store), mode="r")[stores.TRACES][700:800], np.zeros((100, CHANNELS)))
    with pytest.raises(ChunkError) as e:
        stores.open_recording(store)
    message = str(e.value)
    assert "2 missing or damaged chunks" in message
    assert "chunk 3 of traces_seg0 (samples 300-400, 0.300-0.400 s) is missing" in message
    assert "chunk 7 of traces_seg0 (samples 700-800, 0.700-0.800 s) is missing" in message
    assert cli.main(["decompress", str(store), "-o", str(tmp_path / "back.bin"), "-q"]) == 1
    assert "chunk 7 of traces_seg0" in capsys.readouterr().err and not (tmp_path / "back.bin").exists()
    assert cli.main(["verify", str(store), "-q"]) == 1
    err = capsys.readouterr().err
    assert "chunk 3 of traces_seg0" in err and "chunk 7 of traces_seg0" in err


def test_damaged_chunks_all_named_by_verify(tmp_path, capsys):
    path, data = raw_recording(tmp_path)
    store = compress(path, tmp_path / "rec.zarr")
    rec = stores.open_recording(store)
    for i in (1, 5):  # the same size, other bytes: only the checksum tells
        p = chunk_path(store, i, 2)
        raw = bytearray(p.read_bytes())
        raw[len(raw) // 2] ^= 0x01
        p.write_bytes(bytes(raw))
    p = chunk_path(store, 9, 2)
    p.write_bytes(p.read_bytes()[:-3])  # cut short
    assert np.array_equal(rec[:100], data[:100])  # the intact chunks read
    with pytest.raises(ChunkError, match=r"chunk 5 of traces_seg0 \(samples 500-600, 0.500-0.600 s\) differs"):
        rec[450:550]
    with pytest.raises(ChunkError, match="chunk 9 of traces_seg0 .* has [0-9]+ bytes, the manifest records"):
        stores.open_recording(store)
    assert cli.main(["verify", str(store), "-q"]) == 1
    err = capsys.readouterr().err
    assert "3 missing or damaged chunks" in err
    assert all(f"chunk {i} of traces_seg0" in err for i in (1, 5, 9))


def test_manifest_itself_checked(tmp_path):
    path, _ = raw_recording(tmp_path)
    store = compress(path, tmp_path / "rec.zarr")
    manifest = store / MANIFEST_KEY
    text = manifest.read_bytes()
    manifest.write_bytes(text.replace(b'"chunk_len":100', b'"chunk_len":101'))
    with pytest.raises(stores.StoreError, match="chunk manifest chunk_manifest.json differs"):
        stores.open_recording(store)
    manifest.unlink()
    with pytest.raises(stores.StoreError, match="chunk manifest chunk_manifest.json is missing"):
        stores.open_recording(store)


def test_store_without_manifest_still_checks_presence(tmp_path):
    """A store written before manifests: every chunk must be there (sizes and checksums unknown)."""
    path, data = raw_recording(tmp_path)
    store = compress(path, tmp_path / "rec.zarr")
    (store / MANIFEST_KEY).unlink()
    for name in (".zattrs", ".zmetadata"):
        doc = json.loads((store / name).read_text())
        attrs = doc if name == ".zattrs" else doc["metadata"][".zattrs"]
        del attrs[stores.ATTRS_KEY]["manifest"]
        (store / name).write_text(json.dumps(doc))
    assert np.array_equal(stores.open_recording(store)[:], data)
    chunk_path(store, 2, 2).unlink()
    with pytest.raises(ChunkError, match=r"chunk 2 of traces_seg0 \(samples 200-300, 0.200-0.300 s\) is missing"):
        stores.open_recording(store)
