"""Counting the bytes read from a file as it is uploaded, for progress displays."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import IO

__all__ = ["CountingReader"]


class CountingReader:
    """A binary file that calls ``counted(n)`` with the change of its position after each
    read or seek: *n* bytes read, or a negative *n* when an upload rewinds to retry.

    Reads, seeks and tells go to the file, so the store (and botocore) size and rewind it
    as they would the file itself.
    """

    def __init__(self, file: IO[bytes], counted: Callable[[int], None]) -> None:
        self._file = file
        self._counted = counted

    def read(self, size: int = -1, /) -> bytes:
        data = self._file.read(size)
        if data:
            self._counted(len(data))
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._file.seekable()

    def tell(self) -> int:
        return self._file.tell()

    def seek(self, offset: int, whence: int = os.SEEK_SET, /) -> int:
        before = self._file.tell()
        after = self._file.seek(offset, whence)
        if after != before:
            self._counted(after - before)
        return after
