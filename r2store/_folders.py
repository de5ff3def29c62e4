"""Folders opened safely: one path segment at a time, relative to the folder above
(``*at()`` calls), never following a symlink -- the file-system part of LocalStore.

A path handed to these functions is split on "/" and opened segment by segment with
``O_NOFOLLOW``, so a symlink anywhere inside the store's root is never followed out of
it, and a swap of a folder for a link between two calls is seen, not followed.
"""

from __future__ import annotations

import builtins
import errno
import os
import stat as stat_module
from collections.abc import Iterable, Iterator
from contextlib import suppress

from .errors import InvalidKeyError

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
REWRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC


class RefusedError(Exception):
    """A path segment is a symlink or a file where a folder should be."""


def walk_fd(
    fd: int, base: str, start: str, *, hidden: str | None
) -> Iterator[tuple[str, os.stat_result]]:
    """The regular files below the folder *fd* (which this closes) whose names start with
    *start*, in key order, as (path, stat); *hidden* is a name left out at this level."""
    try:
        for entry in sorted_entries(fd):
            name = entry.name
            if not name.startswith(start) or name == hidden:
                continue
            if entry.is_file(follow_symlinks=False):
                yield base + name, entry.stat(follow_symlinks=False)
            elif entry.is_dir(follow_symlinks=False):
                try:
                    child = os.open(name, DIR_FLAGS, dir_fd=fd)
                except OSError:
                    continue  # gone, or replaced by a symlink since
                yield from walk_fd(child, f"{base}{name}/", "", hidden=None)
    finally:
        os.close(fd)


def sorted_entries(fd: int) -> builtins.list[os.DirEntry[str]]:
    """The entries of the folder *fd* in R2's key order: by UTF-8 bytes, a folder
    sorting as its name and a "/" (so "a-b" comes before "a/b")."""
    with os.scandir(fd) as entries:
        found = builtins.list(entries)
    found.sort(
        key=lambda entry: (
            entry.name + "/" if entry.is_dir(follow_symlinks=False) else entry.name
        ).encode("utf-8", "surrogateescape")
    )
    return found


def segments(path: str) -> builtins.list[str]:
    return path.split("/") if path else []


def open_dir(root: int, parts: Iterable[str], *, create: bool = False) -> int:
    """A descriptor of the folder *parts* below *root*, opened one segment at a time
    without following symlinks; *create* makes missing folders. Raises :class:`RefusedError`
    for a symlink or a file on the way, FileNotFoundError for a missing folder."""
    # *root* stays the caller's: the first segment is opened relative to it (no dup
    # unless there is no segment), each later one relative to the one before.
    fd = -1
    try:
        for part in parts:
            parent = root if fd == -1 else fd
            try:
                child = os.open(part, DIR_FLAGS, dir_fd=parent)
            except FileNotFoundError:
                if not create:
                    raise
                with suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=parent)
                child = os.open(part, DIR_FLAGS, dir_fd=parent)
            if fd != -1:
                os.close(fd)
            fd = child
    except OSError as exc:
        if fd != -1:
            os.close(fd)
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise RefusedError(str(exc)) from None
        raise
    return os.dup(root) if fd == -1 else fd


def write_all(fd: int, data: bytes) -> None:
    """Write all of *data* to *fd* (a write may take fewer bytes than given)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def check_not_a_folder(folder: int, name: str, key: str) -> None:
    with suppress(FileNotFoundError):
        if stat_module.S_ISDIR(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode):
            raise InvalidKeyError(
                f"cannot store {key!r}: it is a folder of other keys in the local store"
            )


def holds_a_file(fd: int, name: str) -> bool:
    """Whether the folder *name* in *fd* holds a regular file at any depth."""
    try:
        child = os.open(name, DIR_FLAGS, dir_fd=fd)
    except OSError:
        return False
    try:
        with os.scandir(child) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False):
                    return True
                if entry.is_dir(follow_symlinks=False) and holds_a_file(child, entry.name):
                    return True
    finally:
        os.close(child)
    return False


def remove_empty(root: int, parts: builtins.list[str], *, keep: int = 0) -> None:
    """Remove the folder *parts* and its parents while they are empty, keeping the first
    *keep* segments."""
    while len(parts) > keep:
        try:
            parent = open_dir(root, parts[:-1])
        except (RefusedError, FileNotFoundError):
            return
        try:
            os.rmdir(parts[-1], dir_fd=parent)
        except OSError:
            return  # not empty (or gone): its parents are not empty either
        finally:
            os.close(parent)
        parts = parts[:-1]
