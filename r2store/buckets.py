"""The bucket itself: creating it, and the CORS rules browsers need to upload to it.

Framework-free, like the rest of the core: the ``r2store bucket`` and ``r2store cors``
commands are thin layers over these functions. Every call goes through the store's
botocore client, and every error through :func:`r2store.errors.map_error`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs

from .errors import R2StoreError, map_error

if TYPE_CHECKING:
    from .store import R2Store

__all__ = [
    "CORS_METHODS",
    "BucketTakenError",
    "CORSRule",
    "check_origin",
    "clear_cors",
    "create_bucket",
    "get_cors",
    "set_cors",
]

#: The methods a CORS rule may allow (R2 supports these).
CORS_METHODS = ("GET", "PUT", "HEAD", "POST", "DELETE")


class BucketTakenError(R2StoreError, FileExistsError):
    """The bucket name exists, but these credentials cannot use it (another account's)."""


def check_origin(value: str) -> str:
    """*value* as a CORS origin: ``*``, or ``scheme://host[:port]`` with nothing after.

    Browsers send ``Origin`` without a path or a trailing slash and compare it as a
    string, so ``https://app.example.com/`` would never match: it is refused here,
    not found out later in a browser's console. Raises ``ValueError``.
    """
    origin = value.strip()
    if origin == "*":
        return origin
    parts = urlsplit(origin)
    try:
        parts.port  # noqa: B018 (a bad port raises here)
    except ValueError:
        raise ValueError(f"{value!r} has an invalid port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an origin like https://app.example.com")
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(
            f"{value!r} is not an origin: an origin is scheme://host[:port] with nothing "
            f"after it (no path, not even a trailing '/'), like {parts.scheme}://{parts.netloc}"
        )
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    # A named function: mypy's attrs plugin cannot solve converter=tuple's type.
    return tuple(values)


@attrs.frozen(kw_only=True)
class CORSRule:
    """One CORS rule of the bucket. The defaults are those a browser upload with a
    presigned PUT needs (and a page that reads the objects back)."""

    #: Origins allowed, each ``scheme://host[:port]``, or ``*``.
    origins: tuple[str, ...] = attrs.field(converter=_strings)
    #: Methods allowed.
    methods: tuple[str, ...] = attrs.field(default=("PUT", "GET", "HEAD"), converter=_strings)
    #: Request headers a browser may send: the upload's Content-Type, and the
    #: ``If-None-Match: *`` that keeps a direct upload (:mod:`r2store.uploads`) from
    #: overwriting anything.
    headers: tuple[str, ...] = attrs.field(
        default=("Content-Type", "If-None-Match"), converter=_strings
    )
    #: Response headers a page's script may read.
    expose_headers: tuple[str, ...] = attrs.field(default=("ETag",), converter=_strings)
    #: Seconds a browser may cache the answer to its preflight request.
    max_age: int | None = 3600

    def to_s3(self) -> dict[str, Any]:
        """The rule as PutBucketCors takes it."""
        rule: dict[str, Any] = {
            "AllowedOrigins": list(self.origins),
            "AllowedMethods": list(self.methods),
        }
        if self.headers:
            rule["AllowedHeaders"] = list(self.headers)
        if self.expose_headers:
            rule["ExposeHeaders"] = list(self.expose_headers)
        if self.max_age is not None:
            rule["MaxAgeSeconds"] = self.max_age
        return rule

    @classmethod
    def from_s3(cls, rule: dict[str, Any]) -> CORSRule:
        """A rule as GetBucketCors gives it."""
        return cls(
            origins=rule.get("AllowedOrigins") or (),
            methods=rule.get("AllowedMethods") or (),
            headers=rule.get("AllowedHeaders") or (),
            expose_headers=rule.get("ExposeHeaders") or (),
            max_age=rule.get("MaxAgeSeconds"),
        )


def _code(exc: Exception) -> str:
    response: Any = getattr(exc, "response", None)
    return (
        str((response or {}).get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""
    )


def create_bucket(store: R2Store) -> bool:
    """Create the configured bucket; True if created, False if it already existed and these
    credentials can use it. Raises :class:`BucketTakenError` if the name is someone else's.

    The location constraint is the configured region (``auto`` for R2, which accepts it,
    as do local S3 servers such as moto, which require one outside ``us-east-1``).
    """
    config = store.config
    params: dict[str, Any] = {"Bucket": config.bucket}
    if config.region != "us-east-1":  # S3's one region that takes no constraint
        params["CreateBucketConfiguration"] = {"LocationConstraint": config.region}
    try:
        store.client.create_bucket(**params)
    except Exception as exc:
        code = _code(exc)
        if code == "BucketAlreadyOwnedByYou":
            return False
        if code == "BucketAlreadyExists":
            # R2 names buckets per account, S3 globally: the same answer can mean ours or
            # another account's. Whether these credentials reach it tells which.
            try:
                store.client.head_bucket(Bucket=config.bucket)
            except Exception:
                raise BucketTakenError(
                    f"a bucket named {config.bucket!r} exists, but these credentials cannot use it"
                ) from exc
            return False
        raise map_error(exc) from exc
    return True


def get_cors(store: R2Store) -> list[CORSRule]:
    """The bucket's CORS rules (an empty list when it has none)."""
    try:
        response = store.client.get_bucket_cors(Bucket=store.config.bucket)
    except Exception as exc:
        if _code(exc) == "NoSuchCORSConfiguration":
            return []
        raise map_error(exc) from exc
    return [CORSRule.from_s3(rule) for rule in response.get("CORSRules") or []]


def set_cors(store: R2Store, rules: Iterable[CORSRule]) -> None:
    """Replace the bucket's CORS rules with *rules*."""
    config = {"CORSRules": [rule.to_s3() for rule in rules]}
    try:
        store.client.put_bucket_cors(Bucket=store.config.bucket, CORSConfiguration=config)
    except Exception as exc:
        raise map_error(exc) from exc


def clear_cors(store: R2Store) -> None:
    """Remove every CORS rule of the bucket (browsers can then no longer upload to it)."""
    try:
        store.client.delete_bucket_cors(Bucket=store.config.bucket)
    except Exception as exc:
        raise map_error(exc) from exc
