"""The lean path: GetObject, HeadObject, ListObjectsV2, PutObject and UploadPart over a
urllib3 pool, signed here.

botocore spends 1.5-1.9 ms of CPU on every ``get_object`` (building, serialising, signing
and parsing a request model, and running its event hooks); the same GET signed with
:meth:`QuerySigner.sign_headers <r2store._presign.QuerySigner.sign_headers>` and sent through
a urllib3 pool costs 0.35-0.47 ms. That difference is most of the media proxy's time to first
byte and of its CPU per small object, and a read-only process (the proxy, a ``sync`` with
nothing to upload, ``ls``) that never imports botocore starts ~250 ms sooner. A small
PutObject is the same story (1.3-1.4 ms through botocore), so PutObject and UploadPart come
this way too; the rarer requests around them (Create/Complete/AbortMultipartUpload, Delete,
Copy, bucket settings) stay on botocore.

Payloads are signed as botocore signs them with r2store's settings: ``x-amz-content-sha256``
is the SHA-256 of the body over ``https://`` as over ``http://``. (botocore sends
``UNSIGNED-PAYLOAD`` over https only when the request carries a checksum header, which
``request_checksum_calculation="when_required"`` leaves out of PutObject.) The server then
checks the body against the signature, so bytes corrupted or changed on the way, or a file
changed between hashing and sending, are refused rather than stored. With SHA extensions
(most x86-64 and arm64 servers) hashing runs at ~1.7 GB/s, faster than the MD5 a
``Content-MD5`` would need, which would add nothing the signed hash does not give; none is
sent. Neither is ``Expect: 100-continue`` (botocore sends it): a PutObject here is at most
``multipart_threshold`` bytes, and a refused one costs that much upload, not a hang.

What the two paths share, so that a caller cannot tell them apart:

* errors: an S3 error answer raises :class:`S3ResponseError`, whose ``response`` dict has
  the shape of botocore's ``ClientError.response``, so :func:`r2store.errors.map_error`
  maps both; urllib3's own exceptions map by module and name there too.
* settings: the timeouts, pool size and retry count come from the :class:`R2Config`, and
  from ``client_config`` where the user set them there, as for the botocore client.
* retries: what botocore's standard mode retries (connection errors, timeouts, 500, 502,
  503, 504 and the throttling codes; also 429), with its backoff: ``random() * min(2 **
  (attempt - 1), 20)`` seconds. Only until the response headers arrive: a body that breaks
  off mid-stream is an error for the reader, never a silent restart. A write's body is
  sent again whole, from its start, on each attempt; an error's ``RetryAttempts`` says how
  many retries came before it, as botocore's does (a create retried into a 412 may have met
  its own first attempt). Inside :func:`r2store._budget.limited` (the media proxy's
  requests) fewer attempts, shorter waits and a deadline apply, to reads only.
* the pool: at most ``max_pool_connections`` connections, ever. A request beyond it waits
  for one to come free (up to ``read_timeout``, or the deadline), then fails with
  :class:`~r2store.errors.UpstreamBusyError`; botocore's pool would open another.
* proxies (``client_config.proxies``, else ``HTTPS_PROXY``, ``HTTP_PROXY`` and
  ``NO_PROXY``) and ``AWS_CA_BUNDLE``, which botocore honours. Other ``client_config``
  options (``proxies_config``, ``client_cert``, virtual addressing, ...) apply to the
  requests botocore still sends only.

This module imports urllib3, so :mod:`r2store.store` imports it only on the first request.
"""

from __future__ import annotations

import logging
import socket
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator, Mapping, Sequence
from hashlib import sha256
from typing import Any, NamedTuple, Protocol

import urllib3
from urllib3.connection import HTTPConnection
from urllib3.exceptions import ProtocolError, SSLError
from urllib3.exceptions import TimeoutError as Urllib3TimeoutError

