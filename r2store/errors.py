"""The exception hierarchy, and the one place where the S3 clients' errors become ours.

Both clients raise errors of one shape: botocore's ``ClientError`` on the write path,
and on the read path :class:`r2store._transport.S3ResponseError`, whose ``response``
dict is shaped like ``ClientError.response``; urllib3's own exceptions (both paths
send through urllib3) are recognised by module and name, never imported here.

Every error r2store raises is an :class:`R2StoreError`. Each specific error
also subclasses the builtin a caller would naturally catch, so code written
against files (``except FileNotFoundError``) keeps working.

Messages name the key and what went wrong. They never contain credentials,
and nothing here formats a botocore exception's text into our own message:
the original stays available as ``__cause__``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NoReturn

import attrs

if TYPE_CHECKING:
    from datetime import datetime

__all__ = [
    "THROTTLING_CODES",
    "AccessDeniedError",
    "BucketNotFoundError",
    "ConfigError",
    "ConfigProblem",
    "InvalidKeyError",
    "InvalidMetadataError",
    "InvalidTicketError",
    "NotModifiedError",
    "ObjectExistsError",
    "ObjectNotFoundError",
    "PreconditionFailedError",
    "R2StoreError",
    "RangeNotSatisfiableError",
    "UploadRefusedError",
    "UpstreamBusyError",
    "UpstreamError",
    "UpstreamTimeoutError",
    "map_error",
    "raise_mapped",
]


class R2StoreError(Exception):
    """Base class of every error r2store raises."""


@attrs.frozen
class ConfigProblem:
    """One thing wrong with the configuration: the setting's name and what is wrong."""

    name: str
    message: str

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"


class ConfigError(R2StoreError, ValueError):
    """The configuration is missing or invalid.

    ``problems`` lists every problem found, not just the first, each naming
    the setting (the environment variable when the configuration came from
    the environment, else the ``R2Config`` field).
    """

    def __init__(self, problems: Iterable[ConfigProblem], *, hint: str | None = None) -> None:
        self.problems = tuple(problems)
        lines = [f"invalid r2store configuration ({len(self.problems)} problem(s)):"]
        lines += [f"  - {problem}" for problem in self.problems]
        if hint:
            lines.append(hint)
        super().__init__("\n".join(lines))


class InvalidKeyError(R2StoreError, ValueError):
    """An object key is empty, absolute, has ``.``/``..``/empty segments,
    backslashes or control characters, or is longer than R2 allows."""


class InvalidMetadataError(R2StoreError, ValueError):
    """User metadata R2 would refuse: a name that is not an HTTP token, a value that is not
    printable ASCII, or more than R2's 8,192 bytes in all."""


class ObjectNotFoundError(R2StoreError, FileNotFoundError):
    """No object exists under the key."""


class BucketNotFoundError(ObjectNotFoundError):
    """The configured bucket does not exist (so no object can be found in it)."""


class ObjectExistsError(R2StoreError, FileExistsError):
    """An object already exists under the key and overwriting was not allowed."""


class UploadRefusedError(R2StoreError, ValueError):
    """A direct upload was refused before it began: too large, a type the policy does not
    allow, or a request that does not say what it uploads."""


class InvalidTicketError(R2StoreError, ValueError):
    """An upload ticket was tampered with or has expired, or what landed under its key is
    not what it declared (missing, another size or another type)."""


class AccessDeniedError(R2StoreError, PermissionError):
    """R2 refused the credentials or the operation (401/403)."""


class PreconditionFailedError(R2StoreError):
    """A conditional request's precondition (If-Match, If-Unmodified-Since) failed (412)."""


class NotModifiedError(R2StoreError):
    """A conditional read found the object unchanged (304).

    Carries the validators and caching header R2 sent, for the 304 answer.
    """

    def __init__(
        self,
        message: str,
        *,
        etag: str | None = None,
        last_modified: datetime | None = None,
        cache_control: str | None = None,
    ) -> None:
        super().__init__(message)
        self.etag = etag
        self.last_modified = last_modified
        self.cache_control = cache_control


class RangeNotSatisfiableError(R2StoreError):
    """A requested byte range lies outside the object (416).

    ``size`` is the object's size when the error response said it, else None.
    """

    def __init__(self, message: str, *, size: int | None = None) -> None:
        super().__init__(message)
        self.size = size


class UpstreamError(R2StoreError, OSError):
    """R2 could not be reached or failed (5xx, 429 after retries, broken connection)."""


class UpstreamTimeoutError(UpstreamError, TimeoutError):
    """R2 did not answer in time."""


class UpstreamBusyError(UpstreamError):
    """R2 asked to slow down (429, 503 ``SlowDown``) on every attempt, or no connection
    to it came free in time: trying again later may succeed."""


