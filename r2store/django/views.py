"""The media proxy as a Django view (translation only).

Under WSGI the body is a plain iterator; under ASGI an async one, because
Django collects a *sync* iterator into a list under ASGI -- the whole object
in memory before the first byte.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from django.core.files.storage import storages
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from ..proxy import ProxyResponse
from .storage import R2Storage

__all__ = ["media_proxy"]


_HEADERS = (
    "range",
    "if-range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    # A signed PUT (local mode's uploads) is checked against these.
    "content-length",
    "content-type",
)


# Exempt: the one unsafe method it takes, a PUT, is authorised by the URL's signature
# alone (as a presigned PUT to R2 is), never by a cookie a forged form could send along.
@csrf_exempt
def media_proxy(request: HttpRequest, key: str) -> HttpResponseBase:
    """Serve the object *key* (the URL path below the proxy's mount point); in local
    mode, also take a PUT on a signed upload URL (see :meth:`MediaProxy.handle`)."""
    storage = storages["default"]
    if not isinstance(storage, R2Storage):
        raise TypeError("the media proxy serves from STORAGES['default'], which is not R2Storage")
    proxy = storage.media_proxy
    headers = {name: request.headers[name] for name in _HEADERS if name in request.headers}
    answer = proxy.handle(
        request.method or "GET",
        key,
        headers,
        request.META.get("QUERY_STRING", ""),
        request,
        # An HttpRequest reads its body like a file.
        request,
    )
    body = answer.body
    if answer.status == 304:
        response: HttpResponseBase = _NotModified(asynchronous=isinstance(request, ASGIRequest))
    elif isinstance(body, bytes):
        response = HttpResponse(body if request.method != "HEAD" else b"", status=answer.status)
    else:
        chunks: _Body
        if isinstance(request, ASGIRequest):
            chunks = _AsyncChunks(answer, proxy.chunk_size)
        else:
            chunks = _Chunks(answer, proxy.chunk_size)
        response = StreamingHttpResponse(chunks, status=answer.status)
    for name, value in answer.headers:
        response[name] = value
    return response


class _NotModified(StreamingHttpResponse):
    """A 304 with no Content-Type and no body, as Django's HttpResponseNotModified; but
    streaming, as the 200 is, because CommonMiddleware gives a non-streaming response a
    ``Content-Length: 0``, which a 304 must not carry (RFC 9110 §8.6)."""

    status_code = 304

    def __init__(self, *, asynchronous: bool) -> None:
        # The empty body is of the server's kind, as the 200's is: Django warns when it
        # has to turn one kind into the other.
        super().__init__(_no_chunks() if asynchronous else ())
        del self["Content-Type"]

    def _set_streaming_content(self, value: object) -> None:
        # Every new body goes through here. A 304 never has one, whatever middleware
        # wraps around the empty one (GZipMiddleware's would be a gzip header), as
        # HttpResponseNotModified refuses content.
        empty = _no_chunks() if hasattr(value, "__aiter__") else ()
        super()._set_streaming_content(empty)  # type: ignore[misc]


async def _no_chunks() -> AsyncIterator[bytes]:
    """An empty async body."""
    return
    yield b""  # unreached: it makes this an async generator


class _Body:
    """Reads the object chunk by chunk. Django calls close() when the server is
    done with the response -- also when the client went away -- and that
    releases R2's connection at once. A failed read propagates, so the server
    cuts the connection (see :meth:`ProxyResponse.next_chunk`)."""

    def __init__(self, response: ProxyResponse, size: int) -> None:
        self._response = response
        self._size = size

    def _next_chunk(self) -> bytes:
        return self._response.next_chunk(self._size)

    def close(self) -> None:
        self._response.close()


class _Chunks(_Body):
    """The body for WSGI: a plain iterator."""

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        chunk = self._next_chunk()
        if not chunk:
            raise StopIteration
        return chunk


class _AsyncChunks(_Body):
    """The body for ASGI: an async iterator (no ``__iter__``, or Django would
    take it for a sync one), each read from R2 in a worker thread."""

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        from asgiref.sync import sync_to_async

        chunk = await sync_to_async(self._next_chunk, thread_sensitive=False)()
        if not chunk:
            raise StopAsyncIteration
        return chunk
