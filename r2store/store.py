"""R2Store: object operations on one bucket, over lazily made, shared clients.

Reads (GetObject, HeadObject, ListObjectsV2) and the writes of bytes (PutObject,
UploadPart; see :mod:`r2store.upload`) go through :mod:`r2store._transport`, a urllib3
pool with r2store's own SigV4 signing; the other writes (multipart bookkeeping, Delete,
Copy) go through botocore. Each is made on first use, so a process that only reads and
saves small objects never imports botocore.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Iterable, Iterator, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .config import R2Config
from .errors import ObjectNotFoundError, R2StoreError, UpstreamError, raise_mapped
from .keys import object_key, object_prefix, relative_key
from .objects import Body, ObjectReader, ObjectStat, write_headers
from .upload import Content, part_size_for, save
from .urls import URLBuilder
from .writer import ObjectWriter

if TYPE_CHECKING:
    from datetime import datetime

    from ._transport import RequestHook, Transport

__all__ = ["Content", "R2Store", "part_size_for"]

_DELETE_BATCH = 1000
# Retries after the first attempt, for botocore's client and the transport alike.
_MAX_RETRIES = 4


class R2Store:
    """Object operations and URLs for the bucket an :class:`R2Config` describes.

    Safe to share between threads. Reads and the writes of bytes (PutObject,
    UploadPart) go through a small urllib3 client (:attr:`transport`), the
    other writes through botocore's S3 client (:attr:`client`); each is
    created on first use, once, and reused by every thread. Nothing here
    imports urllib3 until the first request, nor botocore until the first
    request that needs it (a multipart upload, a delete, a copy).
    """

    def __init__(self, config: R2Config) -> None:
        self.config = config
        self._client: Any = None
        self._transport: Transport | None = None
        #: Callables ``hook(method, url)`` run before every HTTP attempt the transport
        #: sends (GetObject, HeadObject, ListObjectsV2, PutObject, UploadPart), retries
        #: included: for tests and observability. For the requests botocore sends,
        #: ``client.meta.events`` (``before-send.s3``) serve the same purpose.
        self.request_hooks: builtins.list[RequestHook] = []
        self._lock = threading.Lock()
        self._urls = URLBuilder(config)
        self._proxy_mode = config.media_proxy
        self._public_mode = config.public_url is not None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> R2Store:
        """A store configured from the environment; see :meth:`R2Config.from_env`."""
        return cls(R2Config.from_env(environ, **overrides))

    def __repr__(self) -> str:
        return f"<R2Store bucket={self.config.bucket!r} endpoint={self.config.endpoint!r}>"

    def close(self) -> None:
        """Close both clients' connections. The store stays usable: the next
        request makes a new client."""
        with self._lock:
            client, self._client = self._client, None
            transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()
        if client is not None:
            client.close()

    def __enter__(self) -> R2Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        # Clients and locks do not pickle; a copy makes its own on first use.
        return {"config": self.config}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["config"])  # type: ignore[misc]

    # -- the clients --------------------------------------------------------

    @property
    def client(self) -> Any:
        """The botocore S3 client for the writes the transport does not send (multipart
        bookkeeping, Delete, Copy), created on first use with R2-safe settings."""
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = _make_client(self.config)
                client = self._client
        return client

    @property
    def transport(self) -> Transport:
        """The client for reads (GetObject, HeadObject, ListObjectsV2) and the writes of
        bytes (PutObject, UploadPart), created on first use.

        It signs with r2store's own SigV4 code and sends through a urllib3 pool of
        ``max_pool_connections``, with the same timeouts and retries as :attr:`client`.
        """
        transport = self._transport
        if transport is None:
            with self._lock:
                if self._transport is None:
                    # Imported here: urllib3 is not needed to import r2store.
                    from ._transport import Transport

                    self._transport = Transport(
                        self.config, hooks=self.request_hooks, max_attempts=_MAX_RETRIES + 1
                    )
                transport = self._transport
        return transport

    def _key(self, key: str) -> str:
        return object_key(key, self.config.location)

    # -- URLs ---------------------------------------------------------------

    def url(self, key: str) -> str:
        """The URL pages should use for *key*, by ``config.url_mode``: the media
        proxy, else the public URL, else a presigned URL (no network either way)."""
        if self._proxy_mode:
            return self._urls.proxy(key)
        if self._public_mode:
            return self._urls.public(key)
        return self._urls.presigned(key)

    def public_url(self, key: str) -> str:
        """The object's URL under the configured public domain or URL (no network)."""
        return self._urls.public(key)

    def proxy_url(self, key: str, *, expires_in: int | None = None) -> str:
        """The object's URL on the app's media proxy (no network); signed, with an
        expiry, when ``proxy_signing_key`` is set."""
        return self._urls.proxy(key, expires_in=expires_in)

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
        """A URL that grants *method* on the object until it expires (no network).

        ``method="PUT"`` with *content_type* lets a browser upload straight to R2;
        *content_length* and *create_only* pin the size and forbid overwriting (see
        :mod:`r2store.uploads`, which issues such URLs as upload tickets).
        Presigned URLs work only on the R2 endpoint, never on a custom domain.
        """
        return self._urls.presigned(
            key,
            expires_in=expires_in,
            method=method,
            content_type=content_type,
            content_disposition=content_disposition,
            content_length=content_length,
            create_only=create_only,
        )

    # -- reading ------------------------------------------------------------

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
        """Open the object for streaming reads: one GetObject, read as you read.

        *range* and the conditions are sent with the same request, as HTTP
        headers; unmet conditions raise :class:`~r2store.errors.NotModifiedError`,
        :class:`~r2store.errors.PreconditionFailedError` or
        :class:`~r2store.errors.RangeNotSatisfiableError`.
        """
        full_key = self._key(key)
        headers: dict[str, str] = {}
        if range is not None:
            headers["range"] = range
        if if_match is not None:
            headers["if-match"] = if_match
        if if_none_match is not None:
            headers["if-none-match"] = if_none_match
        if if_modified_since is not None or if_unmodified_since is not None:
            # Imported here: the HTTP helpers are not needed to import r2store.
            from ._http import format_http_date

            if if_modified_since is not None:
                headers["if-modified-since"] = format_http_date(if_modified_since)
            if if_unmodified_since is not None:
                headers["if-unmodified-since"] = format_http_date(if_unmodified_since)
        transport = self.transport
        try:
            response = transport.get_object(full_key, headers)
        except Exception as exc:
            raise_mapped(exc, key=key)
        try:
            stat = ObjectStat.from_headers(key, response.headers)
        except ValueError as exc:
            response.body.close()
            raise UpstreamError(f"R2 answered with unreadable headers for key {key!r}") from exc
        content_range = response.headers.get("content-range")
        if headers:
            return ObjectReader(key, response.body, stat, content_range=content_range)
        # A whole-object reader can seek, by asking for the rest from a new position.
        # If-Match keeps a seek from splicing in a newer version of the object.
        etag = stat.etag

        def reopen(start: int) -> Body:
            extra = {"range": f"bytes={start}-"}
            if etag:
                extra["if-match"] = etag
            again = transport.get_object(full_key, extra)
            if again.status != 206:
                # A whole object from byte 0 where the rest was asked for would be read
                # as if it started at *start*: refuse it rather than splice wrong bytes.
                again.body.close()
                raise UpstreamError(f"R2 ignored the Range of a seek in {key!r}")
            return again.body

        return ObjectReader(key, response.body, stat, content_range=content_range, reopen=reopen)

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
        """A writable binary file; closing it stores what was written under *key*.

        It has :meth:`save`'s guarantees (one PutObject when small, equal
        multipart parts when large, atomic create unless *overwrite*), and
        leaving a ``with`` block on an exception stores nothing.
        """
        # Check the key and the headers now, not at close().
        full_key = self._key(key)
        params = self._write_params(key, content_type, metadata, cache_control, content_disposition)
        return ObjectWriter(
            key, partial(save, self, key, full_key, extra=params, overwrite=overwrite)
        )

    def read(self, key: str) -> bytes:
        """The object's whole content (one request)."""
        with self.open(key) as reader:
            return reader.read()

    def stat(self, key: str) -> ObjectStat:
        """The object's metadata, from one HeadObject."""
        full_key = self._key(key)
        try:
            return ObjectStat.from_headers(key, self.transport.head_object(full_key))
        except Exception as exc:
            raise_mapped(exc, key=key)

    def exists(self, key: str) -> bool:
        """Whether an object exists under *key* (one HeadObject)."""
        try:
            self.stat(key)
        except ObjectNotFoundError:
            return False
        return True

    def list(self, prefix: str = "", *, page_size: int = 1000) -> Iterator[ObjectStat]:
        """Every object whose key starts with *prefix*, in key order.

        Pages of up to *page_size* keys (R2's maximum is 1,000) are fetched as
        the iteration reaches them.
        """
        location = self.config.location
        full_prefix = object_prefix(prefix, location)
        transport = self.transport
        token: str | None = None
        while True:
            try:
                page = transport.list_objects_v2(
                    full_prefix, max_keys=page_size, continuation_token=token
                )
            except Exception as exc:
                raise_mapped(exc)
            for item in page.objects:
                yield ObjectStat(
                    key=relative_key(item.key, location),
                    size=item.size,
                    etag=item.etag,
                    last_modified=item.last_modified,
                )
            token = _next_token(page.is_truncated, page.next_token)
            if token is None:
                return

    def listdir(self, prefix: str = "") -> tuple[builtins.list[str], builtins.list[str]]:
        """The "directories" and file names directly under *prefix*, as ``os.listdir`` would."""
        location = self.config.location
        base = object_prefix(prefix.rstrip("/") + "/" if prefix.strip("/") else "", location)
        transport = self.transport
        dirs: builtins.list[str] = []
        files: builtins.list[str] = []
        token: str | None = None
        while True:
            try:
                page = transport.list_objects_v2(base, delimiter="/", continuation_token=token)
            except Exception as exc:
                raise_mapped(exc)
            dirs += [p[len(base) :].rstrip("/") for p in page.prefixes]
            files += [item.key[len(base) :] for item in page.objects]
            token = _next_token(page.is_truncated, page.next_token)
            if token is None:
                return dirs, files

    # -- writing ------------------------------------------------------------

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
        """Store *content* under *key* and return the key.

        With ``overwrite=False`` (the default) the write is an atomic create
        (``If-None-Match: *``): if the key exists, or another writer gets
        there first, nothing is written and
        :class:`~r2store.errors.ObjectExistsError` is raised. File objects
        are streamed from their current position; content above
        ``multipart_threshold`` goes up in equal-size parts, and a failed
        multipart upload is aborted, so a partial object never appears.
        """
        full_key = self._key(key)
        params = self._write_params(
            key, content_type, metadata, cache_control, content_disposition, content_encoding
        )
        return save(self, key, full_key, content, extra=params, overwrite=overwrite)

    def _write_params(
        self,
        key: str,
        content_type: str | None,
        metadata: Mapping[str, str] | None,
        cache_control: str | None,
        content_disposition: str | None,
        content_encoding: str | None = None,
    ) -> dict[str, Any]:
        """PutObject's header parameters, checked: a write R2 would refuse sends nothing."""
        return write_headers(
            key,
            content_type=content_type,
            metadata=metadata,
            cache_control=cache_control or self.config.cache_control,
            content_disposition=content_disposition,
            content_encoding=content_encoding,
        )

    def delete(self, key: str) -> None:
        """Delete the object; a missing key is not an error."""
        try:
            self.client.delete_object(Bucket=self.config.bucket, Key=self._key(key))
        except Exception as exc:
            raise_mapped(exc, key=key)

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete many objects, 1,000 per request; missing keys are not errors."""
        full_keys = [self._key(key) for key in keys]
        for start in range(0, len(full_keys), _DELETE_BATCH):
            batch = full_keys[start : start + _DELETE_BATCH]
            try:
                response = self.client.delete_objects(
                    Bucket=self.config.bucket,
                    Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
                )
            except Exception as exc:
                raise_mapped(exc)
            errors = response.get("Errors") or []
            if errors:
                failed = ", ".join(repr(e.get("Key")) for e in errors[:5])
                raise R2StoreError(f"could not delete {len(errors)} object(s): {failed}")

    def copy(self, source: str, destination: str) -> None:
        """Copy an object (content and metadata) to another key in the bucket."""
        try:
            self.client.copy_object(
                Bucket=self.config.bucket,
                Key=self._key(destination),
                CopySource={"Bucket": self.config.bucket, "Key": self._key(source)},
            )
        except Exception as exc:
            raise_mapped(exc, key=source)


def _make_client(config: R2Config) -> Any:
    """Create the S3 client with defaults that suit R2, merged with ``client_config``."""
    import botocore.session
    from botocore.config import Config

    defaults = Config(
        signature_version="s3v4",
        region_name=config.region,
        # R2 takes both styles; path style also works with any local endpoint.
        s3={"addressing_style": "path"},
        # boto3 >= 1.36 sends checksum headers R2 rejects for some operations.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"mode": "standard", "max_attempts": _MAX_RETRIES},
        max_pool_connections=config.max_pool_connections,
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        tcp_keepalive=True,
        user_agent_appid=f"r2store-{__version__}",
    )
    merged = defaults.merge(config.client_config) if config.client_config else defaults
    # A private session: no shared state with the process's default boto3 session.
    session = botocore.session.Session()
    return session.create_client(
        "s3",
        region_name=config.region,
        endpoint_url=config.endpoint,
        aws_access_key_id=config.access_key_id,
        aws_secret_access_key=config.secret_access_key,
        config=merged,
    )


def _next_token(truncated: bool, token: str | None) -> str | None:
    """The continuation token of a listing page, or None after the last page."""
    if not truncated:
        return None
    if not token:
        # Asking again without a token would start over: a loop, not a listing.
        raise R2StoreError("R2 sent a truncated listing without a continuation token")
    return token
