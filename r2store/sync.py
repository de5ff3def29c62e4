"""Upload a local folder (an app's existing media) to R2, skipping what is already there.

Framework-free: the Django ``r2store_sync`` command and the ``r2store`` CLI
are thin layers over :func:`sync_directory`.

How a file is known to be unchanged, without one request per file: the remote
prefix is listed once (1 request per 1,000 keys), and a file is skipped when
the listed object has the same size and an ETag equal to the file's MD5.
R2 (since June 2023, like S3) gives a single PUT the MD5 of the content as
its ETag, and a multipart upload ``md5(md5(part1) + md5(part2) + ...)-N``;
for the latter the file is hashed in parts of the size this store uploads
with. An object uploaded with another part size (by another tool) does not
match, so it is uploaded once more, after which it matches: never a skip of
a file that differs, at worst one extra upload. Size and mtime alone were
rejected: a restored backup or a ``git checkout`` changes mtimes but not
content, and an edit that keeps the size would go unnoticed.

Symlinks are followed only when they resolve to a path inside the folder
(a file reached through a link is uploaded under the link's name, as a web
server serving the folder would serve it); links that lead outside it,
broken links and directory loops are reported as failures, never followed.
The walk resolves every link; uploads then open the file it found by its
resolved path without following a link, and read it only if it is still the
same regular file (same device and inode): a file swapped for a link (to
``/etc/passwd``, say) or replaced between the walk and the upload is reported
as changed, not uploaded, and a re-run picks up what is there then.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import math
import os
import stat
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

import attrs

from ._localfiles import RESERVED as LOCAL_STORE_FOLDER
from ._progress import CountingReader
from .config import R2Config
from .errors import AccessDeniedError, InvalidKeyError, R2StoreError
from .keys import object_key
from .objects import ObjectStat
from .store import part_size_for

if TYPE_CHECKING:
    from .protocol import Store

__all__ = ["ByteProgressCallback", "ProgressCallback", "SyncReport", "sync_directory"]

#: ``progress(done, total, path)``: *done* of *total* local files are settled
#: (uploaded, skipped or failed); *path* is the one just settled.
ProgressCallback = Callable[[int, int, str], None]
#: ``byte_progress(done, total)``: *done* of the *total* bytes of the local files are
#: settled, counting the bytes of uploads in progress as they are read from disk.
ByteProgressCallback = Callable[[int, int], None]

# Read size for hashing: big enough that hashlib (which releases the GIL) dominates.
_READ_SIZE = 1024 * 1024
# R2's DeleteObjects limit.
_DELETE_BATCH = 1000
# Opening a walked file: no link followed at the last step (the walk resolved links
# already), and no wait if a FIFO took the file's place (opening one blocks until a
# writer comes). Windows has neither flag; the device-and-inode check still holds there.
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | _O_NONBLOCK | getattr(os, "O_BINARY", 0)
_CHANGED = "changed since the folder was walked: not uploaded"
# R2Store's default part size, for stores that have none (see sync_directory).
_DEFAULT_PART_SIZE = cast(int, attrs.fields(R2Config).multipart_chunksize.default)


@attrs.frozen(kw_only=True)
class SyncReport:
    """What :func:`sync_directory` did -- or, with ``dry_run``, would do.

    Keys are the object keys (under the prefix). ``failed`` pairs a path
    relative to the local folder (``/``-separated) -- or, for a failed
    deletion, the remote key -- with what went wrong.
    """

    #: Keys written (or that would be written), in key order.
    uploaded: tuple[str, ...] = ()
    #: Keys whose remote object already matched the local file.
    skipped: tuple[str, ...] = ()
    #: Remote keys removed (or that would be removed) because no local file has their name.
    deleted: tuple[str, ...] = ()
    #: ``(path, message)`` for every file or key that could not be handled.
    failed: tuple[tuple[str, str], ...] = ()
    #: Bytes in the files uploaded (or that would be).
    bytes_uploaded: int = 0
    #: Whether this was a dry run, which wrote and deleted nothing.
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.failed

    def summary(self) -> str:
        """One line for people: what was (or would be) uploaded, skipped, deleted, failed."""
        from .diagnostics import format_size

        uploaded, deleted = (
            ("Would upload", "would delete") if self.dry_run else ("Uploaded", "deleted")
        )
        line = (
            f"{uploaded} {len(self.uploaded)} file(s) ({format_size(self.bytes_uploaded)}), "
            f"skipped {len(self.skipped)} unchanged, {deleted} {len(self.deleted)}"
        )
        if self.failed:
            line += f", {len(self.failed)} failed"
        return line + "."


@attrs.frozen
class _LocalFile:
    """A regular file found under the folder, with the key it goes to."""

    path: str  # relative, "/"-separated: what reports show
    full_path: str  # on disk, for open(): a link's resolved target, so open() follows none
    key: str
    # What the walk found at full_path: the upload reads only this very file.
    device: int
    inode: int
    size: int  # when walked: for progress only


def sync_directory(
    store: Store,
    local_dir: str | os.PathLike[str],
    prefix: str = "",
    *,
    dry_run: bool = False,
    delete: bool = False,
    keep: Iterable[str] = (),
    workers: int = 8,
    progress: ProgressCallback | None = None,
    byte_progress: ByteProgressCallback | None = None,
) -> SyncReport:
    """Upload every file under *local_dir* to *store*, under *prefix*, unless already there.

    A file's key is its path relative to *local_dir* with ``/`` separators,
    after *prefix*. Files whose remote object matches (same size and MD5,
    see the module docs) are skipped; the rest are uploaded by *workers*
    threads, streamed from disk, each written whole or not at all -- so an
    interrupted sync is finished by running it again.

    With *delete*, remote objects under *prefix* that no local file names
    are deleted afterwards -- except below a directory that could not be
    read or a link that was not followed, whose contents are unknown, and at
    or below the keys in *keep* (another owner's files, such as static files
    in the same bucket). With
    *dry_run*, nothing is written or deleted and the report says what would
    be. *progress* is called from the calling thread as each file settles;
    *byte_progress* also from the upload threads, as big files go up.

    Per-file problems (names the key rules refuse, unreadable files, failed
    uploads) are collected in :attr:`SyncReport.failed`; errors that would
    fail every file -- the listing failing, R2 denying writes -- are raised.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    root = os.fspath(local_dir)
    if not Path(root).is_dir():
        raise NotADirectoryError(f"not a directory: {root!r}")
    base = prefix.strip("/")
    location = store.config.location
    if base:
        object_key(base, location)  # a bad prefix is the caller's error: raise now
    list_prefix = f"{base}/" if base else ""

    walk = _walk(root, base, location)
    walk.protected.update(key.strip("/") for key in keep)
    remote = {stat.key: stat for stat in store.list(list_prefix)}
    failed = list(walk.failed)
    uploaded: list[str] = []
    skipped: list[str] = []
    bytes_uploaded = 0
    total = len(walk.files)
    # The part size of this store's multipart uploads, which their ETags depend on; a store
    # without one (a LocalStore, whose ETags are plain MD5s) gets R2Store's default.
    part_size: int = getattr(store.config, "multipart_chunksize", _DEFAULT_PART_SIZE)

    done = 0
    bytes_total = sum(item.size for item in walk.files)
    bytes_done = 0
    bytes_read: dict[str, int] = {}  # of each file being uploaded, by key
    lock = threading.Lock()

    def count(item: _LocalFile, n: int) -> None:
        """Add *n* bytes read from *item* to the bytes settled (upload threads call this)."""
        nonlocal bytes_done
        assert byte_progress is not None
        with lock:
            bytes_read[item.key] = bytes_read.get(item.key, 0) + n
            bytes_done += n
            now = bytes_done
        byte_progress(now, bytes_total)

    def settle(item: _LocalFile, outcome: tuple[bool, int] | Exception) -> None:
        """Record what became of *item*: (uploaded?, size), or the error it met."""
        nonlocal done, bytes_uploaded
        if byte_progress is not None:
            # The whole file is settled now, however much of it was counted as read.
            count(item, item.size - bytes_read.get(item.key, 0))
        if isinstance(outcome, Exception):
            failed.append((item.path, _describe(outcome)))
        elif outcome[0]:
            uploaded.append(item.key)
            bytes_uploaded += outcome[1]
        else:
            skipped.append(item.key)
        done += 1
        if progress is not None:
            progress(done, total, item.path)

    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="r2store-sync")
    try:
        futures = {}
        for item in walk.files:
            listed = remote.get(item.key)
            if listed is not None and listed.size <= _READ_SIZE:
                # Small and listed: checking it here costs less than a hop to a worker
                # thread and back (about 75 against 250 µs a file); the pool uploads.
                try:
                    if _unchanged(item, listed, part_size):
                        settle(item, (False, listed.size))
                        continue
                except OSError as exc:
                    settle(item, exc)
                    continue
                listed = None  # changed: upload it without checking again
            counted = functools.partial(count, item) if byte_progress is not None else None
            futures[pool.submit(_sync_file, store, item, listed, part_size, dry_run, counted)] = (
                item
            )
        for future in as_completed(futures):
            try:
                outcome: tuple[bool, int] | Exception = future.result()
            except AccessDeniedError:
                # A token without write access fails every file alike: stop now.
                raise
            except (R2StoreError, OSError) as exc:
                outcome = exc
            settle(futures[future], outcome)
    finally:
        # On an error or Ctrl-C, start no more uploads; those running finish whole.
        pool.shutdown(wait=True, cancel_futures=True)

    deleted: list[str] = []
    if delete:
        extra = sorted(
            key for key in remote if key not in walk.names and not walk.is_protected(key)
        )
        deleted, delete_failed = _delete(store, extra, dry_run)
        failed += delete_failed

    return SyncReport(
        uploaded=tuple(sorted(uploaded)),
        skipped=tuple(sorted(skipped)),
        deleted=tuple(deleted),
        failed=tuple(sorted(failed)),
        bytes_uploaded=bytes_uploaded,
        dry_run=dry_run,
    )


