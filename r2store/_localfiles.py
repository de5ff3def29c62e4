"""A LocalStore's folder on disk: the files, their sidecars, the temporary files and the
lock, laid out as :mod:`r2store.localstore` describes ("On-disk layout").

:class:`~r2store.localstore.LocalStore` decides what an operation means (keys, URLs,
conditions, ranges, headers); :class:`LocalFiles` does it on disk: it publishes a write
atomically with its sidecar, reads a file with the sidecar that is its own, lists and
deletes, every path opened through :mod:`r2store._folders`, never following a symlink.
"""

from __future__ import annotations

import errno
import io
import os
import stat as stat_module
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._folders import (
    CREATE_FLAGS,
    FILE_FLAGS,
    REWRITE_FLAGS,
    RefusedError,
    check_not_a_folder,
    open_dir,
    remove_empty,
    segments,
    walk_fd,
    write_all,
)
from .errors import InvalidKeyError, ObjectExistsError, ObjectNotFoundError
from .objects import ObjectStat

if TYPE_CHECKING:
    from .store import Content

__all__ = ["RESERVED", "LocalFiles"]

#: The folder under the root that holds sidecars, temporary files and the lock.
RESERVED = ".r2store"
_WRITE_CHUNK = 1024 * 1024
_SIDECAR_VERSION = 1