from . import _budget
from ._client_config import _attempts, _proxy_for, _tls_context, _user_client_settings
from ._presign import QuerySigner, encode_query
from ._retries import (
    _RETRY_CODES,
    _RETRY_EXCEPTIONS,
    _RETRY_STATUSES,
    DEFAULT_MAX_ATTEMPTS,
    _wait,
)
from ._s3xml import ListPage, _error_fields, _parse_listing
from ._version import __version__
from .config import R2Config
from .errors import R2StoreError, UpstreamError, UpstreamTimeoutError
from .keys import quote_key

__all__ = [
    "ObjectResponse",
    "RequestHook",
    "S3ResponseError",
    "SeekableReader",
    "StreamedBody",
    "Transport",
]

logger = logging.getLogger("r2store.transport")

#: ``hook(method, url)``, called before every HTTP attempt (so retries count): for tests
#: and observability. *url* is the full URL, query string included.
RequestHook = Callable[[str, str], None]

# An error answer's body is a few hundred bytes of XML; more than this is not one.
_ERROR_BODY_LIMIT = 64 * 1024
_SUCCESS = frozenset({200, 206})
# A write's body goes on the wire in reads of this size from its stream.
_SEND_CHUNK = 1024 * 1024


class SeekableReader(Protocol):
    """A binary stream a write can read, and go back in to send again."""

    def read(self, size: int = ..., /) -> bytes | None: ...

    def seek(self, offset: int, whence: int = ..., /) -> int: ...

    def tell(self) -> int: ...


class S3ResponseError(Exception):
    """An error answer from S3, shaped like botocore's ``ClientError``.

    ``response`` holds ``Error`` (``Code``, ``Message`` and any other field of the error
    XML, such as ``ActualObjectSize``; ``Code`` is the status as text when there is no
    body, as botocore does for HEAD and 304) and ``ResponseMetadata`` (``HTTPStatusCode``
    and ``HTTPHeaders`` with lower-case names).
    """

    def __init__(
        self, operation: str, status: int, headers: Mapping[str, str], body: bytes, reason: str
    ) -> None:
        error = _error_fields(body) if body else {}
        error.setdefault("Code", str(status))
        error.setdefault("Message", reason)
        self.operation_name = operation
        self.response: dict[str, Any] = {
            "Error": error,
            "ResponseMetadata": {
                "HTTPStatusCode": status,
                "HTTPHeaders": {name.lower(): value for name, value in headers.items()},
            },
        }
        # Code and status only: the message may quote the key, and logs are not the place.
        super().__init__(f"{operation} failed: {error['Code']} (HTTP {status})")

    @property
    def status(self) -> int:
        """The HTTP status of the answer."""
        status: int = self.response["ResponseMetadata"]["HTTPStatusCode"]
        return status

    @property
    def code(self) -> str:
        """S3's error code (``NoSuchKey``, ``SlowDown``, ...), or the status as text."""
        code: str = self.response["Error"]["Code"]
        return code


class StreamedBody:
    """A GetObject body still on the wire: ``read(size)`` takes bytes off the connection.

    A body read to its end gives its connection back to the pool (urllib3 does that);
    :meth:`close` before then drops the connection, so unread bytes are never downloaded.
    A body shorter than its ``Content-Length`` raises urllib3's ``ProtocolError``.
    """

    __slots__ = ("_response", "read")

    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self._response = response
        #: ``read(size=None) -> bytes``: the response's own method, with no wrapper to call.
        self.read: Callable[..., bytes] = response.read

    def close(self) -> None:
        """Drop the connection if bytes are left unread; give its pool slot back."""
        response = self._response
        response.close()
        # A closed connection back in the pool reconnects on its next use; kept out,
        # its slot would be lost and the pool would shrink with every early close.
        response.release_conn()


class ObjectResponse(NamedTuple):
    """A successful GetObject: status (200 or 206), headers, and the body to stream."""

    status: int
    headers: Mapping[str, str]
    body: StreamedBody