def _sync_file(
    store: Store,
    item: _LocalFile,
    remote: ObjectStat | None,
    part_size: int,
    dry_run: bool,
    counted: Callable[[int], None] | None = None,
) -> tuple[bool, int]:
    """Upload one file unless *remote* matches it; return (uploaded?, size). *counted* is
    told the bytes read for the upload."""
    with _open_walked(item) as file:
        size = os.fstat(file.fileno()).st_size
        if remote is not None and _matches(file, size, remote, part_size):
            return False, size
        if not dry_run:
            file.seek(0)
            body = file if counted is None else CountingReader(file, counted)
            store.save(item.key, body, overwrite=True)
    return True, size


def _unchanged(item: _LocalFile, remote: ObjectStat, part_size: int) -> bool:
    """Whether the object listed as *remote* holds the bytes of the file *item*."""
    with _open_walked(item) as file:
        return _matches(file, os.fstat(file.fileno()).st_size, remote, part_size)


def _open_walked(item: _LocalFile) -> IO[bytes]:
    """Open *item* for reading if it is still the regular file the walk found; else OSError.

    The folder may change between the walk and the upload -- a file swapped for a
    link to a secret outside it, or a directory on the way swapped for one: the path
    is opened without following a link at its end, and the file opened must have the
    walked device and inode, whatever the path leads to now.
    """
    try:
        fd = os.open(item.full_path, _OPEN_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a link where the walk found a file
            raise OSError(_CHANGED) from exc
        raise
    file = os.fdopen(fd, "rb")  # closes fd from here on
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (
            item.device,
            item.inode,
        ):
            raise OSError(_CHANGED)
        if _O_NONBLOCK:
            os.set_blocking(fd, True)  # a regular file: read it in the ordinary way
    except BaseException:
        file.close()
        raise
    return file


def _matches(file: IO[bytes], size: int, remote: ObjectStat, chunksize: int) -> bool:
    """Whether the object listed as *remote* holds the bytes of *file* (see the module docs)."""
    if remote.size != size:
        return False  # no need to read the file
    etag = (remote.etag or "").strip('"').lower()
    digest, dash, count = etag.partition("-")
    if not dash:
        return _md5(file, size).hex() == etag
    part_size = part_size_for(size, chunksize)
    # isascii too: isdigit() takes "\u00b2" and other digits int() refuses.
    if not (count.isascii() and count.isdigit()) or int(count) != math.ceil(size / part_size):
        return False  # uploaded in parts of another size: no way to compare, so upload
    md5s = b"".join(_md5(file, min(part_size, size - start)) for start in range(0, size, part_size))
    return hashlib.md5(md5s, usedforsecurity=False).hexdigest() == digest


def _md5(file: IO[bytes], length: int) -> bytes:
    """The MD5 digest of the next *length* bytes of *file*, read in chunks."""
    md5 = hashlib.md5(usedforsecurity=False)
    remaining = length
    while remaining > 0:
        chunk = file.read(min(_READ_SIZE, remaining))
        if not chunk:
            break  # the file shrank as we read: the digest will not match, so it is uploaded
        md5.update(chunk)
        remaining -= len(chunk)
    return md5.digest()


@attrs.define
class _Walk:
    """What walking the folder found."""

    #: Regular files to consider, with their keys.
    files: list[_LocalFile] = attrs.Factory(list)
    #: Keys of every local name, uploaded or not: --delete never removes their objects.
    names: set[str] = attrs.Factory(set)
    #: Keys of entries not followed (unreadable directories, links out of the folder):
    #: nothing at or below them is deleted, as their contents are unknown.
    protected: set[str] = attrs.Factory(set)
    failed: list[tuple[str, str]] = attrs.Factory(list)

    def refuse(self, path: str, key: str, message: str) -> None:
        self.failed.append((path, message))
        self.protected.add(key)

    def is_protected(self, key: str) -> bool:
        """Whether *key* is one of the protected keys or lies below one."""
        if "" in self.protected:
            return True
        parts = key.split("/")
        return any("/".join(parts[:n]) in self.protected for n in range(1, len(parts) + 1))


def _walk(root: str, base: str, location: str) -> _Walk:
    """Walk *root* (explicitly, not recursively: depth is not bounded by the stack)."""
    found = _Walk()
    real_root = os.path.realpath(root)
    # (directory on disk, its relative path, real paths of it and its ancestors).
    stack: list[tuple[str, str, frozenset[str]]] = [(root, "", frozenset({real_root}))]
    while stack:
        directory, rel_dir, ancestors = stack.pop()
        try:
            with os.scandir(directory) as scan:
                entries = sorted(scan, key=lambda entry: entry.name, reverse=True)
        except OSError as exc:
            found.refuse(rel_dir or ".", _join(base, rel_dir), f"not read: {_describe(exc)}")
            continue
        for entry in entries:
            if not rel_dir and entry.name == LOCAL_STORE_FOLDER:
                # A folder a LocalStore kept (local mode): its metadata and lock are
                # bookkeeping, not media.
                continue
            path = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            key = _join(base, path)
            target = entry.path
            try:
                if entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    if not _within(target, real_root):
                        found.refuse(path, key, "not followed: a symlink to outside the folder")
                        continue
                    if not Path(target).exists():
                        found.refuse(path, key, "not followed: a broken symlink")
                        continue
                if entry.is_dir():  # follows (vetted) symlinks
                    real = os.path.realpath(entry.path)
                    if real in ancestors:
                        found.refuse(path, key, "not followed: a symlink loop")
                        continue
                    stack.append((entry.path, path, ancestors | {real}))
                    continue
                found.names.add(key)
                if not entry.is_file():
                    # Opening a FIFO would block forever; sockets and devices are not media.
                    found.failed.append((path, "not a regular file"))
                    continue
                walked = os.stat(target, follow_symlinks=False)  # noqa: PTH116 (a Path costs ~15 µs)
            except OSError as exc:
                found.refuse(path, key, _describe(exc))
                continue
            try:
                object_key(key, location)
            except InvalidKeyError as exc:
                found.failed.append((path, str(exc)))
                continue
            found.files.append(
                _LocalFile(
                    path=path,
                    full_path=target,
                    key=key,
                    device=walked.st_dev,
                    inode=walked.st_ino,
                    size=walked.st_size,
                )
            )
    found.files.sort(key=lambda item: item.key)
    return found


def _join(base: str, path: str) -> str:
    if base and path:
        return f"{base}/{path}"
    return base or path


def _within(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:  # different drives (Windows)
        return False


def _delete(
    store: Store, keys: Iterable[str], dry_run: bool
) -> tuple[list[str], list[tuple[str, str]]]:
    """Delete *keys* in batches; return the keys deleted and (key, message) failures."""
    location = store.config.location
    deletable: list[str] = []
    failed: list[tuple[str, str]] = []
    for key in keys:
        try:
            object_key(key, location)
        except InvalidKeyError as exc:
            # Put there by another tool: the store refuses to address such a key.
            failed.append((key, f"not deleted: {exc}"))
        else:
            deletable.append(key)
    if dry_run:
        return deletable, failed
    deleted: list[str] = []
    for start in range(0, len(deletable), _DELETE_BATCH):
        batch = deletable[start : start + _DELETE_BATCH]
        try:
            store.delete_many(batch)
        except AccessDeniedError:
            raise
        except R2StoreError as exc:
            failed += [(key, f"maybe not deleted: {exc}") for key in batch]
        else:
            deleted += batch
    return deleted, failed


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror and not isinstance(exc, R2StoreError):
        return exc.strerror
    return str(exc) or type(exc).__name__
