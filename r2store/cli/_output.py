"""What commands print: lines on stdout and stderr, keys shown safely, and the progress line."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import IO

from .._progress import CountingReader
from ..diagnostics import format_size
from ..errors import ConfigError


def out(text: str = "") -> None:
    print(text, file=sys.stdout)


def err(text: str) -> None:
    print(text, file=sys.stderr)


def show(key: str) -> str:
    """A key as printed: as-is, unless it holds characters that would garble a terminal."""
    return key if key.isprintable() else repr(key)


def config_error_line(exc: ConfigError) -> str:
    """A :class:`ConfigError` as one line: every problem, by variable, and any hint."""
    problems = "; ".join(str(problem) for problem in exc.problems)
    lines = str(exc).splitlines()
    # ConfigError's message is a heading, one "  - " line per problem, then an optional hint.
    hint = lines[-1] if len(lines) > len(exc.problems) + 1 else ""
    text = f"invalid configuration ({len(exc.problems)} problem(s)): {problems}"
    return f"{text} ({hint})" if hint else text


class Progress:
    """One progress line on a terminal, rewritten with ``\\r`` at most ten times a second:
    files (for sync), bytes, rate and time left.

    File names are left out: they vary in length and may hold control characters.
    Thread-safe: sync's upload threads report bytes.
    """

    def __init__(self, stream: IO[str], total: int | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._last = 0.0
        self._width = 0
        self._files: tuple[int, int] | None = None
        self._done = 0
        self._total = total

    @classmethod
    def on_terminal(cls, total: int | None = None) -> Progress | None:
        """A progress line on stderr if it is a terminal; in a log or a pipe it is noise."""
        return cls(sys.stderr, total) if sys.stderr.isatty() else None

    def files(self, done: int, total: int, path: str) -> None:
        """Sync's ``progress`` callback: *done* of *total* files settled."""
        with self._lock:
            self._files = (done, total)
            self.show(final=done == total)

    def bytes(self, done: int, total: int) -> None:
        """Sync's ``byte_progress`` callback: *done* of *total* bytes settled."""
        with self._lock:
            self._done, self._total = done, total
            self.show()

    def add(self, count: int) -> None:
        """*count* more bytes moved (negative: an upload rewound to retry)."""
        with self._lock:
            self._done += count
            self.show()

    def show(self, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._last < 0.1:
            return
        self._last = now
        parts = []
        if self._files is not None:
            done, total = self._files
            parts.append(f"{done}/{total} files ({done * 100 // total}%)")
        moved = format_size(self._done)
        if self._total:
            percent = "" if self._files else f" ({self._done * 100 // self._total}%)"
            parts.append(f"{moved} of {format_size(self._total)}{percent}")
        elif self._files is None:
            parts.append(moved)
        elapsed = now - self._start
        if elapsed >= 0.5 and self._done > 0:
            rate = self._done / elapsed
            parts.append(f"{format_size(int(rate))}/s")
            if self._total and self._done < self._total:
                left = int((self._total - self._done) / rate)
                parts.append(f"{left // 60}:{left % 60:02d} left")
        line = ", ".join(parts)
        # Spaces over what a longer line before left behind.
        self._stream.write(f"\r{line:<{self._width}}")
        self._stream.flush()
        self._width = len(line)

    def finish(self) -> None:
        """Show the last state and end the line, so that what follows starts a line."""
        with self._lock:
            if self._width or self._done:
                self.show(final=True)
                self._width = 0
                self._stream.write("\n")
                self._stream.flush()


@contextlib.contextmanager
def progress_of(file: IO[bytes], size: int | None) -> Iterator[IO[bytes] | CountingReader]:
    """*file*, counted by a progress line as it is read when stderr is a terminal."""
    progress = Progress.on_terminal(size)
    if progress is None:
        yield file
        return
    try:
        yield CountingReader(file, progress.add)
    finally:
        progress.finish()


def counted(chunks: Iterable[bytes], progress: Progress | None) -> Iterator[bytes]:
    """*chunks*, counted by *progress* as they pass."""
    for chunk in chunks:
        if progress is not None:
            progress.add(len(chunk))
        yield chunk
