"""LocalStore: the whole store API on a folder, for development and tests ("local mode").

Local development
-----------------
Leave ``USE_R2`` unset and :func:`r2store.store_from_env` gives a
:class:`LocalStore` on ``R2_LOCAL_ROOT`` (default: ``media`` under the current
directory)::

    store = r2store.store_from_env()        # LocalStore unless USE_R2=true
    store.save("avatars/ada.png", data)     # -> ./media/avatars/ada.png
    store.url("avatars/ada.png")            # -> /media-proxy/avatars/ada.png

It needs no bucket, credentials or boto3. Keys, errors, URLs and the media
proxy behave as with :class:`~r2store.R2Store`: the same key normaliser,
the same header checks, byte-identical ``url()`` and ``proxy_url()``, and the
same ``open()`` with ranges and conditions, so the same app code and the same
proxy serve it. What it cannot do is give a presigned URL to R2: with
``R2_PROXY_SIGNING_KEY`` set, ``presigned_url()`` gives a signed media proxy
URL for GET, HEAD and PUT (the proxy then takes the upload into the folder, so
direct uploads work); otherwise it raises and says so. The files are plain
files that any tool can read. POSIX only (it relies on ``O_NOFOLLOW``,
``*at()`` calls and ``flock``).

On-disk layout
--------------
``root/<location>/<key>``
    the object's bytes, as a plain file.
``root/.r2store/meta/<location>/<key>``
    its sidecar: JSON with the ETag (the MD5 of the content, quoted, as S3 gives
    for one PutObject; computed while writing), the headers given to ``save``,
    the user metadata, and the size and ``st_mtime_ns`` of the file it
    describes. A sidecar whose size or mtime differ from the file's is not the
    file's (a file put there by another tool): such a file is served with a
    guessed type and an ETag made of its mtime and size.
``root/.r2store/tmp/``
    files being written, under random names: ``os.link`` (create) or
    ``os.replace`` (overwrite) puts one in place, so a reader never sees a
    partial file, and a failed write removes its temporary file.
``root/.r2store/lock``
    held exclusively (``flock``) for the moment a write publishes its file and
    writes its sidecar, or a delete removes them; readers hold it shared while
    they open a file and read its sidecar, so they never see one without the
    other, nor a sidecar half written.

``.r2store`` is not listed and cannot be a key's first segment (writes
refuse it; reads find nothing). A write does not ``fsync``: local mode is for
development, where a power cut may lose the last writes (never half a file).

Safety: every path is opened one segment at a time with ``O_NOFOLLOW``
relative to the folder above, so a symlink inside the root is never followed
(it reads as a missing object, and a write through it is refused as an
:class:`~r2store.errors.InvalidKeyError`); symlinks are not listed. A folder
cannot also be a file: storing ``a/b`` while ``a`` is a file (or ``a`` while
``a/`` holds files) is refused as an InvalidKeyError, though R2 allows it.
"""

from __future__ import annotations

import builtins
import io
import os
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from ._folders import (
    RefusedError,
    holds_a_file,
    open_dir,
    segments,
    sorted_entries,
)
from ._localfiles import RESERVED, LocalFiles
from .errors import (
    InvalidKeyError,
    NotModifiedError,
    ObjectNotFoundError,
    PreconditionFailedError,
    R2StoreError,
    RangeNotSatisfiableError,
)
from .keys import object_key, object_prefix, relative_key
from .localconfig import LocalConfig
from .objects import FileBody, ObjectReader, ObjectStat, write_headers
from .urls import URLBuilder
from .writer import ObjectWriter

if TYPE_CHECKING:
    from .store import Content

__all__ = ["LocalStore"]

_PRESIGN_METHODS = frozenset({"GET", "HEAD", "PUT"})


