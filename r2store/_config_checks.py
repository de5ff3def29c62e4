"""The converters and checks R2Config and LocalConfig share, so a setting means the same
in either: the bucket's name, the URL settings and the media proxy's path.

:class:`~r2store.config.R2Config` adds the checks only a bucket on R2 needs
(account id, endpoint, credentials); :class:`~r2store.localconfig.LocalConfig`
needs nothing more. Both import from here, and this imports neither.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .keys import check_location

if TYPE_CHECKING:
    from .protocol import URLSettings

__all__ = ["proxy_prefix"]

# R2: 3-63 characters of a-z, 0-9 and "-", starting and ending with a letter or digit.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
_PROXY_PATH = re.compile(r"(/[A-Za-z0-9._~!$&'()*+,;=:@-]+)*/")


def _strip(value: str) -> str:
    # A named function: mypy's attrs plugin does not understand converter=str.strip.
    return value.strip()


def _strip_or_none(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _base_url(value: str | None) -> str | None:
    value = _strip_or_none(value)
    return value.rstrip("/") if value else None


def _location(value: str) -> str:
    return value.strip().strip("/")


def _proxy_path(value: str) -> str:
    # "media-proxy" and "/media-proxy" both mean "/media-proxy/".
    return "/" + value.strip().strip("/") + "/" if value.strip("/ ") else "/"


def proxy_prefix(value: str) -> str:
    """The path a media proxy serves below, as ``/name/``; ValueError if not a URL path.

    ``"media-proxy"``, ``"/media-proxy"`` and ``"/media-proxy/"`` all give
    ``"/media-proxy/"``: a prefix matched without its final slash would take
    ``/media-proxyfile.txt`` (as key ``file.txt``) and every app route that
    merely starts the same way.
    """
    path = _proxy_path(value)
    if _PROXY_PATH.fullmatch(path) is None:
        raise ValueError(f"must be a URL path like /media-proxy/, got {value!r}")
    return path


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def _shown(url: str) -> str:
    """*url* as an error message may echo it: quoted, and without its user info.

    Made for URLs that failed their checks, so it parses nothing: everything from
    the start of the authority up to the last ``@`` may be a password (a malformed
    one may hold ``/``, ``#`` or ``@``), and becomes ``***``.
    """
    at = url.rfind("@")
    if at >= 0:
        scheme = _SCHEME.match(url)
        start = scheme.end() if scheme and scheme.end() <= at else 0
        url = f"{url[:start]}***{url[at:]}"
    return repr(url)


def _url_problem(url: str, *, allow_path: bool) -> str | None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError on a malformed port
    except ValueError:
        return f"is not a valid URL: {_shown(url)}"
    # urlsplit() silently drops tabs and newlines, so check the text itself.
    if not url.isprintable() or any(ch.isspace() for ch in url):
        return f"must not contain spaces or control characters, got {_shown(url)}"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return f"must be an http(s) URL with a host, like https://example.com, got {_shown(url)}"
    if parts.username or parts.password:
        # Not echoed: the user info may be a password.
        return "must not carry user info (user:password@); credentials go in R2_* variables"
    if parts.query or parts.fragment:
        return f"must not carry a query or fragment, got {_shown(url)}"
    if not allow_path and parts.path.strip("/"):
        return (
            f"must not contain a path, got {_shown(url)}; the bucket goes in R2_BUCKET_NAME, "
            "not the endpoint"
        )
    return None


def _url_mode(config: URLSettings) -> str:
    if config.media_proxy:
        return "proxy"
    return "public" if config.public_url else "presigned"


def _bucket_problems(bucket: str) -> list[tuple[str, str]]:
    """What is wrong with a bucket name, if anything (R2's naming rules)."""
    if not bucket:
        return [("bucket", "missing")]
    if _BUCKET.fullmatch(bucket) is None:
        return [
            (
                "bucket",
                f"{bucket!r} is not a valid R2 bucket name: 3-63 characters of a-z, 0-9 "
                "and '-', starting and ending with a letter or digit",
            )
        ]
    return []


def _url_setting_problems(config: URLSettings) -> list[tuple[str, str]]:
    """Every problem with the settings URLs and the media proxy read, as (field, message).

    One set of checks for :class:`R2Config` and :class:`LocalConfig` (with
    :func:`_bucket_problems`).
    """
    found: list[tuple[str, str]] = []

    def check(field: str, ok: bool, message: str) -> None:
        if not ok:
            found.append((field, message))

    if config.public_url:
        problem = _url_problem(config.public_url, allow_path=True)
        check("public_url", problem is None, str(problem))
    try:
        check_location(config.location)
    except ValueError as exc:
        found.append(("location", str(exc)))
    else:
        # Keys go under it, and R2 allows 1,024 bytes for the whole key.
        check(
            "location",
            len(config.location.encode()) <= 512,
            "must be at most 512 bytes, to leave room for keys under it",
        )
    if config.cache_control is not None:
        # It becomes a header on every upload: no control characters (CR/LF!).
        check(
            "cache_control",
            config.cache_control.isascii() and config.cache_control.isprintable(),
            "must be printable ASCII, like 'public, max-age=3600'",
        )
    try:
        proxy_prefix(config.proxy_path)
    except ValueError as exc:
        found.append(("proxy_path", str(exc)))
    if config.proxy_signing_key is not None:
        check(
            "proxy_signing_key",
            len(config.proxy_signing_key) >= 32,
            "must be at least 32 characters (use `python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`)",
        )
    # Direct construction bypasses the parsers: a str "false" would be truthy.
    check("media_proxy", type(config.media_proxy) is bool, "must be True or False")
    number = config.url_expires_in
    if type(number) is not int:
        found.append(("url_expires_in", "must be a whole number"))
    else:
        check("url_expires_in", 1 <= number <= 604800, "must be from 1 to 604800 seconds (7 days)")
    return found