class LocalFiles:
    """The files under *root*: objects, their sidecars and the store-wide lock.

    Safe to share between threads and processes on one folder, as LocalStore is.
    """

    def __init__(self, root: str) -> None:
        self.root = root
        # Made once: building a Path on every read and write shows in a profile of save().
        self._lock_path = str(Path(root, RESERVED, "lock"))

    def root_fd(self, *, create: bool = False) -> int:
        # The root itself is configuration, trusted: a symlinked root is followed.
        try:
            return os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            if not create:
                raise
        # Made on the first write only: a mkdir on every write costs a syscall each.
        Path(self.root).mkdir(parents=True, exist_ok=True)
        return os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    @contextmanager
    def lock(self, *, exclusive: bool) -> Iterator[None]:
        """The store-wide lock (see :mod:`r2store.localstore`); a root that no LocalStore has
        written to has no lock and nothing to be consistent with."""
        import fcntl  # on first use: POSIX only

        path = self._lock_path
        if exclusive:
            flags = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC
            try:
                # Without O_CREAT first: the file is there after the first write, and a
                # failed lookup (a missing .r2store/) is the one case that needs mkdir.
                fd = os.open(path, flags)
            except FileNotFoundError:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, flags | os.O_CREAT, 0o666)
        else:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except FileNotFoundError:
                yield
                return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # releases the lock

    def write(
        self, key: str, full: str, content: Content, *, headers: dict[str, Any], overwrite: bool
    ) -> str:
        import hashlib  # on first use: its OpenSSL binding is slow to load
        import json

        from .upload import _read_exactly

        if isinstance(content, (bytes, bytearray, memoryview)):
            data: bytes | None = bytes(content)
        elif isinstance(content, io.TextIOBase) or not hasattr(content, "read"):
            raise TypeError(f"content must be bytes or a binary file object, not {type(content)}")
        else:
            data = None
        root = self.root_fd(create=True)
        try:
            tmp = open_dir(root, [RESERVED, "tmp"], create=True)
        except BaseException:
            os.close(root)
            raise
        data_name = f"{os.urandom(8).hex()}.data"
        try:
            digest = hashlib.md5(usedforsecurity=False)
            fd = os.open(data_name, CREATE_FLAGS, 0o666, dir_fd=tmp)
            try:
                # os.write, not a file object: one write call per chunk and no buffer.
                if data is not None:
                    digest.update(data)
                    write_all(fd, data)
                else:
                    while chunk := _read_exactly(content, _WRITE_CHUNK):  # type: ignore[arg-type]
                        digest.update(chunk)
                        write_all(fd, chunk)
                info = os.fstat(fd)
            finally:
                os.close(fd)
            sidecar = {
                "version": _SIDECAR_VERSION,
                "size": info.st_size,
                "mtime_ns": info.st_mtime_ns,
                "etag": f'"{digest.hexdigest()}"',
                "content_type": headers.get("ContentType"),
                "cache_control": headers.get("CacheControl"),
                "content_disposition": headers.get("ContentDisposition"),
                "content_encoding": headers.get("ContentEncoding"),
                "metadata": headers.get("Metadata") or {},
            }
            # json's default encoder: dumps() with any option builds a new encoder each call.
            meta = json.dumps(sidecar).encode()
            self._publish(key, full, root, tmp, data_name, meta, overwrite=overwrite)
        finally:
            with suppress(FileNotFoundError):
                os.unlink(data_name, dir_fd=tmp)
            os.close(tmp)
            os.close(root)
        return key

    def _publish(
        self,
        key: str,
        full: str,
        root: int,
        tmp: int,
        data_name: str,
        meta: bytes,
        *,
        overwrite: bool,
    ) -> None:
        """Put the written file in place and write its sidecar *meta*, under the exclusive
        lock: readers hold the lock shared, so they see both or neither. The sidecar is
        written in place, not renamed into it: under the lock no reader sees it half
        written, and a crash mid-write leaves a sidecar that is not the file's (read as
        none), as a crash between the file and a renamed sidecar would."""
        *parents, name = segments(full)
        with self.lock(exclusive=True):
            try:
                folder = open_dir(root, parents, create=True)
            except RefusedError:
                raise InvalidKeyError(
                    f"cannot store {key!r}: a folder on its path is a file or a symlink"
                ) from None
            try:
                meta_folder = open_dir(root, [RESERVED, "meta", *parents], create=True)
                try:
                    if overwrite:
                        check_not_a_folder(folder, name, key)
                        os.replace(data_name, name, src_dir_fd=tmp, dst_dir_fd=folder)
                    else:
                        try:
                            # Atomic: exactly one of many concurrent creates wins.
                            os.link(
                                data_name,
                                name,
                                src_dir_fd=tmp,
                                dst_dir_fd=folder,
                                follow_symlinks=False,
                            )
                        except FileExistsError:
                            check_not_a_folder(folder, name, key)
                            raise ObjectExistsError(
                                f"an object already exists for key {key!r}"
                            ) from None
                    fd = os.open(name, REWRITE_FLAGS, 0o666, dir_fd=meta_folder)
                    try:
                        write_all(fd, meta)
                    finally:
                        os.close(fd)
                finally:
                    os.close(meta_folder)
            finally:
                os.close(folder)

    def delete(self, full: str | None) -> None:
        if full is None:
            return
        *parents, name = segments(full)
        try:
            root = self.root_fd()
        except FileNotFoundError:
            return
        try:
            with self.lock(exclusive=True):
                try:
                    folder = open_dir(root, parents)
                except (RefusedError, FileNotFoundError):
                    return
                try:
                    info = os.stat(name, dir_fd=folder, follow_symlinks=False)
                    if not stat_module.S_ISREG(info.st_mode):
                        return  # a folder or a symlink is no object
                    os.unlink(name, dir_fd=folder)
                except FileNotFoundError:
                    return
                finally:
                    os.close(folder)
                with suppress(FileNotFoundError, RefusedError):
                    meta = open_dir(root, [RESERVED, "meta", *parents])
                    try:
                        with suppress(FileNotFoundError):
                            os.unlink(name, dir_fd=meta)
                    finally:
                        os.close(meta)
                # R2 has no folders: one that holds nothing more goes with its last file.
                remove_empty(root, parents)
                remove_empty(root, [RESERVED, "meta", *parents], keep=2)
        finally:
            os.close(root)

    def open_file(self, key: str, full: str) -> tuple[int, os.stat_result]:
        """An open descriptor of the regular file for *full*, and its stat."""
        *parents, name = segments(full)
        try:
            root = self.root_fd()
        except FileNotFoundError:
            raise ObjectNotFoundError(f"no object for key {key!r}") from None
        try:
            folder = open_dir(root, parents)
            try:
                fd = os.open(name, FILE_FLAGS, dir_fd=folder)
            finally:
                os.close(folder)
        except (RefusedError, FileNotFoundError, NotADirectoryError):
            raise ObjectNotFoundError(f"no object for key {key!r}") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # the file itself is a symlink: never followed
                raise ObjectNotFoundError(f"no object for key {key!r}") from None
            raise
        finally:
            os.close(root)
        info = os.fstat(fd)
        if not stat_module.S_ISREG(info.st_mode):
            os.close(fd)
            raise ObjectNotFoundError(f"no object for key {key!r}")
        return fd, info

    def lstat(self, key: str, full: str) -> os.stat_result:
        """The stat of the regular file for *full*, symlinks never followed."""
        *parents, name = segments(full)
        try:
            root = self.root_fd()
        except FileNotFoundError:
            raise ObjectNotFoundError(f"no object for key {key!r}") from None
        try:
            folder = open_dir(root, parents)
            try:
                info = os.stat(name, dir_fd=folder, follow_symlinks=False)
            finally:
                os.close(folder)
        except (RefusedError, FileNotFoundError, NotADirectoryError):
            raise ObjectNotFoundError(f"no object for key {key!r}") from None
        finally:
            os.close(root)
        if not stat_module.S_ISREG(info.st_mode):
            raise ObjectNotFoundError(f"no object for key {key!r}")
        return info

    def stat(
        self, key: str, full: str, info: os.stat_result, *, headers: bool = True
    ) -> ObjectStat:
        """The ObjectStat of the file *info* describes, from its sidecar when the sidecar
        is the file's; *headers* False leaves out what a listing does not give."""
        sidecar = self._sidecar(full, info)
        modified = datetime.fromtimestamp(info.st_mtime_ns // 1_000_000_000, tz=timezone.utc)
        if sidecar is None:
            if not headers:
                return ObjectStat(
                    key=key, size=info.st_size, etag=_file_etag(info), last_modified=modified
                )
            from ._mediatypes import guess_type

            return ObjectStat(
                key=key,
                size=info.st_size,
                etag=_file_etag(info),
                last_modified=modified,
                content_type=guess_type(key),
            )
        if not headers:
            return ObjectStat(
                key=key, size=info.st_size, etag=sidecar["etag"], last_modified=modified
            )
        return ObjectStat(
            key=key,
            size=info.st_size,
            etag=sidecar["etag"],
            last_modified=modified,
            content_type=sidecar.get("content_type"),
            cache_control=sidecar.get("cache_control"),
            content_disposition=sidecar.get("content_disposition"),
            content_encoding=sidecar.get("content_encoding"),
            metadata=dict(sidecar.get("metadata") or {}),
        )

    def _sidecar(self, full: str, info: os.stat_result) -> dict[str, Any] | None:
        """The sidecar of the file *info* describes, or None if it has none."""
        import json

        *parents, name = segments(full)
        try:
            root = self.root_fd()
            try:
                folder = open_dir(root, [RESERVED, "meta", *parents])
            finally:
                os.close(root)
            try:
                fd = os.open(name, FILE_FLAGS, dir_fd=folder)
            finally:
                os.close(folder)
            with os.fdopen(fd, "rb") as file:
                sidecar = json.loads(file.read())
        except (RefusedError, OSError, ValueError):
            return None
        if (
            not isinstance(sidecar, dict)
            or sidecar.get("version") != _SIDECAR_VERSION
            or sidecar.get("size") != info.st_size
            or sidecar.get("mtime_ns") != info.st_mtime_ns
            or not isinstance(sidecar.get("etag"), str)
        ):
            return None  # another file's, or none of ours
        return sidecar

    def walk(self, folder: str, start: str) -> Iterator[tuple[str, os.stat_result]]:
        """(full key, stat) of every regular file under *folder* whose name there starts
        with *start*, in key order; symlinks and the reserved folder are skipped."""
        try:
            root = self.root_fd()
        except FileNotFoundError:
            return
        try:
            try:
                fd = open_dir(root, segments(folder))
            except (RefusedError, FileNotFoundError):
                return
        finally:
            os.close(root)
        yield from walk_fd(
            fd, f"{folder}/" if folder else "", start, hidden=None if folder else RESERVED
        )


def _file_etag(info: os.stat_result) -> str:
    """The ETag of a file no LocalStore wrote: its mtime and size, as nginx makes them."""
    return f'"{info.st_mtime_ns:x}-{info.st_size:x}"'
