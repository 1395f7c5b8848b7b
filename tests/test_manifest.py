"""No lost chunk reads as zeros: every chunk is written (all-zero ones too) and recorded in the
store's chunk manifest; open_recording, decompress and verify raise, naming the array, the
chunk and its time range, when a chunk is missing or differs; verify names every one. What
zarr itself (and so SpikeInterface) does with the same store is pinned too: zeros."""

import hashlib
import json

import numpy as np
import pytest
import zarr

from numcodecs_ephys._extension import lib
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
    with pytest.raises(
        ChunkError, match=r"chunk 5 of traces_seg0 \(samples 500-600, 0.500-0.600 s\) differs .*CRC-32C"
    ):
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


def edit_attrs(store, edit):
    """Apply edit to the store's numcodecs_ephys attribute, in .zattrs and in .zmetadata alike."""
    for name in (".zattrs", ".zmetadata"):
        doc = json.loads((store / name).read_text())
        edit((doc if name == ".zattrs" else doc["metadata"][".zattrs"])[stores.ATTRS_KEY])
        (store / name).write_text(json.dumps(doc))


def test_whole_data_checksum(tmp_path, monkeypatch):
    """Every chunk may check out and the whole still be wrong (a bug that puts chunks or columns
    together wrongly): decompress and verify compare the decoded whole with the source's CRC-32C,
    or, in a store written before stores recorded one, with its SHA1."""
    path, data = raw_recording(tmp_path)
    store = compress(path, tmp_path / "rec.zarr")
    info = stores.store_info(store)
    assert info["source_crc32c"] == f"{lib.ephys_crc32c(0, data.tobytes(), data.nbytes):08x}"
    assert info["source_sha1"] is None  # a raw file records no SHA1 of its own to compare with
    checked_chunk = stores.Recording.checked_chunk

    def one_sample_off(self, name, i):
        decoded, problem = checked_chunk(self, name, i)
        if i == 4:
            decoded = decoded.copy()
            decoded[5, 2] += 1
        return decoded, problem

    monkeypatch.setattr(stores.Recording, "checked_chunk", one_sample_off)
    out = tmp_path / "out.bin"
    for call in (lambda: stores.verify_store(store), lambda: stores.decompress_file(store, out)):
        with pytest.raises(
            stores.StoreError, match="the decoded data's CRC-32C [0-9a-f]{8} differs from the original's"
        ):
            call()
    assert not out.exists()
    sha1 = hashlib.sha1(data.tobytes()).hexdigest()
    edit_attrs(store, lambda a: (a["source"].pop("crc32c"), a["source"].update(sha1=sha1)))
    for call in (lambda: stores.verify_store(store), lambda: stores.decompress_file(store, out)):
        with pytest.raises(stores.StoreError, match="the decoded data's SHA1 [0-9a-f]{40} differs from the original's"):
            call()
    monkeypatch.undo()
    assert stores.verify_store(store)["source_sha1"] == sha1
    assert stores.decompress_file(store, out) == out and out.read_bytes() == data.tobytes()


def test_version_1_manifest_still_checked(tmp_path):
    """Stores written with manifest version 1 (a SHA-256 per chunk) open and are checked with it."""
    path, data = raw_recording(tmp_path)
    store = compress(path, tmp_path / "rec.zarr")
    doc = json.loads((store / MANIFEST_KEY).read_bytes())
    assert doc["version"] == 2 and doc["checksum"] == "crc32c"
    doc["version"], doc["checksum"] = 1, "sha256"
    for i, chunk in enumerate(doc["arrays"][stores.TRACES]["chunks"]):
        chunk[1] = hashlib.sha256(chunk_path(store, i, 2).read_bytes()).hexdigest()
    manifest = json.dumps(doc, separators=(",", ":")).encode()
    (store / MANIFEST_KEY).write_bytes(manifest)
    edit_attrs(store, lambda a: a["manifest"].update(sha256=hashlib.sha256(manifest).hexdigest()))
    assert np.array_equal(stores.open_recording(store)[:], data)
    p = chunk_path(store, 4, 2)
    raw = bytearray(p.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    p.write_bytes(bytes(raw))
    with pytest.raises(ChunkError, match=r"chunk 4 of traces_seg0 .* differs from the manifest \(SHA-256 mismatch"):
        stores.open_recording(store)[:]
    doc["checksum"] = "crc32c"  # version 1 with another checksum: not a manifest this package wrote
    manifest = json.dumps(doc, separators=(",", ":")).encode()
    (store / MANIFEST_KEY).write_bytes(manifest)
    edit_attrs(store, lambda a: a["manifest"].update(sha256=hashlib.sha256(manifest).hexdigest()))
    with pytest.raises(stores.StoreError, match="unreadable chunk manifest .*version 1 checksum 'crc32c'"):
        stores.open_recording(store)
