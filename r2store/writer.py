"""ObjectWriter: a writable binary file whose bytes become an object when it is closed.

Writes flow through a small bounded pipe to :meth:`R2Store.save` running in a
background thread, so everything ``save`` guarantees holds here too: small
objects go up in one PutObject, large ones in equal-size multipart parts,
overwrite off is an atomic create, and a failure aborts the upload. Memory
stays bounded: a writer blocks while the uploader is behind.
"""

from __future__ import annotations

import io
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

__all__ = ["ObjectWriter"]

_PIPE_LIMIT = 8 * 1024 * 1024


class _AbortedError(Exception):
    """Raised in the uploader when the writer gives up, so the upload is aborted."""


class _Pipe(io.RawIOBase):
    """A bounded, blocking byte pipe between one writer thread and one reader thread."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._limit = limit
        self._eof = False
        self._aborted = False
        self._cond = threading.Condition()

    def readable(self) -> bool:
        return True

    def put(self, data: bytes) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._buffered < self._limit or self._aborted)
            self._chunks.append(data)
            self._buffered += len(data)
            self._cond.notify_all()

    def finish(self, *, abort: bool = False) -> None:
        with self._cond:
            self._eof = True
            self._aborted = self._aborted or abort
            self._cond.notify_all()

    def read(self, size: int | None = -1) -> bytes:
        with self._cond:
            self._cond.wait_for(lambda: self._chunks or self._eof)
            if self._aborted:
                raise _AbortedError("the writer was aborted")
            if not self._chunks:
                return b""
            chunk = self._chunks.popleft()
            if size is not None and 0 <= size < len(chunk):
                chunk, rest = chunk[:size], chunk[size:]
                self._chunks.appendleft(rest)
            self._buffered -= len(chunk)
            self._cond.notify_all()
            return chunk


class ObjectWriter(io.RawIOBase):
    """Write bytes; ``close()`` completes the object, and raises if the upload failed.

    Leaving a ``with`` block on an exception aborts the upload instead: no
    object, and no incomplete multipart upload, is left behind.
    """

    def __init__(self, key: str, save: Callable[[io.RawIOBase], Any]) -> None:
        super().__init__()
        self._key = key
        self._pipe = _Pipe(_PIPE_LIMIT)
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._upload, args=(save,), name="r2store-writer", daemon=True
        )
        self._thread.start()

    @property
    def name(self) -> str:
        """The key the object will have."""
        return self._key

    def _upload(self, save: Callable[[io.RawIOBase], Any]) -> None:
        try:
            save(self._pipe)
        except BaseException as exc:
            self._error = exc
            # Unblock a writer waiting for room: its next write raises.
            self._pipe.finish(abort=True)

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        """Queue *data* for upload (blocks while the uploader is behind)."""
        self._checkClosed()
        if self._error is not None:
            raise self._error
        chunk = bytes(data)
        if chunk:
            self._pipe.put(chunk)
        return len(chunk)

    def abort(self) -> None:
        """Give up: nothing is stored, and any multipart upload is aborted."""
        if not self.closed:
            self._pipe.finish(abort=True)
            self._thread.join()
            super().close()

    def close(self) -> None:
        """Finish the upload and wait for it; raises what the upload raised."""
        if self.closed:
            return
        self._pipe.finish()
        self._thread.join()
        super().close()
        if self._error is not None and not isinstance(self._error, _AbortedError):
            raise self._error

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()

    def __repr__(self) -> str:
        return f"<ObjectWriter key={self._key!r}>"