_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NotFound", "404", "NoSuchBucket"})
_DENIED_CODES = frozenset(
    {"AccessDenied", "403", "401", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
)
_PRECONDITION_CODES = frozenset({"PreconditionFailed", "412"})
# Answers that mean "not now": R2 throttles a key read or written too often with 429 or
# 503 SlowDown; the rest are the throttling codes botocore's standard retry mode knows.
_BUSY_STATUSES = frozenset({429, 503})
#: S3 error codes that mean "slow down": R2's SlowDown and botocore's throttling codes.
THROTTLING_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "RequestThrottled",
    }
)
# R2 answers concurrent conditional writes to one key with 409.
_CONFLICT_CODES = frozenset({"ConditionalRequestConflict", "409"})


def map_error(exc: Exception, *, key: str | None = None, creating: bool = False) -> Exception:
    """Translate an exception from botocore, urllib3 or the read transport into an
    :class:`R2StoreError`.

    Returns the exception to raise (with *exc* as its cause: see :func:`raise_mapped`),
    and returns *exc* unchanged when it is ours already or not an error from the S3 client.
    *creating* marks a write with ``If-None-Match: *``, where a failed
    precondition means the key already exists.
    """
    if isinstance(exc, R2StoreError):
        return exc
    about = f" for key {key!r}" if key is not None else ""
    response: Any = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error") or {}
        code = str(error.get("Code", ""))
        status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if creating and (code in _PRECONDITION_CODES or code in _CONFLICT_CODES):
            return ObjectExistsError(f"an object already exists{about}")
        if code == "NoSuchUpload":
            # A 404, but no file is missing: the multipart upload was aborted or expired.
            return UpstreamError(f"the multipart upload{about} no longer exists")
        if code in _NOT_FOUND_CODES or status == 404:
            if code == "NoSuchBucket":
                return BucketNotFoundError(f"the configured bucket does not exist{about}")
            return ObjectNotFoundError(f"no object{about}")
        if code in _DENIED_CODES or status in (401, 403):
            return AccessDeniedError(f"R2 denied access{about} ({code or status})")
        if code in _PRECONDITION_CODES or status == 412:
            return PreconditionFailedError(f"precondition failed{about}")
        if code == "304" or status == 304:
            from ._http import parse_http_date

            sent = response.get("ResponseMetadata", {}).get("HTTPHeaders") or {}
            modified = sent.get("last-modified")
            return NotModifiedError(
                f"not modified{about}",
                etag=sent.get("etag"),
                last_modified=parse_http_date(modified) if modified else None,
                cache_control=sent.get("cache-control"),
            )
        if code == "InvalidRange" or status == 416:
            actual = str(error.get("ActualObjectSize", ""))
            return RangeNotSatisfiableError(
                f"range not satisfiable{about}",
                # isascii too: isdigit() takes "\u00b2" and other digits int() refuses.
                size=int(actual) if actual.isascii() and actual.isdigit() else None,
            )
        failed = f"{code or 'HTTP'} {status or ''}".rstrip()
        if code in THROTTLING_CODES or status in _BUSY_STATUSES:
            return UpstreamBusyError(f"R2 asked to slow down{about}: {failed}")
        return UpstreamError(f"R2 request failed{about}: {failed}")
    name = type(exc).__name__
    if name == "EmptyPoolError":
        # urllib3's pool blocks at max_pool_connections (see _transport): none came free.
        return UpstreamBusyError(f"no connection to R2 came free in time{about}")
    if name == "ParamValidationError":
        # A request botocore refused to send: a bug or a value we failed to check.
        return R2StoreError(f"invalid request parameters{about}")
    if "Timeout" in name:
        return UpstreamTimeoutError(f"R2 did not answer in time{about} ({name})")
    if _is_transport_error(exc):
        return UpstreamError(f"could not talk to R2{about} ({name})")
    return exc


def raise_mapped(exc: Exception, *, key: str | None = None, creating: bool = False) -> NoReturn:
    """Raise what :func:`map_error` makes of *exc*, with *exc* as its ``__cause__``.

    An *exc* that maps to itself (an error of ours, or none from the S3 client) is
    raised as it is, keeping its own cause: ``raise map_error(e) from e`` would make
    it its own ``__cause__`` and lose the one it had.
    """
    error = map_error(exc, key=key, creating=creating)
    if error is exc:
        raise exc
    raise error from exc


def _is_transport_error(exc: BaseException) -> bool:
    """True for botocore's and urllib3's connection and streaming errors.

    Matched by module rather than imported, so that this module stays cheap
    to import and knows nothing of the client library's class tree.
    """
    module = type(exc).__module__ or ""
    return module.startswith(("botocore", "urllib3")) or isinstance(exc, ConnectionError)
