"""The ``Store`` protocol: what R2Store and LocalStore both are, for code that takes either.

The media proxy, the WSGI and ASGI adapters and the audit type against
:class:`Store`, never against a backend, so a new backend enters by
satisfying it. :class:`URLSettings` is the part of a configuration that URLs
and the proxy read; :class:`~r2store.R2Config` and
:class:`~r2store.LocalConfig` both have it.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from datetime import datetime

    from .localstore import LocalStore
    from .objects import ObjectReader, ObjectStat
    from .store import Content, R2Store
    from .writer import ObjectWriter

__all__ = ["Store", "URLSettings", "store_from_env"]


class URLSettings(Protocol):
    """The settings that decide an object's URLs and how the media proxy serves it."""

    @property
    def bucket(self) -> str:
        """The bucket's name (a local store has a stand-in: signed proxy URLs name it)."""

    @property
    def location(self) -> str:
        """Prefix under which every key is stored (no surrounding slashes)."""

    @property
    def proxy_path(self) -> str:
        """URL path the media proxy is mounted at, with leading and trailing slash."""

    @property
    def media_proxy(self) -> bool:
        """Whether :meth:`Store.url` gives media proxy URLs."""

    @property
    def public_url(self) -> str | None:
        """Base URL objects are publicly served from, or None."""

    @property
    def proxy_signing_key(self) -> str | None:
        """Secret for signed proxy URLs, or None."""

    @property
    def cache_control(self) -> str | None:
        """Cache-Control for uploads that set none, and for the proxy's answers."""

    @property
    def url_expires_in(self) -> int:
        """Default lifetime of signed and presigned URLs, in seconds."""

    @property
    def url_mode(self) -> str:
        """Which URL :meth:`Store.url` builds: ``proxy``, ``public`` or ``presigned``."""


class Store(Protocol):
    """Object operations and URLs on one bucket or folder: R2Store, LocalStore.

    Keys are relative to ``config.location`` and pass through the one key
    normaliser (:func:`r2store.keys.object_key`); errors are those of
    :mod:`r2store.errors`. See :class:`~r2store.R2Store` for each method.
    """

    @property
    def config(self) -> URLSettings:
        """The store's settings (at least the URL settings)."""

    def save(
        self,
        key: str,
        content: Content,
        *,
        content_type: str | None = None,
        overwrite: bool = False,
        metadata: Mapping[str, str] | None = None,
        cache_control: str | None = None,
        content_disposition: str | None = None,
        content_encoding: str | None = None,
    ) -> str:
        """Store *content* under *key*; atomic create unless *overwrite*."""

    def open(
        self,
        key: str,
        *,
        range: str | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        if_modified_since: datetime | None = None,
        if_unmodified_since: datetime | None = None,
    ) -> ObjectReader:
        """Open the object for streaming reads, with an optional range and conditions."""

    def open_write(
        self,
        key: str,
        *,
        content_type: str | None = None,
        overwrite: bool = False,
        metadata: Mapping[str, str] | None = None,
        cache_control: str | None = None,
        content_disposition: str | None = None,
    ) -> ObjectWriter:
        """A writable binary file; closing it stores what was written."""

    def read(self, key: str) -> bytes:
        """The object's whole content."""

    def stat(self, key: str) -> ObjectStat:
        """The object's metadata."""

    def exists(self, key: str) -> bool:
        """Whether an object exists under *key*."""

    def list(self, prefix: str = "", *, page_size: int = 1000) -> Iterator[ObjectStat]:
        """Every object whose key starts with *prefix*, in key order."""

    def listdir(self, prefix: str = "") -> tuple[builtins.list[str], builtins.list[str]]:
        """The "directories" and file names directly under *prefix*."""

    def delete(self, key: str) -> None:
        """Delete the object; a missing key is not an error."""

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete many objects; missing keys are not errors."""

    def copy(self, source: str, destination: str) -> None:
        """Copy an object (content and metadata) to another key."""

    def url(self, key: str) -> str:
        """The URL pages should use for *key*, by ``config.url_mode``."""

    def proxy_url(self, key: str, *, expires_in: int | None = None) -> str:
        """The object's URL on the app's media proxy."""

    def public_url(self, key: str) -> str:
        """The object's URL under the configured public URL."""

    def presigned_url(
        self,
        key: str,
        *,
        expires_in: int | None = None,
        method: str = "GET",
        content_type: str | None = None,
        content_disposition: str | None = None,
        content_length: int | None = None,
        create_only: bool = False,
    ) -> str:
        """A URL that grants *method* on the object until it expires."""

    def close(self) -> None:
        """Release what the store holds open; it stays usable."""


def store_from_env(environ: Mapping[str, str] | None = None) -> R2Store | LocalStore:
    """The store the environment asks for: an :class:`~r2store.R2Store` when ``USE_R2``
    is true, else a :class:`~r2store.LocalStore` at ``R2_LOCAL_ROOT``.

    With ``USE_R2`` true, a missing or wrong ``R2_*`` variable is a
    :class:`~r2store.errors.ConfigError` naming each one, never a quiet fall back
    to local files; a ``USE_R2`` that is not a boolean is one too.
    """
    from .config import r2_enabled

    if r2_enabled(environ):
        from .store import R2Store

        return R2Store.from_env(environ)
    from .localstore import LocalStore

    return LocalStore.from_env(environ)
