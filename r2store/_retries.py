"""When the lean transport (:mod:`r2store._transport`) retries a request, and how long it
waits first: botocore's standard mode, so that both of r2store's paths retry alike.

Kept apart so the policy reads in one place: which answers and failures are retried,
the default number of attempts, the jittered backoff, and how a media proxy's budget
(:mod:`r2store._budget`) shortens all of it.
"""

from __future__ import annotations

import random

from urllib3.exceptions import ProtocolError, ProxyError, SSLError
from urllib3.exceptions import TimeoutError as Urllib3TimeoutError

from . import _budget
from .errors import THROTTLING_CODES

__all__ = ["DEFAULT_MAX_ATTEMPTS"]

#: botocore's default for r2store's client (``max_attempts=4``): the first try and 4 retries.
DEFAULT_MAX_ATTEMPTS = 5
_MAX_BACKOFF = 20.0
# The statuses and codes botocore's standard mode retries (retries/standard.py: transient
# and throttled errors), and 429, which R2 sends when a key is read or written too often.
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_RETRY_CODES = (
    frozenset({"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"})
    | THROTTLING_CODES
)
# Failures before a response arrived: safe to retry a GET or HEAD, and a PUT (sent again
# whole; an atomic create tells its own first attempt by the ETag). (urllib3's TimeoutError
# covers connect and read timeouts and NewConnectionError; ProtocolError a connection reset
# or closed before the status line, SSLError a broken handshake.)
_RETRY_EXCEPTIONS = (Urllib3TimeoutError, ProtocolError, SSLError, ProxyError)


def _wait(attempt: int, max_attempts: int, budget: _budget.Budget | None) -> float | None:
    """Seconds to wait before retrying after failed *attempt*, or None to give up.

    Under a budget, the wait is short and a retry is made only if a quarter of the budget's
    time is left after it: a retry with less would mostly add a timeout to a late answer.
    """
    if attempt >= max_attempts:
        return None
    wait = _backoff(attempt)
    if budget is None:
        return wait
    wait = min(wait, budget.max_backoff)
    if budget.remaining() - wait < budget.seconds / 4:
        return None
    return wait


def _backoff(attempt: int) -> float:
    """Seconds to wait before retry *attempt* (1-based): botocore's jittered exponential."""
    return random.random() * min(2.0 ** (attempt - 1), _MAX_BACKOFF)  # noqa: S311 -- jitter
