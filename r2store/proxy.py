"""The media proxy's HTTP logic, once, for every adapter.

:meth:`MediaProxy.handle` takes what any server can give -- method, the
already-decoded key path, lower-case headers, the query string -- and returns
a :class:`ProxyResponse`: status, headers and, for a body, an open
:class:`~r2store.objects.ObjectReader` to stream. The WSGI, ASGI and Django
adapters only translate to and from this.

One GetObject per GET, with the Range; a revalidation (If-None-Match,
If-Modified-Since) starts with a HeadObject instead, which is all a 304
costs (see :meth:`MediaProxy._get`). Every condition is evaluated here, on
what R2 answered, and none is sent upstream, so that what the client
receives never depends on how faithfully the upstream implemented RFC 9110.

In redirect delivery (``delivery``) there is no R2 request at all: after the
same checks (key, signed URL, ``authorize``) the answer is a 307 to a
presigned URL, and the client sends its Range and conditions to R2 itself.

In local mode the proxy also takes uploads: a LocalStore's presigned PUT is a
signed URL here, and :meth:`MediaProxy._put` checks it as R2 would and stores
the body the adapter hands over (``handle(..., body=...)``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import attrs

from . import _budget, _http, _serving, urls
from .config import DELIVERIES
from .errors import (
    AccessDeniedError,
    InvalidKeyError,
    InvalidMetadataError,
    ObjectExistsError,
    ObjectNotFoundError,
    PreconditionFailedError,
    R2StoreError,
    RangeNotSatisfiableError,
    UpstreamBusyError,
    UpstreamTimeoutError,
)
from .keys import object_key
from .objects import DEFAULT_CHUNK_SIZE, FIRST_CHUNK_SIZE, ObjectReader, ObjectStat

if TYPE_CHECKING:
    from .protocol import Store, URLSettings
    from .upload import BinaryReadable

__all__ = ["RETRY_AFTER", "Authorize", "Delivery", "MediaProxy", "ProxyResponse", "busy"]

logger = logging.getLogger("r2store.proxy")

#: ``authorize(request, key) -> bool``: *request* is whatever the adapter
#: serves (a WSGI environ, an ASGI scope, a Django HttpRequest); *key* is
#: relative to ``location``. False answers 403.
Authorize = Callable[[Any, str], bool]
#: ``delivery(request, key) -> "proxy" | "redirect"``: how to deliver *key* to this
#: request, with the arguments ``authorize`` gets. It sees no size or type: knowing
#: them would cost a HeadObject per request, which a redirect exists to avoid.
Delivery = Callable[[Any, str], str]

_ALLOW = "GET, HEAD"
_DEFAULT_CACHE_CONTROL = "public, max-age=3600"
#: Seconds a 503 asks the client to wait (``Retry-After``): R2 throttles a key for about
#: a second, and a slot of a busy proxy frees as soon as one stream ends.
RETRY_AFTER = 1
#: The longest wait between the proxy's attempts: a client is waiting.
_PROXY_MAX_BACKOFF = 0.5


def _lower_types(types: Iterable[str]) -> frozenset[str]:
    return frozenset(t.lower() for t in types)


def _check_delivery(instance: object, attribute: object, value: str | Delivery) -> None:
    if isinstance(value, str) and value not in DELIVERIES:
        raise ValueError(f"delivery must be 'proxy', 'redirect' or a callable, got {value!r}")


@attrs.define
class ProxyResponse:
    """What to send: status, headers, and an open body to stream (then close) or bytes."""

    status: int
    headers: list[tuple[str, str]]
    body: ObjectReader | bytes = b""

    def next_chunk(self, size: int) -> bytes:
        """The body's next chunk for the client, at most *size* bytes; ``b""`` at the end.

        The first chunk is at most :data:`~r2store.objects.FIRST_CHUNK_SIZE`: a read
        returns only once its whole chunk has arrived, and the client should get bytes
        before that. A failure is logged and raised again: the headers are out by then,
        so the adapter lets it propagate and the server cuts the connection -- the
        client sees a truncated transfer, never a complete-looking one.
        """
        body = self.body
        assert isinstance(body, ObjectReader), "only a streamed body has chunks"
        try:
            return body.read(size if body.tell() else min(FIRST_CHUNK_SIZE, size))
        except Exception:
            logger.error("media proxy: R2 failed mid-body serving %r", body.name, exc_info=True)
            raise

    def close(self) -> None:
        """Release the upstream connection, if there is one."""
        if isinstance(self.body, ObjectReader):
            self.body.close()


@attrs.define(kw_only=True)
class MediaProxy:
    """Serves a store's objects over HTTP, correctly and safely.

    :param store: the store to serve from.
    :param cache_control: ``Cache-Control`` for objects stored without one (on their
        200, 206 and 304 alike); by default ``R2_CACHE_CONTROL`` (what the store gives
        its uploads), else ``public, max-age=3600``.
    :param allow_types: media types served inline even though a browser could
        run script in them (``image/svg+xml``, say); by default such files are
        sent as downloads. A JavaScript type is never served, allowed or not.
    :param authorize: a hook that may refuse a request (403), e.g. to require
        login for some prefixes.
    :param chunk_size: bytes per read from R2 and per write to the client.
    :param delivery: ``"proxy"`` streams objects through the app; ``"redirect"``
        answers 307 to a presigned URL on the R2 endpoint, valid for the store's
        ``redirect_expires_in`` seconds; a :data:`Delivery` hook chooses per request
        (redirect ``videos/``, proxy the rest). By default the store's
        ``media_delivery`` (``R2_MEDIA_DELIVERY``). A store that cannot presign (a
        LocalStore) always proxies, so development needs no bucket.
    """

    store: Store
    cache_control: str = attrs.field(
        default=attrs.Factory(
            lambda self: self.store.config.cache_control or _DEFAULT_CACHE_CONTROL,
            takes_self=True,
        )
    )
    allow_types: frozenset[str] = attrs.field(default=frozenset(), converter=_lower_types)
    authorize: Authorize | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE
    delivery: str | Delivery = attrs.field(
        default=attrs.Factory(
            lambda self: getattr(self.store.config, "media_delivery", "proxy"), takes_self=True
        ),
        validator=_check_delivery,
    )

    def handle(
        self,
        method: str,
        key: str,
        headers: Mapping[str, str],
        query: str = "",
        request: Any = None,
        body: BinaryReadable | None = None,
    ) -> ProxyResponse:
        """Answer one request for *key* (the path below the proxy's prefix, decoded once).

        *body* is the request's body, to read with ``read(n)``: a PUT on a signed upload
        URL of a store whose uploads go through the proxy (see :meth:`_put`) stores it.
        """
        if method == "PUT" and body is not None and self._takes_puts():
            params = parse_qs(query)
            if "signature" in params:
                return self._put(key, headers, params, request, body)
        if method not in ("GET", "HEAD"):
            return _plain(405, "Method Not Allowed", [("Allow", _ALLOW)])
        config = self.store.config
        try:
            object_key(key, config.location)
        except InvalidKeyError:
            return _plain(404, "Not Found")
        if config.proxy_signing_key is not None:
            params = parse_qs(query)
            expires = params.get("expires", [None])[-1]
            signature = params.get("signature", [None])[-1]
            if not urls.proxy_signature_valid(config, key, expires, signature):
                return _plain(403, "Forbidden")
        if self.authorize is not None and not self.authorize(request, key):
            return _plain(403, "Forbidden")
        # None when the store cannot presign (a LocalStore's config has no such field).
        redirect_expires_in: int | None = getattr(config, "redirect_expires_in", None)
        if redirect_expires_in is not None and self._redirects(request, key):
            return self._redirect(method, key, redirect_expires_in)
        try:
            # Every R2 request made for this one -- a HEAD after a 416, a second GET for a
            # stale If-Range -- shares its deadline and few attempts (see _budget).
            with _request_budget(config):
                if method == "HEAD":
                    return self._head(key, headers)
                return self._get(key, headers)
        except ObjectNotFoundError:
            return _plain(404, "Not Found")
        except PreconditionFailedError:
            return _plain(412, "Precondition Failed")
        except UpstreamTimeoutError:
            logger.warning("media proxy: R2 timed out serving %r", key, exc_info=True)
            return _plain(504, "Gateway Timeout")
        except UpstreamBusyError:
            logger.warning("media proxy: R2 is throttling or busy serving %r", key, exc_info=True)
            return busy()
        except (AccessDeniedError, R2StoreError):
            logger.error("media proxy: R2 failed serving %r", key, exc_info=True)
            return _plain(502, "Bad Gateway")

    def _takes_puts(self) -> bool:
        """Whether signed PUTs are for :meth:`_put`: the store's presigned PUTs come here
        (a LocalStore's) and it signs URLs. Any other PUT, or one with no signature, is 405."""
        return (
            getattr(self.store, "uploads_through_proxy", False)
            and self.store.config.proxy_signing_key is not None
        )

    def _put(
        self,
        key: str,
        headers: Mapping[str, str],
        params: dict[str, list[str]],
        request: Any,
        body: BinaryReadable,
    ) -> ProxyResponse:
        """Store *body* under *key* as its signed PUT URL allows: local mode's presigned PUT.

        As R2 does with a presigned PUT: a signature that is not a PUT's for this key
        (a GET's, a tampered or expired one) is 403; so is a ``Content-Type`` or
        ``Content-Length`` other than the signed one. No length is 411 (a chunked body
        has none). A create-only URL finds an object there: 412. No more than the
        length is read, and a body that ends short stores nothing (400).
        """
        config = self.store.config
        try:
            object_key(key, config.location)
        except InvalidKeyError:
            return _plain(404, "Not Found")
        signed = urls.signed_put(config, key, params)
        if signed is None:
            return _plain(403, "Forbidden")
        if self.authorize is not None and not self.authorize(request, key):
            return _plain(403, "Forbidden")
        length_header = headers.get("content-length", "").strip()
        if not length_header:
            return _plain(411, "Length Required")
        if not (length_header.isascii() and length_header.isdigit()):
            return _plain(400, "Bad Request")
        length = int(length_header)
        content_type = headers.get("content-type", "").strip()
        if signed.content_length is not None and length != signed.content_length:
            return _plain(403, "Forbidden")
        if signed.content_type and content_type != signed.content_type:
            return _plain(403, "Forbidden")
        try:
            self.store.save(
                key,
                _ExactBody(body, length),
                content_type=content_type or None,
                overwrite=not signed.create_only,
            )
        except ObjectExistsError:
            return _plain(412, "Precondition Failed")
        except (_ShortBodyError, InvalidMetadataError):
            return _plain(400, "Bad Request")
        except InvalidKeyError:
            # A folder on the key's path is a file, or the key is one of the store's own.
            return _plain(409, "Conflict")
        except R2StoreError:
            logger.error("media proxy: storing %r failed", key, exc_info=True)
            return _plain(500, "Internal Server Error")
        return _plain(200, "OK")

    @property
    def answers_without_blocking(self) -> bool:
        """Whether :meth:`handle` answers every request by string work alone: no
        ``authorize`` hook to run, and every object redirected, so nothing is read from R2.

        An async adapter may then call it on the event loop: a redirect costs ~10 µs,
        a hop to a worker thread and back over 100 µs of CPU.
        """
        return (
            self.authorize is None
            and self.delivery == "redirect"
            and getattr(self.store.config, "redirect_expires_in", None) is not None
        )

    def _redirects(self, request: Any, key: str) -> bool:
        """Whether *key* goes to this request as a redirect, by ``delivery``."""
        delivery = self.delivery
        choice = delivery if isinstance(delivery, str) else delivery(request, key)
        if choice not in DELIVERIES:
            raise ValueError(f"delivery hook must return 'proxy' or 'redirect', got {choice!r}")
        return choice == "redirect"

    def _redirect(self, method: str, key: str, expires_in: int) -> ProxyResponse:
        """307 to a URL presigned for *method*, and cacheable for half its life, privately.

        307, not 302: the signature covers the method, so a HEAD must be repeated as a
        HEAD, and only 307 obliges a client to keep it (RFC 9110 §15.4.8). Neither is
        cached without a Cache-Control saying so. This one lets the browser, and no
        shared cache (``private``), reuse the redirect for half the URL's life: a page
        shown again then finds the same URL and so the object in its own cache, and a
        video following a cached redirect late still has the other half for the range
        requests it sends to the same URL. A CDN never stores it, so it can never hand
        out a URL that has expired.
        """
        location = self.store.presigned_url(key, expires_in=expires_in, method=method)
        max_age = expires_in // 2
        headers = [
            ("Location", location),
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", "0"),
            ("Cache-Control", f"private, max-age={max_age}" if max_age else "no-store"),
            *_serving.SECURITY_HEADERS,
        ]
        return ProxyResponse(307, headers)

    def _head(self, key: str, headers: Mapping[str, str]) -> ProxyResponse:
        stat = self.store.stat(key)
        status = _http.evaluate_preconditions("HEAD", headers, stat.etag, stat.last_modified)
        if status != 200:
            return self._conditional(status, stat)
        return ProxyResponse(200, self._headers(stat, key, stat.size))

    def _get(self, key: str, headers: Mapping[str, str]) -> ProxyResponse:
        if _revalidates(headers):
            # A revalidation is decided here from a HeadObject, never from an
            # upstream 304: S3-compatible servers differ in what a 304 carries
            # (moto's has only the ETag, rclone's a Cache-Control), and ours
            # must carry what the 200 would (RFC 9110 §15.4.5), or a cache
            # stores the wrong lifetime. A HEAD first costs one request
            # for the usual answer, the 304 of an unchanged upload; only a
            # changed object costs two (HEAD, then the GET). A conditional GET
            # with a HEAD after its upstream 304 would cost two for every 304.
            stat = self.store.stat(key)
            status = _http.evaluate_preconditions("GET", headers, stat.etag, stat.last_modified)
            if status != 200:
                return self._conditional(status, stat)
        byte_range = _http.parse_range(headers.get("range"))
        if_range = headers.get("if-range")
        try:
            reader = self.store.open(key, range=byte_range.header() if byte_range else None)
        except RangeNotSatisfiableError as exc:
            # S3 says the size in its error; otherwise it costs a HEAD.
            size = exc.size if exc.size is not None else self.store.stat(key).size
            return _plain(416, "Range Not Satisfiable", [("Content-Range", f"bytes */{size}")])
        # Checked (again) on what the GET found: If-Match and If-Unmodified-Since
        # are decided only here, and the object may have changed since the HEAD.
        stat = reader.stat
        status = _http.evaluate_preconditions("GET", headers, stat.etag, stat.last_modified)
        if status != 200:
            reader.close()
            return self._conditional(status, stat)
        content_range = reader.content_range
        if content_range is None:
            return ProxyResponse(200, self._headers(stat, key, stat.size), reader)
        if not _http.if_range_matches(if_range, stat.etag, stat.last_modified):
            # The client's copy is stale: it gets the whole object (a second request).
            reader.close()
            reader = self.store.open(key)
            return ProxyResponse(200, self._headers(reader.stat, key, reader.stat.size), reader)
        headers_out = self._headers(stat, key, stat.size)
        headers_out.append(("Content-Range", content_range))
        return ProxyResponse(206, headers_out, reader)

    def _headers(self, stat: ObjectStat, key: str, length: int) -> list[tuple[str, str]]:
        served = _serving.served_type(stat.content_type, key, self.allow_types)
        disposition = stat.content_disposition
        # A stored disposition that is not printable ASCII is replaced, not cleaned:
        # an attachment is the one reading of it that can never render anything.
        if served.attachment or (disposition and _serving.stored_field(disposition) is None):
            disposition = _serving.content_disposition(key.rsplit("/", 1)[-1], attachment=True)
        headers = [
            ("Content-Type", served.content_type),
            ("Content-Length", str(length)),
            ("Accept-Ranges", "bytes"),
            *self._caching_headers(stat),
            *served.security_headers,
        ]
        if disposition:
            headers.append(("Content-Disposition", disposition))
        # An encoding that cannot be sent as stored is left out: nobody could decode
        # by it, and without it the client gets the stored bytes under a type it
        # will not sniff past (nosniff).
        encoding = _serving.stored_field(stat.content_encoding)
        if encoding:
            headers.append(("Content-Encoding", encoding))
        return headers

    def _caching_headers(self, stat: ObjectStat) -> list[tuple[str, str]]:
        """Cache-Control and the validators: the same on a 200, a 206 and a 304."""
        headers = [
            ("Cache-Control", _serving.cache_control(stat.cache_control, self.cache_control))
        ]
        # An ETag that cannot be sent as stored is left out: a client cannot match
        # a validator it never saw exactly, so it revalidates by date or refetches.
        etag = _serving.stored_field(stat.etag)
        if etag:
            headers.append(("ETag", etag))
        if stat.last_modified is not None:
            headers.append(("Last-Modified", _http.format_http_date(stat.last_modified)))
        return headers

    def _conditional(self, status: int, stat: ObjectStat) -> ProxyResponse:
        """304 carries the caching headers its 200 would, and no content headers (nor a
        CSP: see ``NOT_MODIFIED_SECURITY_HEADERS``); 412 is a plain error."""
        if status == 412:
            return _plain(412, "Precondition Failed")
        return ProxyResponse(
            304, [*self._caching_headers(stat), *_serving.NOT_MODIFIED_SECURITY_HEADERS]
        )


class _ShortBodyError(Exception):
    """The request body ended before its Content-Length: the client went away."""


class _ExactBody:
    """*length* bytes of a request body, and not one more: a read past them is never made,
    so a client cannot get more stored than it was allowed by sending more."""

    def __init__(self, body: BinaryReadable, length: int) -> None:
        self._body = body
        self._left = length

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        want = self._left if size < 0 else min(size, self._left)
        chunk = self._body.read(want)
        if not chunk:
            raise _ShortBodyError("the request body ended before its Content-Length")
        self._left -= len(chunk)
        return chunk


def _request_budget(config: URLSettings) -> AbstractContextManager[object]:
    """The budget for the upstream requests of one proxied request: R2Config's
    ``proxy_max_attempts`` and ``proxy_timeout``. A store whose settings have none (a
    LocalStore, which reads files and sends no requests) gets no budget."""
    attempts: int | None = getattr(config, "proxy_max_attempts", None)
    seconds: float | None = getattr(config, "proxy_timeout", None)
    if attempts is None or seconds is None:
        return nullcontext()
    return _budget.limited(attempts=attempts, seconds=seconds, max_backoff=_PROXY_MAX_BACKOFF)


def busy() -> ProxyResponse:
    """503 with ``Retry-After``: R2 is throttling the key, or the proxy has no free stream."""
    return _plain(503, "Service Unavailable", [("Retry-After", str(RETRY_AFTER))])


def _plain(status: int, text: str, extra: Iterable[tuple[str, str]] = ()) -> ProxyResponse:
    """A short plain-text answer: no traceback, bucket, endpoint or credential, ever."""
    body = f"{text}\n".encode()
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        *_serving.SECURITY_HEADERS,
        *extra,
    ]
    return ProxyResponse(status, headers, body)


def _revalidates(headers: Mapping[str, str]) -> bool:
    """Whether a GET could be answered 304: it has If-None-Match or If-Modified-Since."""
    return bool(
        headers.get("if-none-match", "").strip() or headers.get("if-modified-since", "").strip()
    )
