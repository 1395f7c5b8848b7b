"""Where recordings and stores live: a local path, or an fsspec URL (s3://, gs://, file://...).

A URL stays a string from the command line to fsspec: it never goes through pathlib.Path,
which reads ``s3://bucket/rec.zarr`` as the relative path ``s3:/bucket/rec.zarr``.
:class:`RemoteFile` gives a file named by a URL the few pathlib methods that the recording
readers use, so that they read a bucket as they read a disk.
"""

import posixpath
from pathlib import Path
from typing import Union


def is_url(location) -> bool:
    """True for a string with a protocol (``s3://...``, ``file:///...``), as fsspec's
    split_protocol reads it (a one-letter "protocol" is a Windows drive); False for local paths."""
    if not isinstance(location, str) or "://" not in location:
        return False
    return len(location.split("://", 1)[0]) > 1


class RemoteFile:
    """A file (or folder) named by an fsspec URL, with the pathlib.Path methods that
    sources.py uses. ``str()`` gives the URL back."""

    def __init__(self, url, fs=None):
        if fs is None:
            try:
                from fsspec.core import url_to_fs
            except ImportError:
                raise ImportError(f"{url}: URLs need fsspec: install the package's cli extra") from None
            fs, path = url_to_fs(url)
        else:
            path = fs._strip_protocol(url)
        self.fs = fs
        self.path = path.rstrip("/")  # the filesystem's own name for it (no protocol)

    def _at(self, path):
        return RemoteFile(path, self.fs)

    @property
    def url(self):
        return self.fs.unstrip_protocol(self.path)

    def __str__(self):
        return self.url

    def __repr__(self):
        return f"RemoteFile({self.url!r})"

    def __eq__(self, other):
        return isinstance(other, RemoteFile) and other.url == self.url

    def __hash__(self):
        return hash(self.url)

    name = property(lambda self: posixpath.basename(self.path))
    suffix = property(lambda self: posixpath.splitext(self.name)[1])
    stem = property(lambda self: posixpath.splitext(self.name)[0])
    parent = property(lambda self: self._at(posixpath.dirname(self.path)))

    @property
    def parents(self):
        out, p = [], self.parent
        while p.path and p.path != posixpath.dirname(p.path):
            out.append(p)
            p = p.parent
        return out

    def __truediv__(self, name):
        return self._at(posixpath.join(self.path, str(name)))

    def with_name(self, name):
        return self.parent / name

    def with_suffix(self, suffix):
        return self.parent / (self.stem + suffix)

    def resolve(self):
        return self

    def is_symlink(self):
        return False

    def exists(self):
        return self.fs.exists(self.path)

    def is_file(self):
        return self.fs.isfile(self.path)

    def is_dir(self):
        return self.fs.isdir(self.path)

    def stat(self):
        return _Stat(int(self.fs.size(self.path)))

    def read_bytes(self):
        return self.fs.cat_file(self.path)

    def read_text(self, encoding="utf-8", errors="strict"):
        return self.read_bytes().decode(encoding, errors)

    def read_range(self, start, stop):
        """Bytes [start, stop) of the file."""
        return self.fs.cat_file(self.path, start=start, end=stop)

    def relative_to_folder(self, folder):
        """This file's path relative to ``folder`` (a RemoteFile), as os.path.relpath gives."""
        return posixpath.relpath(self.path, folder.path)


class _Stat:
    def __init__(self, size):
        self.st_size = size


def location(path_or_url) -> Union[Path, RemoteFile]:
    """A local path as a Path, a URL as a RemoteFile (file:// included: it is a URL)."""
    if isinstance(path_or_url, (Path, RemoteFile)):
        return path_or_url
    if is_url(path_or_url):
        return RemoteFile(path_or_url)
    return Path(path_or_url)
