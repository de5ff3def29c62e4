"""Static files (an app's collected assets) on R2: what the bucket already holds, from one
listing, and how long each file may be cached. Framework-free: the Django static storages
(:mod:`r2store.django.static`) translate.
"""

from __future__ import annotations

import gzip
import hashlib
import posixpath
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from typing import IO, TYPE_CHECKING, Any

from ._mediatypes import guess_type, parse_media_type
from .keys import object_key, relative_key
from .objects import ObjectStat
from .sync import _matches

if TYPE_CHECKING:
    from .protocol import Store

__all__ = [
    "IMMUTABLE_CACHE_CONTROL",
    "SHORT_CACHE_CONTROL",
    "StaticIndex",
    "UploadQueue",
    "cache_control_for",
    "file_digest",
    "gzipped",
    "holds",
]

#: For a name that carries a hash of its content: it can never change, so a year.
IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable"
#: For any other name: a new deploy must reach browsers soon, so five minutes.
SHORT_CACHE_CONTROL = "public, max-age=300"
# Django's hashed names carry the first 12 hex digits of the content's MD5.
_HASH_DIGITS = 12
_READ_SIZE = 1024 * 1024


def file_digest(file: IO[bytes]) -> tuple[str, int]:
    """The MD5 (hex) and size of *file* from its start; it is left at its start."""
    file.seek(0)
    md5 = hashlib.md5(usedforsecurity=False)
    size = 0
    while chunk := file.read(_READ_SIZE):
        md5.update(chunk)
        size += len(chunk)
    file.seek(0)
    return md5.hexdigest(), size


# Types worth compressing: text, and the structured or font formats that are not
# compressed already (PNG, JPEG, WOFF2, video and archives are).
_COMPRESSIBLE = frozenset(
    {
        "application/javascript",
        "application/json",
        "application/wasm",
        "application/xml",
        "application/vnd.ms-fontobject",
        "font/otf",
        "font/ttf",
        "image/bmp",
        "image/svg+xml",
        "image/vnd.microsoft.icon",
        "image/x-icon",
    }
)
# Below this a file fits in one packet either way; gzip's 20-byte frame would only add.
_COMPRESS_MIN_SIZE = 256
# Kept compressed only when that saves at least 5%, as whitenoise decides: the bytes a
# client saves must pay for the time it spends decompressing.
_COMPRESS_RATIO = 0.95


def gzipped(name: str, data: bytes) -> bytes | None:
    """*data* gzip-compressed, to store with ``Content-Encoding: gzip``, when its type
    (from *name*) is worth compressing (text, JSON, SVG, fonts other than WOFF) and
    compressing saves at least 5%; else None.

    The same bytes always give the same output (no timestamp in the header, level 9),
    so a re-run can tell by the MD5 that the bucket already holds them.
    """
    media_type = parse_media_type(guess_type(name))
    if media_type is None or len(data) < _COMPRESS_MIN_SIZE:
        return None
    essence = media_type.essence
    if not (
        media_type.type == "text" or essence in _COMPRESSIBLE or essence.endswith(("+json", "+xml"))
    ):
        return None
    packed = gzip.compress(data, compresslevel=9, mtime=0)
    return packed if len(packed) <= len(data) * _COMPRESS_RATIO else None


def cache_control_for(name: str, md5: str, short: str = SHORT_CACHE_CONTROL) -> str:
    """Cache-Control for a static file: immutable when its name holds a hash of its
    content (``base.<12 hex digits of its MD5>.css``, as Django's manifest storage names
    it), else *short*.

    The hash is checked against the content, not guessed from the name's shape: a file
    that merely looks hashed is never cached for a year.
    """
    base = posixpath.basename(name)
    return IMMUTABLE_CACHE_CONTROL if f".{md5[:_HASH_DIGITS]}." in base else short