class LocalStore:
    """Object operations and URLs on a folder, with :class:`~r2store.R2Store`'s API.

    Safe to share between threads and processes on one folder. See the module
    docstring for the on-disk layout and what differs from R2.
    """

    #: Its presigned PUT URLs point at the media proxy, so the proxy takes signed PUTs
    #: for it (an R2Store's point at R2, and its proxy refuses every PUT).
    uploads_through_proxy = True

    def __init__(self, config: LocalConfig) -> None:
        self.config = config
        self.root = config.root
        self._urls = URLBuilder(config)
        self._files = LocalFiles(config.root)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> LocalStore:
        """A store configured from the environment; see :meth:`LocalConfig.from_env`."""
        return cls(LocalConfig.from_env(environ, **overrides))

    def __repr__(self) -> str:
        return f"<LocalStore root={self.root!r}>"

    def close(self) -> None:
        """Nothing to release: every operation opens and closes its own files."""

    def __enter__(self) -> LocalStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        return {"config": self.config}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["config"])  # type: ignore[misc]

    # -- keys and paths -------------------------------------------------------

    def _key(self, key: str) -> str:
        """The full key for a write; the reserved folder is refused."""
        full = object_key(key, self.config.location)
        if full.split("/", 1)[0] == RESERVED:
            raise InvalidKeyError(f"keys under {RESERVED}/ are kept for the local store: {key!r}")
        return full

    def _read_key(self, key: str) -> str:
        """The full key for a read: under the reserved folder, nothing is found."""
        full = object_key(key, self.config.location)
        if full.split("/", 1)[0] == RESERVED:
            raise ObjectNotFoundError(f"no object for key {key!r}")
        return full

    # -- URLs -----------------------------------------------------------------

    def url(self, key: str) -> str:
        """The URL pages should use for *key*, by ``config.url_mode``, as R2Store's."""
        mode = self.config.url_mode
        if mode == "proxy":
            return self._urls.proxy(key)
        if mode == "public":
            return self._urls.public(key)
        return self.presigned_url(key)

    def public_url(self, key: str) -> str:
        """The object's URL under the configured public URL (ValueError without one)."""
        return self._urls.public(key)

    def proxy_url(self, key: str, *, expires_in: int | None = None) -> str:
        """The object's URL on the app's media proxy; signed when ``proxy_signing_key`` is set."""
        return self._urls.proxy(key, expires_in=expires_in)

    def presigned_url(
        self,
        key: str,
        *,
        expires_in: int | None = None,
        method: str = "GET",
        content_type: str | None = None,
        content_disposition: str | None = None,
        content_length: int | None = None,
        create_only: bool = False,
    ) -> str:
        """A signed media proxy URL for GET, HEAD or PUT: local mode's stand-in for a
        presigned URL.

        A PUT URL uploads through the media proxy into the folder, with what R2 signs
        into a presigned PUT: *content_type* (the type the upload must send and is
        stored with), *content_length* (the exact size) and *create_only* (it never
        overwrites, so it uploads once). Direct uploads so work in local mode.

        Raises :class:`~r2store.errors.R2StoreError` for what local mode cannot do:
        no ``proxy_signing_key``, DELETE, or setting the response's headers (or a PUT's
        ``content_disposition``).
        """
        method = method.upper()
        if method not in _PRESIGN_METHODS:
            raise R2StoreError(
                f"local mode cannot presign {method}: there is no R2 endpoint to send it to; "
                "delete through the store instead"
            )
        if method == "PUT" and content_disposition is not None:
            raise R2StoreError("local mode cannot presign a PUT's content_disposition")
        if method != "PUT" and (content_type is not None or content_disposition is not None):
            raise R2StoreError(
                "local mode cannot presign response headers (content_type, "
                "content_disposition): the media proxy serves the stored ones"
            )
        if method != "PUT" and (content_length is not None or create_only):
            raise ValueError("content_length and create_only are for PUT only")
        if self.config.proxy_signing_key is None:
            raise R2StoreError(
                "local mode cannot make presigned URLs without R2_PROXY_SIGNING_KEY: set it "
                "to get signed media proxy URLs instead, or use proxy_url()"
            )
        lifetime = self.config.url_expires_in if expires_in is None else expires_in
        if type(lifetime) is not int or not 1 <= lifetime <= 604800:
            raise ValueError(f"expires_in must be whole seconds from 1 to 604800, got {lifetime!r}")
        if method == "PUT":
            return self._urls.proxy_put(
                key,
                expires_in=lifetime,
                content_type=content_type,
                content_length=content_length,
                create_only=create_only,
            )
        return self._urls.proxy(key, expires_in=lifetime)

    # -- reading --------------------------------------------------------------

    def open(
        self,
        key: str,
        *,
        range: str | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        if_modified_since: datetime | None = None,
        if_unmodified_since: datetime | None = None,
    ) -> ObjectReader:
        """Open the file for reading: an :class:`~r2store.objects.ObjectReader` that can
        seek, with R2Store.open's range and conditions and their errors."""
        from . import _http

        full = self._read_key(key)
        with self._files.lock(exclusive=False):
            fd, info = self._files.open_file(key, full)
            try:
                stat = self._files.stat(key, full, info)
            except BaseException:
                os.close(fd)
                raise
        file = io.FileIO(fd, "rb", closefd=True)
        try:
            headers: dict[str, str] = {}
            for name, value in (("if-match", if_match), ("if-none-match", if_none_match)):
                if value is not None:
                    headers[name] = value
            for name, date in (
                ("if-modified-since", if_modified_since),
                ("if-unmodified-since", if_unmodified_since),
            ):
                if date is not None:
                    headers[name] = _http.format_http_date(date)
            status = _http.evaluate_preconditions("GET", headers, stat.etag, stat.last_modified)
            if status == 304:
                raise NotModifiedError(
                    f"not modified for key {key!r}",
                    etag=stat.etag,
                    last_modified=stat.last_modified,
                    cache_control=stat.cache_control,
                )
            if status == 412:
                raise PreconditionFailedError(f"precondition failed for key {key!r}")
            # A malformed Range is ignored (the whole object, 200), as S3 does.
            byte_range = _http.parse_range(range) if range is not None else None
            if byte_range is None:
                return ObjectReader(key, FileBody(file, 0, stat.size), stat)
            span = byte_range.resolve(stat.size)
            if span is None:
                raise RangeNotSatisfiableError(
                    f"range not satisfiable for key {key!r}", size=stat.size
                )
            first, last = span
            length = last - first + 1
            return ObjectReader(
                key,
                FileBody(file, first, length),
                _evolve_size(stat, length),
                content_range=_http.content_range(first, last, stat.size),
            )
        except BaseException:
            file.close()
            raise

    def read(self, key: str) -> bytes:
        """The file's whole content."""
        with self.open(key) as reader:
            return reader.read()

    def stat(self, key: str) -> ObjectStat:
        """The object's metadata, as saved."""
        full = self._read_key(key)
        with self._files.lock(exclusive=False):
            info = self._files.lstat(key, full)
            return self._files.stat(key, full, info)

    def exists(self, key: str) -> bool:
        """Whether a file exists under *key*."""
        try:
            self.stat(key)
        except ObjectNotFoundError:
            return False
        return True

    def list(self, prefix: str = "", *, page_size: int = 1000) -> Iterator[ObjectStat]:
        """Every object whose key starts with *prefix*, in key order (UTF-8 bytes, as R2).

        *page_size* is accepted for R2Store's sake; a folder has no pages.
        """
        location = self.config.location
        full_prefix = object_prefix(prefix, location)
        folder, _, start = full_prefix.rpartition("/")
        for full, _ in self._files.walk(folder, start):
            key = relative_key(full, location)
            # Again under the lock: the file may have been replaced since the walk saw it.
            with self._files.lock(exclusive=False):
                try:
                    stat = self._files.stat(key, full, self._files.lstat(key, full), headers=False)
                except ObjectNotFoundError:
                    continue  # deleted since
            yield stat

    def listdir(self, prefix: str = "") -> tuple[builtins.list[str], builtins.list[str]]:
        """The "directories" and file names directly under *prefix*, as R2Store's:
        folders holding no file (at any depth) are not "directories"."""
        location = self.config.location
        base = object_prefix(prefix.rstrip("/") + "/" if prefix.strip("/") else "", location)
        dirs: builtins.list[str] = []
        files: builtins.list[str] = []
        try:
            root = self._files.root_fd()
        except FileNotFoundError:
            return dirs, files
        try:
            try:
                fd = open_dir(root, segments(base.rstrip("/")))
            except (RefusedError, FileNotFoundError):
                return dirs, files
            try:
                for entry in sorted_entries(fd):
                    if not base and entry.name == RESERVED:
                        continue
                    if entry.is_file(follow_symlinks=False):
                        files.append(entry.name)
                    elif entry.is_dir(follow_symlinks=False) and holds_a_file(fd, entry.name):
                        dirs.append(entry.name)
            finally:
                os.close(fd)
        finally:
            os.close(root)
        return dirs, files

    # -- writing --------------------------------------------------------------

    def save(
        self,
        key: str,
        content: Content,
        *,
        content_type: str | None = None,
        overwrite: bool = False,
        metadata: Mapping[str, str] | None = None,
        cache_control: str | None = None,
        content_disposition: str | None = None,
        content_encoding: str | None = None,
    ) -> str:
        """Store *content* under *key* and return the key.

        With ``overwrite=False`` (the default) the write is an atomic create: if
        the key exists, or another writer gets there first, nothing is written
        and :class:`~r2store.errors.ObjectExistsError` is raised. File objects
        are read from their current position. A reader never sees a partial
        file, and a failed write leaves nothing behind.
        """
        full = self._key(key)
        headers = self._write_headers(
            key, content_type, metadata, cache_control, content_disposition, content_encoding
        )
        return self._files.write(key, full, content, headers=headers, overwrite=overwrite)

    def open_write(
        self,
        key: str,
        *,
        content_type: str | None = None,
        overwrite: bool = False,
        metadata: Mapping[str, str] | None = None,
        cache_control: str | None = None,
        content_disposition: str | None = None,
    ) -> ObjectWriter:
        """A writable binary file; closing it stores what was written under *key*, with
        :meth:`save`'s guarantees; leaving a ``with`` block on an exception stores nothing."""
        full = self._key(key)
        headers = self._write_headers(
            key, content_type, metadata, cache_control, content_disposition, None
        )
        return ObjectWriter(
            key, partial(self._files.write, key, full, headers=headers, overwrite=overwrite)
        )

    def _write_headers(
        self,
        key: str,
        content_type: str | None,
        metadata: Mapping[str, str] | None,
        cache_control: str | None,
        content_disposition: str | None,
        content_encoding: str | None,
    ) -> dict[str, Any]:
        """What a write stores beside the bytes, checked before anything is written;
        ``cache_control`` defaults to the configuration's, as on R2."""
        return write_headers(
            key,
            content_type=content_type,
            metadata=metadata,
            cache_control=cache_control or self.config.cache_control,
            content_disposition=content_disposition,
            content_encoding=content_encoding,
        )

    def delete(self, key: str) -> None:
        """Delete the file and its sidecar; a missing key is not an error."""
        self._files.delete(self._read_key_or_none(key))

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete many files; missing keys are not errors. Every key is checked first."""
        for full in [self._read_key_or_none(key) for key in keys]:
            self._files.delete(full)

    def _read_key_or_none(self, key: str) -> str | None:
        try:
            return self._read_key(key)
        except ObjectNotFoundError:
            return None

    def copy(self, source: str, destination: str) -> None:
        """Copy a file (content and metadata) to another key, replacing what is there."""
        full = self._key(destination)
        with self.open(source) as reader:
            stat = reader.stat
            headers = write_headers(
                destination,
                content_type=stat.content_type,
                metadata=stat.metadata,
                cache_control=stat.cache_control,
                content_disposition=stat.content_disposition,
                content_encoding=stat.content_encoding,
            )
            self._files.write(destination, full, reader, headers=headers, overwrite=True)


def _evolve_size(stat: ObjectStat, size: int) -> ObjectStat:
    import attrs

    return attrs.evolve(stat, size=size)
