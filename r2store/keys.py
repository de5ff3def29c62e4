"""The one key normaliser and the one key quoter.

Every object operation, every URL and the media proxy pass keys through
:func:`object_key`, so a key that is refused here is refused everywhere, and
no key can reach outside the configured ``location``.

Keys are refused rather than repaired: silently turning ``a//b`` into ``a/b``
or ``../x`` into ``x`` would make two names point at one object, and a key
that arrives from a URL is never trusted to mean what it looks like.
"""

from __future__ import annotations

import re

from .errors import InvalidKeyError

__all__ = [
    "MAX_KEY_BYTES",
    "check_location",
    "is_plain_key",
    "object_key",
    "object_prefix",
    "quote_key",
    "relative_key",
]

#: R2 refuses keys longer than this many bytes of UTF-8.
MAX_KEY_BYTES = 1024

# Characters a key may not hold: C0/C1 control characters, DEL, backslashes,
# and lone surrogates (not encodable as UTF-8).
_BAD_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f\\\ud800-\udfff]").search


def _is_invalid(key: str) -> bool:
    """Whether *key* has a bad character or an empty, "." or ".." segment.

    Plain string tests rather than one regex: a segment pattern is tried at
    every position, which made this check cost more than the URL around it.
    """
    return (
        _BAD_CHARACTER(key) is not None
        or not key
        or key[0] == "/"
        or key[-1] == "/"
        or "//" in key
        or (
            "." in key
            and (
                key in (".", "..")
                or key.startswith(("./", "../"))
                or key.endswith(("/.", "/.."))
                or "/./" in key
                or "/../" in key
            )
        )
    )


# For each byte, itself if quote() leaves it alone with safe="/", else %XX.
_URL_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~/")
_QUOTED_BYTE = [chr(b) if b in _URL_SAFE else f"%{b:02X}" for b in range(256)]

#: Matches keys that are certainly valid and need no quoting: unreserved
#: characters only, in non-empty segments that do not start with "." (so no
#: "." or ".." segments). Most keys are like this; URL builders accept them
#: without the full check (when short enough) -- a strict subset of what
#: :func:`object_key` accepts, as the tests verify.
is_plain_key = re.compile(
    r"(?:[A-Za-z0-9_~-][A-Za-z0-9_.~-]*/)*[A-Za-z0-9_~-][A-Za-z0-9_.~-]*"
).fullmatch


def _describe(key: str) -> str:
    """Say why *key* was refused, for the error message (only on the slow path)."""
    if not key:
        return "an empty key"
    if key.startswith("/"):
        return "an absolute key (leading '/')"
    if "\\" in key:
        return "a key with a backslash"
    if any(ch in key for ch in map(chr, range(0xD800, 0xE000))):
        return "a key that is not valid Unicode (lone surrogate)"
    if re.search(r"[\x00-\x1f\x7f-\x9f]", key):
        return "a key with a control character"
    return "a key with an empty, '.' or '..' segment"


def _check(key: str, what: str) -> None:
    if type(key) is not str:
        raise InvalidKeyError(f"{what} must be a str, not {type(key).__name__}")
    if _is_invalid(key):
        raise InvalidKeyError(f"{_describe(key)} is not allowed: {key!r}")


def check_location(location: str) -> str:
    """Validate a ``location`` prefix and return it without surrounding slashes.

    An empty location means keys are used as given.
    """
    location = location.strip("/")
    if location:
        _check(location, "location")
    return location


def object_key(key: str, location: str = "") -> str:
    """Return the full object key for *key* under *location*, or raise :class:`InvalidKeyError`.

    *location* must already be checked (see :func:`check_location`).
    """
    # Fast path first: this runs for every URL a page renders.
    if type(key) is not str and isinstance(key, str):
        # A str subclass, such as a template's SafeString: the same text, as a plain str
        # (SafeString's own __str__ returns itself).
        key = str.__str__(key)
    if type(key) is not str or _is_invalid(key):
        _check(key, "key")
    full = f"{location}/{key}" if location else key
    # A str of n characters is at most 4n bytes of UTF-8: encode only when it could matter.
    if len(full) * 4 > MAX_KEY_BYTES and len(full.encode()) > MAX_KEY_BYTES:
        raise InvalidKeyError(
            f"key is {len(full.encode())} bytes of UTF-8 (with location); R2 allows "
            f"{MAX_KEY_BYTES}: {key[:64]!r}..."
        )
    return full


def object_prefix(prefix: str, location: str = "") -> str:
    """The full key prefix for listing *prefix* under *location*.

    Unlike a key, a prefix may be empty (everything) or end with ``/`` (a
    "directory"); its other segments follow the key rules.
    """
    if prefix == "":
        return f"{location}/" if location else ""
    directory = prefix.endswith("/")
    full = object_key(prefix[:-1] if directory else prefix, location)
    return full + "/" if directory else full


def relative_key(full_key: str, location: str = "") -> str:
    """Turn a full object key from a listing back into a key relative to *location*."""
    if location:
        return full_key[len(location) + 1 :]
    return full_key


def quote_key(key: str) -> str:
    """Percent-encode *key* for a URL path: unreserved characters and ``/`` stay as they are.

    The same quoting is used for public, proxy and presigned URLs (it is also
    how botocore encodes S3 keys), so one key has one spelling in every URL.
    """
    # The UTF-8 bytes, one character each (latin-1), mapped through a table
    # in C: quote(key, safe="/")'s result at under half its cost.
    return key.encode("utf-8", "surrogatepass").decode("latin-1").translate(_QUOTED_BYTE)