class Transport:
    """A small S3 client for the reads: one urllib3 pool to ``config.endpoint``, path style.

    Safe to share between threads (urllib3 pools are). *hooks* is read at each request,
    so a list given here can be appended to later.
    """

    def __init__(
        self,
        config: R2Config,
        *,
        hooks: Sequence[RequestHook] = (),
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> None:
        self._base = config.endpoint.rstrip("/")
        self._bucket = f"/{config.bucket}"
        self._hooks = hooks
        self._signer = QuerySigner(
            access_key_id=config.access_key_id,
            secret_access_key=config.secret_access_key,
            region=config.region,
            endpoint_url=config.endpoint,
        )
        settings = _user_client_settings(config)
        connect_timeout = settings.get("connect_timeout", config.connect_timeout)
        read_timeout = settings.get("read_timeout", config.read_timeout)
        pool_size = settings.get("max_pool_connections", config.max_pool_connections)
        self._max_attempts = _attempts(settings.get("retries"), max_attempts)
        self._connect_timeout: float = connect_timeout
        self._read_timeout: float = read_timeout
        self._timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self._user_agent = f"r2store/{__version__}"
        pool_options: dict[str, Any] = {
            "maxsize": pool_size,
            # Over the limit, wait for a connection rather than make another (botocore's
            # pool makes one, then logs "Connection pool is full" as it throws it away):
            # a proxy whose clients stop reading would otherwise hold one connection to
            # R2 per client, without limit. Streamed bodies give theirs back on close.
            "block": True,
            "timeout": self._timeout,
            "retries": False,
            # As botocore's client has it (tcp_keepalive=True): idle pooled connections
            # behind a NAT stay usable.
            "socket_options": [
                *HTTPConnection.default_socket_options,
                (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
            ],
        }
        if self._base.lower().startswith("https:"):
            pool_options["ssl_context"] = _tls_context()
        proxy = _proxy_for(self._base, settings.get("proxies"))
        self._http: urllib3.PoolManager = (
            urllib3.ProxyManager(proxy, num_pools=1, **pool_options)
            if proxy
            else urllib3.PoolManager(num_pools=1, **pool_options)
        )
        # One endpoint, so one pool: sending through it directly skips the manager's URL
        # parsing and pool lookup on every request (about a tenth of a small GET's CPU).
        # Through a proxy the manager must shape the request, so it stays in the way.
        self._pool: urllib3.HTTPConnectionPool | None = (
            None if proxy else self._http.connection_from_url(self._base)
        )

    def __repr__(self) -> str:
        return f"<Transport endpoint={self._base!r}>"

    def close(self) -> None:
        """Close every pooled connection. Responses still being read keep theirs."""
        self._http.clear()

    # -- operations -----------------------------------------------------------

    def get_object(self, full_key: str, headers: Mapping[str, str]) -> ObjectResponse:
        """GET the object: its headers, and the body to stream (close it when done).

        *headers* are sent (and signed) as they are: ``range``, ``if-none-match``, ...
        Any answer but 200 or 206 raises :class:`S3ResponseError` (304 and 412 too).
        """
        path = f"{self._bucket}/{quote_key(full_key)}"
        response = self._request("GetObject", "GET", path, None, headers, stream=True)
        return ObjectResponse(response.status, response.headers, StreamedBody(response))

    def head_object(self, full_key: str) -> Mapping[str, str]:
        """HEAD the object: the response headers (names looked up case-insensitively)."""
        path = f"{self._bucket}/{quote_key(full_key)}"
        return self._request("HeadObject", "HEAD", path, None, None, stream=False).headers

    def list_objects_v2(
        self,
        prefix: str,
        *,
        delimiter: str | None = None,
        max_keys: int = 1000,
        continuation_token: str | None = None,
    ) -> ListPage:
        """One page of the keys under *prefix*, in key order.

        Keys are asked for URL-encoded (``encoding-type=url``), since a key may hold
        characters XML 1.0 cannot carry, and come back decoded.
        """
        query = {"list-type": "2", "encoding-type": "url", "max-keys": str(max_keys)}
        if prefix:
            query["prefix"] = prefix
        if delimiter:
            query["delimiter"] = delimiter
        if continuation_token:
            query["continuation-token"] = continuation_token
        response = self._request("ListObjectsV2", "GET", self._bucket, query, None, stream=False)
        try:
            return _parse_listing(response.data)
        except (ElementTree.ParseError, ValueError) as exc:
            raise UpstreamError("R2 answered a listing that could not be read") from exc

    def put_object(
        self,
        full_key: str,
        body: bytes | SeekableReader,
        headers: Mapping[str, str],
        *,
        size: int | None = None,
    ) -> Mapping[str, str]:
        """PUT the object; return the response headers.

        *body* is bytes, or a stream sent from where it stands for *size* bytes (it is read
        twice, to hash it and to send it, and again from there for each retry). *headers*
        (``content-type``, ``if-none-match``, ``x-amz-meta-*``, ...) are sent and signed.
        Any answer but 200 raises :class:`S3ResponseError` (a refused create's 412 too).
        """
        path = f"{self._bucket}/{quote_key(full_key)}"
        return self._put("PutObject", path, None, headers, body, size).headers

    def upload_part(self, full_key: str, upload_id: str, number: int, data: bytes) -> str:
        """PUT part *number* of multipart upload *upload_id*; return the part's ETag."""
        path = f"{self._bucket}/{quote_key(full_key)}"
        query = {"partNumber": str(number), "uploadId": upload_id}
        etag = self._put("UploadPart", path, query, None, data, None).headers.get("etag")
        if not etag:
            # Completing without it is impossible; better to say so now than at the end.
            raise UpstreamError(f"R2 answered part {number} of an upload without an ETag")
        return str(etag)

    def _put(
        self,
        operation: str,
        path: str,
        query: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        body: bytes | SeekableReader,
        size: int | None,
    ) -> urllib3.BaseHTTPResponse:
        """Send a PUT of *body* (bytes, or *size* bytes of a stream from where it stands)."""
        send: Callable[[], bytes | Iterator[bytes]]
        if isinstance(body, bytes):
            length = len(body)
            payload_hash = sha256(body).hexdigest()

            def send() -> bytes:
                return body

        else:
            if size is None:
                raise ValueError("a stream body needs its size")
            stream, start, length = body, body.tell(), size
            digest = sha256()
            for chunk in _chunks(stream, start, length):
                digest.update(chunk)
            payload_hash = digest.hexdigest()

            def send() -> Iterator[bytes]:
                return _chunks(stream, start, length)

        return self._request(
            operation,
            "PUT",
            path,
            query,
            headers,
            stream=False,
            body=send,
            length=length,
            payload_hash=payload_hash,
            budgeted=False,
        )

    # -- the request ----------------------------------------------------------

    def _request(
        self,
        operation: str,
        method: str,
        path: str,
        query: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        *,
        stream: bool,
        body: Callable[[], bytes | Iterator[bytes]] | None = None,
        length: int = 0,
        payload_hash: str | None = None,
        budgeted: bool = True,
    ) -> urllib3.BaseHTTPResponse:
        """Send the request, retrying as botocore would; return a 200 or 206 response.

        A PUT gives *body* (called for each attempt: the bytes, or chunks from the start),
        its *length* and *payload_hash*. Only a *budgeted* request keeps to the proxy's
        budget: a write made while a proxied read is in progress is not that read's.
        """
        target = f"{path}?{encode_query(query)}" if query else path
        url = self._base + target
        pool = self._pool
        budget = _budget.current() if budgeted else None
        max_attempts = self._max_attempts
        if budget is not None:
            max_attempts = min(max_attempts, budget.attempts)
        attempt = 0
        while True:
            attempt += 1
            timeout, pool_timeout = self._timeouts(budget)
            # Signed again for each attempt, as botocore does: the date moves on.
            sent = self._signer.sign_headers(
                method, path, query=query, headers=headers, payload_hash=payload_hash
            )
            sent["user-agent"] = self._user_agent
            if body is not None:
                # Unsigned, as botocore leaves it: it adds Content-Length after signing.
                sent["content-length"] = str(length)
            for hook in self._hooks:
                hook(method, url)
            try:
                response = (pool or self._http).urlopen(
                    method,
                    target if pool else url,
                    body=None if body is None else body(),
                    headers=sent,
                    redirect=False,
                    preload_content=not stream,
                    # The bytes as stored: an object saved with Content-Encoding: gzip is
                    # served compressed, as botocore serves it.
                    decode_content=False,
                    timeout=timeout,
                    # Typed int in urllib3, but a float is what its queue.get() takes.
                    pool_timeout=pool_timeout,  # type: ignore[arg-type]
                )
            except _RETRY_EXCEPTIONS as exc:
                wait = _wait(attempt, max_attempts, budget)
                if wait is None:
                    raise
                logger.debug("%s %s: %s; retrying", method, target, type(exc).__name__)
                time.sleep(wait)
                continue
            logger.debug("%s %s: %d", method, target, response.status)
            if response.status in _SUCCESS:
                if stream and timeout is not self._timeout:
                    self._restore_read_timeout(response)
                return response
            error = _error(operation, response, streamed=stream)
            error.response["ResponseMetadata"]["RetryAttempts"] = attempt - 1
            wait = None
            if error.status in _RETRY_STATUSES or error.code in _RETRY_CODES:
                wait = _wait(attempt, max_attempts, budget)
            if wait is None:
                raise error
            logger.debug("%s %s: %s; retrying", method, target, error.code)
            time.sleep(wait)

    def _timeouts(self, budget: _budget.Budget | None) -> tuple[urllib3.Timeout, float]:
        """The next attempt's timeouts, and how long it may wait for a pooled connection.

        A library call waits for a connection as long as it would for R2's answer; under a
        budget, nothing may outlast the deadline.
        """
        if budget is None:
            return self._timeout, self._read_timeout
        remaining = budget.remaining()
        if remaining <= 0:
            raise UpstreamTimeoutError(f"R2 did not answer within {budget.seconds:g} s")
        if remaining >= self._read_timeout and remaining >= self._connect_timeout:
            return self._timeout, remaining
        timeout = urllib3.Timeout(
            connect=min(self._connect_timeout, remaining), read=min(self._read_timeout, remaining)
        )
        return timeout, remaining

    def _restore_read_timeout(self, response: urllib3.BaseHTTPResponse) -> None:
        """Give a body the configured read timeout: the deadline bounds the wait for the
        headers, not how long a large body may take to stream."""
        connection = response.connection
        sock = getattr(connection, "sock", None)
        if sock is not None:
            sock.settimeout(self._read_timeout)


def _chunks(stream: SeekableReader, start: int, length: int) -> Iterator[bytes]:
    """*length* bytes of *stream* from *start*, in chunks.

    A stream that ends early raises :class:`R2StoreError` (not an ``OSError``, which
    urllib3 would take for a broken connection and the transport would retry): the
    object would be short, and the request's Content-Length a lie. Bytes past *length*
    (a file that grew) are not sent.
    """
    stream.seek(start)
    left = length
    while left > 0:
        chunk = stream.read(min(_SEND_CHUNK, left))
        if not chunk:
            raise R2StoreError(f"the content ended {left} bytes short of its {length} bytes")
        left -= len(chunk)
        yield chunk


def _error(
    operation: str, response: urllib3.BaseHTTPResponse, *, streamed: bool
) -> S3ResponseError:
    """Read an error answer's (small) body and free the connection; the error it describes."""
    if not streamed:
        body = response.data
    else:
        try:
            body = response.read(_ERROR_BODY_LIMIT)
        except (ProtocolError, Urllib3TimeoutError, SSLError):
            body = b""  # the status alone still says what went wrong
        finally:
            # Dropped if more was sent than an error needs; back to the pool if not.
            response.close()
            response.release_conn()
    return S3ResponseError(
        operation, response.status, response.headers, body, response.reason or ""
    )
