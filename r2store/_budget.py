"""How hard a read tries, for the call in progress: attempts, backoff and a deadline.

The library's own calls (``read``, ``stat``, ``sync``, ...) try as botocore would: up to
five attempts with backoff of up to 20 s. A request the media proxy serves cannot wait
like that: each throttled key would hold a server thread for up to 15 s of backoff while
other requests queue behind it. :func:`limited` sets a smaller budget for the reads made
inside its block, in this thread (or asyncio task) only: the proxy sets it around each
request, and :class:`r2store._transport.Transport` reads it on every request it sends.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import attrs

__all__ = ["Budget", "current", "limited"]


@attrs.frozen(kw_only=True)
class Budget:
    """At most *attempts* tries, waits of at most *max_backoff* seconds between them, and
    no attempt that could end after *deadline* (a :func:`time.monotonic` time)."""

    attempts: int
    max_backoff: float
    deadline: float
    seconds: float

    def remaining(self) -> float:
        """Seconds left before the deadline (negative once it has passed)."""
        return self.deadline - time.monotonic()


_current: ContextVar[Budget | None] = ContextVar("r2store_budget", default=None)


def current() -> Budget | None:
    """The budget of the block in progress, or None outside any (the library's own calls)."""
    return _current.get()


@contextmanager
def limited(*, attempts: int, seconds: float, max_backoff: float) -> Iterator[Budget]:
    """Give the reads inside the block *attempts* tries and *seconds* in all, from now."""
    budget = Budget(
        attempts=attempts,
        max_backoff=max_backoff,
        deadline=time.monotonic() + seconds,
        seconds=seconds,
    )
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)
