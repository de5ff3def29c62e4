"""``-v``: r2store's (and, with ``-vv``, botocore's) debug logging on stderr, secrets masked."""

from __future__ import annotations

import logging
import sys

from ._context import Context


class RedactingFormatter(logging.Formatter):
    """Formats log records, then masks secrets (debug logs of other libraries included)."""

    def __init__(self, context: Context) -> None:
        super().__init__("%(levelname)s %(name)s: %(message)s")
        self._context = context

    def format(self, record: logging.LogRecord) -> str:
        return self._context.redact(super().format(record))


def configure_logging(context: Context) -> None:
    """With ``-v``, r2store's debug logging on stderr; with ``-vv``, botocore's too."""
    if not context.verbose:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(context))
    names = ["r2store"] + (["botocore", "urllib3"] if context.verbose >= 2 else [])
    for name in names:
        named = logging.getLogger(name)
        named.setLevel(logging.DEBUG)
        named.addHandler(handler)


def unconfigure_logging() -> None:
    """Remove the handlers ``-v`` added, so that in-process callers see no leftovers."""
    for name in ("r2store", "botocore", "urllib3"):
        named = logging.getLogger(name)
        for handler in list(named.handlers):
            if isinstance(handler.formatter, RedactingFormatter):
                named.removeHandler(handler)
                named.setLevel(logging.NOTSET)
