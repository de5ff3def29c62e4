"""R2Config: what r2store needs to know, read from the environment and checked all at once.

A wrong setting must never be discovered by a lost upload, so the checks here
are strict and complete: one :class:`~r2store.errors.ConfigError` names every
problem, by environment variable when the values came from the environment.
:class:`~r2store.localconfig.LocalConfig`, for a folder instead of a bucket, reads
the same URL settings; the checks both share are in :mod:`r2store._config_checks`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import attrs

from ._config_checks import (
    _base_url,
    _bucket_problems,
    _location,
    _proxy_path,
    _shown,
    _strip,
    _strip_or_none,
    _url_mode,
    _url_problem,
    _url_setting_problems,
)
from .errors import ConfigError, ConfigProblem

if TYPE_CHECKING:
    from botocore.config import Config as BotocoreConfig

    from .localconfig import LocalConfig

__all__ = [
    "DELIVERIES",
    "ENV_VARS",
    "JURISDICTIONS",
    "R2Config",
    "parse_bool",
    "r2_enabled",
]

MiB = 1024 * 1024
#: Jurisdictions Cloudflare documents for R2 (``us`` was announced in 2026-08).
JURISDICTIONS = frozenset({"eu", "fedramp", "us"})

#: How the media proxy may deliver an object: stream it (``proxy``), or answer a redirect
#: to a short-lived presigned URL on the R2 endpoint (``redirect``).
DELIVERIES = frozenset({"proxy", "redirect"})

_ACCOUNT_ID = re.compile(r"[0-9a-fA-F]{32}")
_REGION = re.compile(r"[a-z0-9-]+")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def parse_bool(value: str) -> bool:
    """Read a boolean setting: true/false, 1/0, yes/no, on/off, in any case.

    Raises ``ValueError`` for anything else: a typo must not silently mean "off".
    """
    folded = value.strip().lower()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise ValueError(f"expected true/false, 1/0, yes/no or on/off, got {value!r}")


def _account_id_message(value: str) -> str:
    """What is wrong with an account id that is not 32 hex digits: its length, or the first
    character that is not a hex digit and where (a typo in a paste is hard to spot)."""
    wrong = next(
        ((n, c) for n, c in enumerate(value, 1) if c not in "0123456789abcdefABCDEF"), None
    )
    found = [f"got {len(value)} characters"] if len(value) != 32 else []
    if wrong is not None:
        found.append(f"{wrong[1]!r} at position {wrong[0]} is not a hexadecimal digit")
    return (
        f"must be 32 hexadecimal characters ({', '.join(found)}); "
        "copy it from the Cloudflare dashboard, R2 overview"
    )


def _mask(value: str) -> str:
    """Show enough of an access key id to tell two apart, no more."""
    return f"'{value[:4]}…'" if value else "''"


def _lower_or_none(value: str | None) -> str | None:
    value = _strip_or_none(value)
    return value.lower() if value else None


def _lower(value: str) -> str:
    return value.strip().lower()


# What botocore accepts as an endpoint's host (botocore.utils.is_valid_endpoint_url and
# is_valid_ipv6_endpoint_url), written out here because `import r2store` must not load
# botocore: anything else is a raw ValueError at the first request, not at startup.
# Its patterns are kept as botocore writes them, IGNORECASE and Unicode \d included.
_HOST_NAME = re.compile(r"((?!-)[A-Z\d-]{1,63}(?<!-)\.)*((?!-)[A-Z\d-]{1,63}(?<!-))", re.IGNORECASE)
_HEX = "[0-9A-Fa-f]{1,4}"
_IPV4 = r"(?:[0-9]{1,3}\.){3}[0-9]{1,3}"
_LS32 = f"(?:{_HEX}:{_HEX}|{_IPV4})"
# RFC 3986's IPv6address, one alternative per position of "::".
_IPV6 = "|".join(
    [
        f"(?:{_HEX}:){{6}}{_LS32}",
        f"::(?:{_HEX}:){{5}}{_LS32}",
        f"(?:{_HEX})?::(?:{_HEX}:){{4}}{_LS32}",
        f"(?:(?:{_HEX}:)?{_HEX})?::(?:{_HEX}:){{3}}{_LS32}",
        f"(?:(?:{_HEX}:){{0,2}}{_HEX})?::(?:{_HEX}:){{2}}{_LS32}",
        f"(?:(?:{_HEX}:){{0,3}}{_HEX})?::{_HEX}:{_LS32}",
        f"(?:(?:{_HEX}:){{0,4}}{_HEX})?::{_LS32}",
        f"(?:(?:{_HEX}:){{0,5}}{_HEX})?::{_HEX}",
        f"(?:(?:{_HEX}:){{0,6}}{_HEX})?::",
    ]
)
_ZONE_ID = r"(?:%25|%)(?:[A-Za-z0-9._!\-~]|%[a-fA-F0-9]{2})+"
_IPV6_HOST = re.compile(f"(?:{_IPV6})(?:{_ZONE_ID})?")


def _endpoint_host_valid(url: str) -> bool:
    """Whether botocore accepts *url*'s host for an endpoint: host names of letters,
    digits and ``-`` in dot-separated labels (IPv4 addresses among them), or an IPv6
    address in brackets."""
    if "\t" in url or "\r" in url or "\n" in url:
        return False
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    if host is None:
        return False
    if _IPV6_HOST.fullmatch(host):
        return True
    if len(host) > 255:
        return False
    return _HOST_NAME.fullmatch(host.removesuffix(".")) is not None


@attrs.frozen(kw_only=True)
class R2Config:
    """Everything r2store needs to reach a bucket and build URLs for its objects.

    Immutable; make changed copies with ``attrs.evolve``. Construction checks
    every field and raises one :class:`ConfigError` listing all problems.
    Secrets are left out of ``repr``.
    """

    #: Cloudflare account id (32 hex characters); builds the endpoint.
    account_id: str | None = attrs.field(default=None, converter=_strip_or_none)
    #: The bucket's name.
    bucket: str = attrs.field(converter=_strip)
    #: The access key id of an R2 API token.
    access_key_id: str = attrs.field(converter=_strip, repr=_mask)
    #: The secret of that R2 API token. Never shown in ``repr``, messages or logs.
    secret_access_key: str = attrs.field(repr=False)
    #: Base URL objects are publicly served from (no trailing slash), or None.
    public_url: str | None = attrs.field(default=None, converter=_base_url)
    #: Overrides the endpoint built from ``account_id`` and ``jurisdiction``.
    endpoint_url: str | None = attrs.field(default=None, converter=_base_url)
    #: Signing region; R2 uses ``auto``.
    region: str = attrs.field(default="auto", converter=_strip)
    #: Serve media through the app at ``proxy_path`` instead of linking to R2.
    media_proxy: bool = True
    #: None, or the bucket's jurisdiction (``eu``, ``fedramp``, ``us``).
    jurisdiction: str | None = attrs.field(default=None, converter=_lower_or_none)
    #: Prefix under which every key is stored (no surrounding slashes).
    location: str = attrs.field(default="", converter=_location)
    #: URL path the media proxy is mounted at, with leading and trailing slash.
    proxy_path: str = attrs.field(default="/media-proxy/", converter=_proxy_path)
    #: Secret for signed proxy URLs (at least 32 characters), or None.
    proxy_signing_key: str | None = attrs.field(default=None, repr=False)
    #: Cache-Control stored with uploads that do not set their own; the media proxy also
    #: sends it for objects stored without one.
    cache_control: str | None = attrs.field(default=None, converter=_strip_or_none)
    #: Default lifetime of presigned URLs, in seconds (1 s to 7 days).
    url_expires_in: int = 3600
    #: How the media proxy delivers an object: ``proxy`` streams it through the app;
    #: ``redirect`` answers 307 to a presigned URL on the R2 endpoint, which the client
    #: fetches itself (see :class:`~r2store.proxy.MediaProxy`'s ``delivery``).
    media_delivery: str = attrs.field(default="proxy", converter=_lower)
    #: Lifetime of the presigned URLs the media proxy redirects to, in seconds (1 s to 7
    #: days): short, as each is made for one request; long enough for a video's later
    #: range requests, which reuse it.
    redirect_expires_in: int = 300
    #: Seconds to wait for a connection to R2.
    connect_timeout: float = 5.0
    #: Seconds to wait for R2 to answer or send more data.
    read_timeout: float = 60.0
    #: Connections kept to R2; sized for a proxy serving many requests at once.
    max_pool_connections: int = 32
    #: Seconds the media proxy gives R2 to answer one request, retries included; then it
    #: answers 504 (or 503 for a throttled key). The body's streaming is not bounded by it.
    proxy_timeout: float = 10.0
    #: Attempts the media proxy makes for one R2 request: a throttled key must not hold a
    #: server thread through the library's 5 attempts and their backoff.
    proxy_max_attempts: int = 2
    #: Uploads larger than this go multipart.
    multipart_threshold: int = 16 * MiB
    #: Part size for multipart uploads (grown when a file would need more than 10,000 parts).
    multipart_chunksize: int = 8 * MiB
    #: Parts uploaded at once per multipart upload (at most ``max_pool_connections``).
    max_concurrency: int = 4
    #: A botocore ``Config`` merged over r2store's R2-safe client defaults.
    client_config: BotocoreConfig | None = attrs.field(default=None, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        problems = self._problems()
        if problems:
            raise ConfigError(problems)

    @property
    def endpoint(self) -> str:
        """The S3 endpoint URL in use: ``endpoint_url``, else built from the account id."""
        if self.endpoint_url:
            return self.endpoint_url
        zone = f".{self.jurisdiction}" if self.jurisdiction else ""
        return f"https://{self.account_id}{zone}.r2.cloudflarestorage.com"

    @property
    def url_mode(self) -> str:
        """Which URL :meth:`R2Store.url` builds: ``proxy``, ``public`` or ``presigned``."""
        return _url_mode(self)

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        env_file: str | os.PathLike[str] | None = ".env",
        **overrides: Any,
    ) -> R2Config:
        """Read the configuration from environment variables (see :data:`~r2store.config.ENV_VARS`).

        With *environ* None this is ``os.environ`` over the values of *env_file*
        (read with python-dotenv when installed; the real environment wins).
        *overrides* are field values that take precedence over the environment.
        """
        return _from_env(
            cls,
            ENV_VARS,
            environ,
            env_file,
            overrides,
            required=("bucket", "access_key_id", "secret_access_key"),
        )

    def _problems(self) -> list[ConfigProblem]:
        """Every problem with this configuration, named by field."""
        found: list[tuple[str, str]] = []

        def check(field: str, ok: bool, message: str) -> None:
            if not ok:
                found.append((field, message))

        if self.endpoint_url:
            problem = _url_problem(self.endpoint_url, allow_path=False)
            if problem is None and not _endpoint_host_valid(self.endpoint_url):
                host = urlsplit(self.endpoint_url).hostname
                problem = (
                    f"{host!r} is not a host name botocore accepts: letters, digits and '-' "
                    "in dot-separated labels (no '_'), or an IPv6 address in brackets"
                )
            check("endpoint_url", problem is None, str(problem))
        if self.account_id is not None:
            check(
                "account_id",
                _ACCOUNT_ID.fullmatch(self.account_id) is not None,
                _account_id_message(self.account_id),
            )
        elif not self.endpoint_url:
            found.append(("account_id", "missing: it is needed to build the R2 endpoint"))
        found += _bucket_problems(self.bucket)
        for field in ("access_key_id", "secret_access_key"):
            value: str = getattr(self, field)
            check(field, bool(value), "missing")
            # Say what is wrong without ever echoing the value.
            check(
                field,
                not value or (value.isascii() and value.isprintable() and " " not in value),
                "contains spaces, control or non-ASCII characters",
            )
        check("region", _REGION.fullmatch(self.region) is not None, "must be like 'auto'")
        if self.jurisdiction is not None:
            check(
                "jurisdiction",
                self.jurisdiction in JURISDICTIONS,
                f"must be one of {', '.join(sorted(JURISDICTIONS))}, got {self.jurisdiction!r}",
            )
        found += _url_setting_problems(self)
        check(
            "media_delivery",
            self.media_delivery in DELIVERIES,
            f"must be proxy or redirect, got {self.media_delivery!r}",
        )
        # An infinite timeout passes "> 0" but overflows the socket layer on first use.
        for field in ("connect_timeout", "read_timeout", "proxy_timeout"):
            seconds: float = getattr(self, field)
            check(
                field,
                type(seconds) in (int, float) and 0 < seconds <= 3600,
                "must be a positive number of seconds, at most 3600",
            )
        limits = {
            "redirect_expires_in": (1, 604800, "must be from 1 to 604800 seconds (7 days)"),
            "max_pool_connections": (1, 10_000, "must be at least 1"),
            "proxy_max_attempts": (1, 10, "must be from 1 to 10"),
            "max_concurrency": (1, 1_000, "must be at least 1 (and at most 1000)"),
            "multipart_chunksize": (
                5 * MiB,
                5 * 1024 * MiB,
                "must be from 5 MiB to 5 GiB (R2's part size limits)",
            ),
            "multipart_threshold": (
                5 * MiB,
                5 * 1024 * MiB,
                "must be from 5 MiB to 5 GiB (R2's single upload limit)",
            ),
        }
        for field, (low, high, message) in limits.items():
            number = getattr(self, field)
            if type(number) is not int:
                found.append((field, "must be a whole number"))
            else:
                check(field, low <= number <= high, message)
        return [ConfigProblem(field, message) for field, message in found]


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"must be a whole number, got {value!r}") from None


def _float(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"must be a number, got {value!r}") from None


def _str(value: str) -> str:
    return value


#: R2Config field -> (environment variable, parser). R2_PUBLIC_DOMAIN and
#: R2_PUBLIC_URL both feed ``public_url`` and are read separately.
ENV_VARS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "account_id": ("R2_ACCOUNT_ID", _str),
    "bucket": ("R2_BUCKET_NAME", _str),
    "access_key_id": ("R2_ACCESS_KEY_ID", _str),
    "secret_access_key": ("R2_SECRET_ACCESS_KEY", _str),
    "endpoint_url": ("R2_ENDPOINT_URL", _str),
    "region": ("R2_REGION_NAME", _str),
    "media_proxy": ("USE_R2_MEDIA_PROXY", parse_bool),
    "jurisdiction": ("R2_JURISDICTION", _str),
    "location": ("R2_LOCATION", _str),
    "proxy_path": ("R2_MEDIA_PROXY_PATH", _str),
    "proxy_signing_key": ("R2_PROXY_SIGNING_KEY", _str),
    "cache_control": ("R2_CACHE_CONTROL", _str),
    "url_expires_in": ("R2_URL_EXPIRES_IN", _int),
    "media_delivery": ("R2_MEDIA_DELIVERY", _str),
    "redirect_expires_in": ("R2_REDIRECT_EXPIRES_IN", _int),
    "connect_timeout": ("R2_CONNECT_TIMEOUT", _float),
    "read_timeout": ("R2_READ_TIMEOUT", _float),
    "max_pool_connections": ("R2_MAX_POOL_CONNECTIONS", _int),
    "proxy_timeout": ("R2_PROXY_TIMEOUT", _float),
    "proxy_max_attempts": ("R2_PROXY_MAX_ATTEMPTS", _int),
    "multipart_threshold": ("R2_MULTIPART_THRESHOLD", _int),
    "multipart_chunksize": ("R2_MULTIPART_CHUNKSIZE", _int),
    "max_concurrency": ("R2_MAX_CONCURRENCY", _int),
}


_C = TypeVar("_C", "R2Config", "LocalConfig")


def _from_env(
    cls: type[_C],
    env_vars: Mapping[str, tuple[str, Callable[[str], Any]]],
    environ: Mapping[str, str] | None,
    env_file: str | os.PathLike[str] | None,
    overrides: Mapping[str, Any],
    *,
    required: tuple[str, ...] = (),
) -> _C:
    """Build *cls* from the variables of *env_vars* (field -> (variable, parser)), naming
    every problem by its variable in one :class:`ConfigError`."""
    env, hint = _read_environ(environ, env_file)
    values: dict[str, Any] = {}
    problems: list[ConfigProblem] = []
    for field, (var, parse) in env_vars.items():
        raw = env.get(var, "").strip()
        if raw:
            try:
                values[field] = parse(raw)
            except ValueError as exc:
                problems.append(ConfigProblem(var, str(exc)))
    public, problem = _public_url(env.get("R2_PUBLIC_DOMAIN", ""), env.get("R2_PUBLIC_URL", ""))
    if problem:
        problems.append(problem)
    elif public:
        values["public_url"] = public
    for name in required:
        values.setdefault(name, "")
    values.update(overrides)
    try:
        config = cls(**values)
    except ConfigError as exc:
        named = {field: var for field, (var, _) in env_vars.items()}
        # public_url came from whichever of the two variables was set.
        named["public_url"] = (
            "R2_PUBLIC_URL" if env.get("R2_PUBLIC_URL", "").strip() else "R2_PUBLIC_DOMAIN"
        )
        parsed_badly = {p.name for p in problems}
        problems += [
            ConfigProblem(named.get(p.name, p.name), p.message)
            for p in exc.problems
            if named.get(p.name) not in parsed_badly
        ]
    if problems:
        raise ConfigError(problems, hint=hint)
    return config


def _public_url(domain: str, url: str) -> tuple[str | None, ConfigProblem | None]:
    """Combine R2_PUBLIC_DOMAIN (a host) and R2_PUBLIC_URL (a base URL) into one base URL."""
    domain, url = domain.strip(), url.strip().rstrip("/")
    from_domain = None
    if domain:
        host = domain.removeprefix("https://").removeprefix("http://").rstrip("/")
        if not host or "/" in host or "?" in host or "#" in host:
            return None, ConfigProblem(
                "R2_PUBLIC_DOMAIN",
                f"must be a host name like pub-xxxx.r2.dev, without a path, got {_shown(domain)}; "
                "use R2_PUBLIC_URL for a base URL with a path",
            )
        scheme = "http://" if domain.startswith("http://") else "https://"
        from_domain = scheme + host
    if from_domain and url and from_domain.lower() != url.lower():
        return None, ConfigProblem(
            "R2_PUBLIC_DOMAIN / R2_PUBLIC_URL",
            f"disagree ({_shown(from_domain)} vs {_shown(url)}); set only one of them",
        )
    return (url or from_domain), None


def _read_environ(
    environ: Mapping[str, str] | None, env_file: str | os.PathLike[str] | None
) -> tuple[Mapping[str, str], str | None]:
    """The variables to read, and a hint for error messages when a .env file was not read."""
    if environ is not None:
        return environ, None
    if env_file is None or not Path(env_file).is_file():
        return os.environ, None
    try:
        from dotenv import dotenv_values
    except ImportError:
        return os.environ, (
            f"note: {os.fspath(env_file)!r} was not read because python-dotenv is not "
            "installed (pip install 'r2store[dotenv]')"
        )
    from_file = {k: v for k, v in dotenv_values(env_file).items() if v is not None}
    return {**from_file, **os.environ}, None


def r2_enabled(
    environ: Mapping[str, str] | None = None,
    *,
    env_file: str | os.PathLike[str] | None = ".env",
    variable: str = "USE_R2",
) -> bool:
    """Whether ``USE_R2`` (or another switch, *variable*) turns R2 on. Unset (or empty) is
    False; a value that is not a boolean is a :class:`ConfigError`, never a silent "no"."""
    env, hint = _read_environ(environ, env_file)
    raw = env.get(variable, "").strip()
    if not raw:
        return False
    try:
        return parse_bool(raw)
    except ValueError as exc:
        raise ConfigError([ConfigProblem(variable, str(exc))], hint=hint) from None