class StaticIndex:
    """What the store holds under its location, from one listing (1 request per 1,000
    keys), kept current by this process's own writes and deletes.

    Listed on first use and again once *ttl* seconds have passed, so a long-lived
    process does not answer from a listing older than that. Safe to share between threads.
    """

    def __init__(self, store: Store, *, ttl: float = 60.0) -> None:
        self._store = store
        self._ttl = ttl
        self._lock = threading.Lock()
        self._objects: dict[str, ObjectStat] = {}
        self._folders: set[str] = set()  # every key's parents: "a" and "a/b" for "a/b/c"
        self._listed_at: float | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Locks do not pickle; a copy lists again on first use.
        return {"store": self._store, "ttl": self._ttl}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["store"], ttl=state["ttl"])  # type: ignore[misc]

    def key(self, name: str) -> str:
        """*name* as listings spell it: checked and normalised by the one key normaliser."""
        location = self._store.config.location
        return relative_key(object_key(name, location), location)

    def get(self, name: str) -> ObjectStat | None:
        """The listed object under *name*, or None when there is none."""
        key = self.key(name)
        with self._lock:
            self._list_if_stale()
            return self._objects.get(key)

    def is_folder(self, name: str) -> bool:
        """Whether some listed object's key starts with *name* and a "/"."""
        key = self.key(name)
        with self._lock:
            self._list_if_stale()
            return key in self._folders

    def _list_if_stale(self) -> None:
        now = time.monotonic()
        if self._listed_at is None or now - self._listed_at > self._ttl:
            self._objects = {stat.key: stat for stat in self._store.list()}
            self._folders = set()
            for key in self._objects:
                self._add_folders(key)
            self._listed_at = now

    def _add_folders(self, key: str) -> None:
        folder = posixpath.dirname(key)
        while folder and folder not in self._folders:
            self._folders.add(folder)
            folder = posixpath.dirname(folder)

    def written(self, name: str, size: int, md5: str | None) -> None:
        """Record that *name* now holds *size* bytes whose MD5 is *md5* (None when its
        ETag is not a plain MD5, as after a multipart upload)."""
        stat = ObjectStat(
            key=self.key(name),
            size=size,
            etag=f'"{md5}"' if md5 else None,
            last_modified=datetime.now(timezone.utc),
        )
        with self._lock:
            self._objects[stat.key] = stat
            self._add_folders(stat.key)

    def forget(self, name: str) -> None:
        """Record that *name* is gone."""
        key = self.key(name)
        with self._lock:
            self._objects.pop(key, None)

    def clear(self) -> None:
        """Forget the listing: the next lookup lists again."""
        with self._lock:
            self._objects = {}
            self._folders = set()
            self._listed_at = None


def holds(stat: ObjectStat | None, file: IO[bytes], md5: str, size: int, part_size: int) -> bool:
    """Whether the object listed as *stat* holds the bytes of *file* (MD5 *md5*, *size*
    bytes): by its ETag, a plain MD5 or a multipart one (see :mod:`r2store.sync`)."""
    if stat is None or stat.size != size:
        return False
    etag = (stat.etag or "").strip('"').lower()
    if etag == md5:
        return True
    if "-" not in etag:
        return False
    try:
        return _matches(file, size, stat, part_size)
    finally:
        file.seek(0)


class UploadQueue:
    """Saves to *store* from *threads* worker threads, for a batch of small files
    (collectstatic's).

    At most *window* saves are queued or running, so memory stays bounded when the
    files come faster than they go up; two saves of one key go up in order. The first
    error a save meets is raised by the next :meth:`submit`, :meth:`drain` or
    :meth:`close`: a batch stops at its first failure instead of carrying on for
    minutes.
    """

    def __init__(self, store: Store, *, threads: int = 8, window: int = 64) -> None:
        self._store = store
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="r2store-static")
        self._room = threading.BoundedSemaphore(window)
        self._running: dict[str, Future[str]] = {}
        self._lock = threading.Lock()
        self._error: BaseException | None = None

    def submit(self, key: str, data: bytes, **options: Any) -> None:
        """Save *data* under *key* (``store.save(key, data, **options)``) in the
        background."""
        self.wait_for(key)
        self._room.acquire()
        try:
            self.check()
            future = self._pool.submit(self._store.save, key, data, **options)
        except BaseException:
            self._room.release()
            raise
        self._running[key] = future
        future.add_done_callback(self._done)

    def _done(self, future: Future[str]) -> None:
        self._room.release()
        error = None if future.cancelled() else future.exception()
        if error is not None:
            with self._lock:
                self._error = self._error or error

    def check(self) -> None:
        """Raise the first error a save met, if any."""
        with self._lock:
            error = self._error
        if error is not None:
            raise error

    def wait_for(self, key: str) -> None:
        """Wait until the save of *key* under way, if any, is done."""
        future = self._running.pop(key, None)
        if future is not None:
            future.exception()  # waits; _done records an error, raised below
        self.check()

    def drain(self) -> None:
        """Wait until every save submitted is done."""
        running, self._running = self._running, {}
        for future in running.values():
            future.exception()
        self.check()

    def close(self) -> None:
        """Cancel the saves not started, wait for the rest, and stop the threads. Raises
        nothing: call :meth:`drain` first to learn whether every save went up."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._running = {}
