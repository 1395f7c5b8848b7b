"""The keys of a store, on a local disk or in a bucket: read (:class:`StoreKeys`), and
written in the order that keeps a store unreadable until it is complete (:class:`Output`):
every chunk first, then the chunk manifest, then the zarr metadata.

What makes a store readable is its zarr metadata, so it is written last, once every chunk
is written and checked. A local store is also written under a hidden temporary name
beside its final one and renamed when complete (it appears whole or not at all). An
object store has no rename: its chunks are written at the final URL, and until the
metadata comes, nothing there is readable.

A run that stops before the end (interrupted, or an I/O error) leaves its chunks and
``RUN_KEY``, which records what the run was writing, so that ``--resume`` can continue
it: the chunks already there are checked and only the missing ones are written.
"""

import json
import os
import shutil
from pathlib import Path

from .locations import is_url
from .manifest import StoreError

RUN_KEY = "numcodecs_ephys_run.json"  # an unfinished run's options (absent from complete stores)
# the keys whose presence makes a zarr store readable at its root (format 2, format 3)
ROOT_METADATA = (".zgroup", ".zattrs", ".zmetadata", "zarr.json")


def _pid_of(partial):
    """The process id in a temporary name '.NAME.PID.partial', or None."""
    try:
        return int(partial.name.rsplit(".", 2)[-2])
    except ValueError:
        return None


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_local(path):
    """Remove a local file, link or folder, if there is one."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def replace_local(tmp, final):
    """Put the finished output tmp at final: a folder cannot be renamed over a folder, so an
    existing final is moved aside first, and removed once tmp stands in its place."""
    if final.exists() or final.is_symlink():
        old = final.parent / f".{final.name}.{os.getpid()}.old"
        os.replace(final, old)
        os.replace(tmp, final)
        remove_local(old)
    else:
        os.replace(tmp, final)


class StoreKeys:
    """The keys of a store at ``root`` (a local folder, or a URL): bytes and stored sizes."""

    def __init__(self, root):
        self.remote = is_url(root)
        if self.remote:
            from fsspec.core import url_to_fs

            self.fs, path = url_to_fs(root)
            if "file" in self.fs.protocol:  # a file:// URL: folders as on a disk, made as keys need them
                import fsspec

                self.fs = fsspec.filesystem("file", auto_mkdir=True)
            self.root = path.rstrip("/")
        else:
            self.fs, self.root = None, str(root)

    def _path(self, key):
        return f"{self.root}/{key}" if self.remote else os.path.join(self.root, key)

    def get(self, key):
        """The stored bytes of key, or None when it is not there."""
        try:
            if self.remote:
                return self.fs.cat_file(self._path(key))
            with open(self._path(key), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def listing(self, prefix):
        """Stored size of each key under prefix (an array's name)."""
        base = self._path(prefix)
        if self.remote:
            found = self.fs.find(base, detail=True)
            return {name[len(self.root) + 1 :]: int(info["size"]) for name, info in found.items()}
        out = {}
        for folder, _, names in os.walk(base):
            for name in names:
                full = os.path.join(folder, name)
                out[os.path.relpath(full, self.root).replace(os.sep, "/")] = os.path.getsize(full)
        return out


class Output(StoreKeys):
    """Where a store is written: ``put``/``get`` chunk keys, then ``publish`` its metadata.

    Plain values only (a path or an fsspec filesystem and strings), so that dask workers
    write their chunks through a copy of it.
    """

    def __init__(self, final):
        self.final = final if is_url(final) else Path(final)
        if is_url(final):
            super().__init__(final)
        else:
            super().__init__(self.final.parent / f".{self.final.name}.{os.getpid()}.partial")

    def __str__(self):
        return str(self.final)

    # ------------------------------------------------------------ keys

    def put(self, key, data, parents=False):
        """Write key; a local key's folder is made if its parent exists (``parents``: all of
        them). Not makedirs for chunks: a store removed after a failure stays removed under
        a dask task still writing into it."""
        if self.remote:
            self.fs.pipe_file(self._path(key), bytes(data))
            return
        path = self._path(key)
        if parents:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        else:
            try:
                os.mkdir(os.path.dirname(path))
            except FileExistsError:
                pass
        with open(path, "wb") as f:
            f.write(data)

    def exists(self):
        """Anything at the final name (a complete store or something else)?"""
        if self.remote:
            return self.fs.exists(self.root)
        return self.final.exists() or self.final.is_symlink()

    def readable(self):
        """A store's root metadata at the final name."""
        if self.remote:
            return any(self.fs.exists(self._path(k)) for k in ROOT_METADATA)
        return self.exists()

    # ------------------------------------------------------------ a run

    def start(self, run, overwrite=False, resume=False, folders=()):
        """Prepare for writing chunks; ``run`` (a JSON-able dict) is what this run writes.

        With ``resume``, a leftover of an interrupted run with the same ``run`` is taken
        over (a different one is refused); without it, leftovers are removed (local) or
        refused (an object store, where another process may still be writing them).
        Returns True when a leftover was taken over.
        """
        if self.readable() and not overwrite:
            raise FileExistsError(f"{self.final} exists; pass --overwrite (overwrite=True) to replace it")
        resumed = self._take_over(run) if resume else False
        if not resumed:
            self._clear_leftovers(overwrite)
            if not self.remote:
                os.makedirs(self.root)
            self.put(RUN_KEY, json.dumps(run, sort_keys=True).encode())
        if not self.remote:
            for folder in folders:  # where the chunk keys go
                os.makedirs(self._path(folder), exist_ok=True)
        return resumed

    def _take_over(self, run):
        if self.remote:
            recorded = self.get(RUN_KEY)
            if recorded is None:
                return False
        else:
            partials = [
                p
                for p in self.final.parent.glob(f".{self.final.name}.*.partial")
                if (pid := _pid_of(p)) is not None and not _alive(pid) and (p / RUN_KEY).exists()
            ]
            if not partials:
                return False
            newest = max(partials, key=lambda p: p.stat().st_mtime)
            recorded = (newest / RUN_KEY).read_bytes()
        try:
            before = json.loads(recorded)
        except ValueError:
            before = {}
        if before != json.loads(json.dumps(run)):
            differs = sorted(k for k in set(before) | set(run) if before.get(k) != run.get(k))
            raise StoreError(
                f"{self.final}: the interrupted run wrote other data or options ({', '.join(differs)} differ); "
                "run without --resume (with --overwrite for an object store) to start again"
            )
        if not self.remote:
            os.replace(newest, self.root)
        return True

    def _clear_leftovers(self, overwrite):
        if self.remote:
            if self.fs.exists(self.root):
                if not overwrite:
                    what = "the chunks of an unfinished run" if self.get(RUN_KEY) is not None else "other objects"
                    raise FileExistsError(
                        f"{self.final} holds {what}; pass --resume to continue that run or --overwrite to replace it"
                    )
                self.fs.rm(self.root, recursive=True)
            return
        self.final.parent.mkdir(parents=True, exist_ok=True)
        for p in self.final.parent.glob(f".{self.final.name}.*.partial"):
            pid = _pid_of(p)
            if pid is not None and not _alive(pid):
                remove_local(p)
        remove_local(Path(self.root))

    def publish(self, metadata):
        """Write the zarr metadata (key -> bytes), the root's keys last, and make the store final.

        Local: the temporary folder gets the final name (replacing what was there, which
        was allowed). Object store: the run's record is removed once the store is readable.
        """
        for key in sorted(metadata, key=lambda k: (k in ROOT_METADATA, k == ".zmetadata", k)):
            self.put(key, metadata[key], parents=True)
        if self.remote:
            self.fs.rm(self._path(RUN_KEY))
            return
        os.remove(self._path(RUN_KEY))
        replace_local(Path(self.root), self.final)

    def discard(self):
        """Remove what this run wrote (a failure that resuming could not mend)."""
        if self.remote:
            if self.fs.exists(self.root):
                self.fs.rm(self.root, recursive=True)
        else:
            remove_local(Path(self.root))

    def leftover(self):
        """Where an unfinished run's chunks are kept, for messages."""
        return str(self.final) if self.remote else self.root
