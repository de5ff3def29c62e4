"""The media proxy as a WSGI app and a WSGI middleware (translation only).

from r2store import R2Store
from r2store.wsgi import R2ProxyMiddleware

app = R2ProxyMiddleware(app, R2Store.from_env())   # serves /media-proxy/<key>
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from ._config_checks import proxy_prefix
from .proxy import MediaProxy, ProxyResponse

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from .protocol import Store
    from .uploads import DirectUploads

__all__ = ["R2ProxyApp", "R2ProxyMiddleware", "UploadTicketApp"]


# The request headers the proxy reads, as WSGI names them.
_HEADERS = {
    name: "HTTP_" + name.upper().replace("-", "_")
    for name in (
        "range",
        "if-range",
        "if-match",
        "if-none-match",
        "if-modified-since",
        "if-unmodified-since",
    )
}
# A signed PUT (local mode's uploads) is checked against these; CGI names them so.
_HEADERS.update({"content-length": "CONTENT_LENGTH", "content-type": "CONTENT_TYPE"})


class R2ProxyApp:
    """A WSGI app that serves the object named by ``PATH_INFO`` (mount it at the proxy path).

    Keyword options are :class:`~r2store.proxy.MediaProxy`'s (``cache_control``,
    ``allow_types``, ``authorize``, ``chunk_size``, ``delivery``); ``authorize`` and a
    ``delivery`` hook are given the environ.
    """

    def __init__(self, store: Store, **options: Any) -> None:
        self.proxy = MediaProxy(store=store, **options)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return _serve(self.proxy, environ, start_response, environ.get("PATH_INFO", ""))


class R2ProxyMiddleware:
    """Serves paths under *prefix* (default ``store.config.proxy_path``; ``"/files"`` means
    ``"/files/"``, and what is not a URL path is a ``ValueError``) from the store,
    and hands every other request to *app* untouched."""

    def __init__(
        self, app: WSGIApplication, store: Store, *, prefix: str | None = None, **options: Any
    ) -> None:
        self.app = app
        self.proxy = MediaProxy(store=store, **options)
        self.prefix = proxy_prefix(prefix) if prefix is not None else store.config.proxy_path
        # "/media-proxy/a.png" minus the prefix but for its last "/": "/a.png".
        self._strip = len(self.prefix.rstrip("/"))

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "")
        if not path.startswith(self.prefix):
            return self.app(environ, start_response)
        return _serve(self.proxy, environ, start_response, path[self._strip :])


def _serve(
    proxy: MediaProxy, environ: WSGIEnvironment, start_response: StartResponse, path: str
) -> Iterable[bytes]:
    try:
        # PEP 3333: PATH_INFO holds the decoded path's bytes as latin-1. Decode
        # those bytes as UTF-8 -- and never percent-decode a second time.
        key = path.encode("latin-1").decode("utf-8")
    except UnicodeError:
        key = ""  # refused by the key normaliser: 404
    key = key[1:] if key.startswith("/") else key
    headers = {name: environ[var] for name, var in _HEADERS.items() if var in environ}
    response = proxy.handle(
        environ.get("REQUEST_METHOD", "GET"),
        key,
        headers,
        environ.get("QUERY_STRING", ""),
        environ,
        environ.get("wsgi.input"),
    )
    start_response(_status_line(response.status), response.headers)
    if isinstance(response.body, bytes):
        return [response.body] if response.body and environ["REQUEST_METHOD"] != "HEAD" else []
    file_wrapper = environ.get("wsgi.file_wrapper")
    file = response.body.take_file() if file_wrapper is not None else None
    if file_wrapper is not None and file is not None:
        # A local file (a LocalStore's), positioned at the range's start and read no
        # further than it: the server may sendfile it (gunicorn sends Content-Length
        # bytes from the descriptor's offset), and closes it when done.
        wrapped: Iterable[bytes] = file_wrapper(file, proxy.chunk_size)
        return wrapped
    return _Body(response, proxy.chunk_size)


class _Body:
    """Streams an object to the server; ``close()`` (called by every WSGI server,
    also when the client goes away) releases the R2 connection at once."""

    def __init__(self, response: ProxyResponse, chunk_size: int) -> None:
        self._response = response
        self._chunk_size = chunk_size

    def __iter__(self) -> Iterator[bytes]:
        # A failure propagates: the server cuts the connection (see next_chunk).
        next_chunk, size = self._response.next_chunk, self._chunk_size
        while chunk := next_chunk(size):
            yield chunk

    def close(self) -> None:
        self._response.close()


class UploadTicketApp:
    """A WSGI app that issues direct upload tickets (:meth:`DirectUploads.handle
    <r2store.uploads.DirectUploads.handle>`): mount it where the page asks for them, behind
    whatever decides who may upload.

    :param subject: a function of the environ that names who asks (a user id your login
        middleware put there, say); each ticket is issued to it, and its token verifies
        only with ``verify(token, subject=...)`` of the same. None: tickets for no subject.
    """

    def __init__(
        self,
        uploads: DirectUploads,
        *,
        subject: Callable[[WSGIEnvironment], str | None] | None = None,
    ) -> None:
        self.uploads = uploads
        self.subject = subject

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        from .uploads import _ticket_body_length

        method = environ.get("REQUEST_METHOD", "GET")
        # A POST must say its length (411 without); another method gets 405 unread.
        size = _ticket_body_length(environ.get("CONTENT_LENGTH")) if method == "POST" else 0
        if isinstance(size, int):
            body = environ["wsgi.input"].read(size) if size else b""
            subject = partial(self.subject, environ) if self.subject is not None else None
            response = self.uploads.handle(method, body, subject=subject)
        else:
            response = size
        start_response(_status_line(response.status), response.headers)
        assert isinstance(response.body, bytes)
        return [response.body]


def _status_line(status: int) -> str:
    return f"{status} {HTTPStatus(status).phrase}"
