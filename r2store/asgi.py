"""The media proxy as an ASGI app and an ASGI middleware (translation only).

    from starlette.applications import Starlette
    from r2store import R2Store
    from r2store.asgi import R2ProxyApp

    app = Starlette()
    app.mount("/media-proxy", R2ProxyApp(R2Store.from_env()))

Reading from R2 blocks, so every call to it -- the request and each chunk of
the body -- runs in a thread pool of the proxy's own, sized to the store's
connection pool, never on the event loop. Needs asyncio (uvicorn, hypercorn,
daphne).

Slow clients are bounded. A stream that a client does not read still holds an R2
connection and the chunk in hand; before the bounds below, 120 such clients took
the server from 96 to 623 MiB and opened 120 connections to R2 past a pool of 32.
Now at most ``max_streams`` requests are served at once (by default the pool's
size), a request beyond them waits ``queue_timeout`` seconds for a slot and then
gets 503 with ``Retry-After``, and a client that takes nothing for
``send_timeout`` seconds loses its stream, its R2 connection and its slot.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from ._config_checks import proxy_prefix
from .proxy import MediaProxy, ProxyResponse, busy

if TYPE_CHECKING:
    from .protocol import Store
    from .uploads import DirectUploads

__all__ = [
    "ASGI_CHUNK_SIZE",
    "DEFAULT_QUEUE_TIMEOUT",
    "DEFAULT_SEND_TIMEOUT",
    "R2ProxyApp",
    "R2ProxyMiddleware",
    "UploadTicketApp",
]

logger = logging.getLogger("r2store.proxy")


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
_T = TypeVar("_T")

#: The ASGI adapters' default ``chunk_size``, twice the WSGI one: each chunk costs a hop
#: to a worker thread and back (~150 µs of CPU), so fewer, larger chunks cost the server
#: less CPU per GB streamed, for up to about 4 MiB more memory per stream in flight.
ASGI_CHUNK_SIZE = 2 * 1024 * 1024

#: Seconds one ``send()`` to the client may take before the stream is given up: the
#: server's send waits while the client is not reading (uvicorn pauses at 64 KiB
#: unsent), so a client that takes nothing for this long is stalled, or gone silently.
DEFAULT_SEND_TIMEOUT = 30.0
#: Seconds a request waits for a free stream before it gets 503. Long enough for a
#: burst of small requests to pass through the slots; short, so a client flooding the
#: proxy with streams it does not read is refused soon.
DEFAULT_QUEUE_TIMEOUT = 5.0
# Streams and worker threads for a store with no connection pool of its own
# (LocalStore): R2Config's default pool size.
_DEFAULT_POOL = 32
# Bytes per send() of a body. uvicorn (and asyncio's transports) take a whole write into
# their buffer and only make the *next* send wait, so a chunk sent whole would sit in the
# server's memory for as long as its client does not read: 2 MiB in the buffer plus the
# next 2 MiB chunk in hand was the 4.4 MiB each slow reader held. In 64 KiB pieces the
# buffer holds at most ~128 KiB (a piece and uvicorn's high-water mark); the R2 reads
# keep their 2 MiB chunks, as thread hops cost more than sends.
_SEND_SIZE = 64 * 1024
# Bytes of body the streams in flight may hold in hand between them: each R2 read is at
# most this over the number of streams (and at least one send's worth). One stream reads
# whole 2 MiB chunks; 50 slow readers each holding 2 MiB were +191 MiB of RSS. A slow
# stream gains nothing from a large read, and a fast one among many streams loses only
# thread hops (~150 µs each).
_READ_BUDGET = 16 * 1024 * 1024

_HEADERS = frozenset(
    {
        b"range",
        b"if-range",
        b"if-match",
        b"if-none-match",
        b"if-modified-since",
        b"if-unmodified-since",
        # A signed PUT (local mode's uploads) is checked against these.
        b"content-length",
        b"content-type",
    }
)


class _Watchdog:
    """Cancels the task that made it once one *send* to the client has taken *timeout* seconds.

    One timer per stream, re-armed only when it fires, rather than ``asyncio.wait_for``
    on every send: that costs ~30 µs a send, more than the rest of a 64 KiB piece's trip.
    It cancels only while a send is pending, so the cancellation lands in ``send()``,
    never in a read from R2 that a worker thread is still doing.
    """

    def __init__(self, send: Send, timeout: float) -> None:
        self._send = send
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._timeout = timeout
        self._since: float | None = None  # when the pending send began
        self._timer: asyncio.TimerHandle | None = None
        #: Whether it cancelled the task.
        self.fired = False

    async def send(self, message: Message) -> None:
        """The server's ``send()``, watched."""
        self._since = self._loop.time()
        if self._timer is None:
            self._timer = self._loop.call_later(self._timeout, self._check)
        try:
            await self._send(message)
        finally:
            self._since = None

    def _check(self) -> None:
        self._timer = None
        since = self._since
        if since is None or self._task is None:
            return  # no send pending: the next one arms the timer again
        waited = self._loop.time() - since
        if waited >= self._timeout:
            self.fired = True
            self._task.cancel()
        else:
            self._timer = self._loop.call_later(self._timeout - waited, self._check)

    def stand_down(self) -> None:
        """Stop the timer; after a cancellation it fired, let the task carry on."""
        if self._timer is not None:
            self._timer.cancel()
        if self.fired and self._task is not None and hasattr(self._task, "uncancel"):
            self._task.uncancel()  # Python 3.11+: the cancellation was handled


class _ReceivedBody:
    """A request body as a blocking file for a worker thread: each ``read`` waits for the
    next ``http.request`` message from the event loop, so the body streams into the store
    with no more than one message in hand, and is never read past what is asked for.

    A client that sends nothing for *timeout* seconds (``send_timeout``, the bound on a
    stalled reader) ends its body there, short, so it does not hold a thread and a slot.
    """

    def __init__(self, receive: Receive, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self._receive = receive
        self._loop = loop
        self._timeout = timeout
        self._held = b""
        self._done = False

    async def _next(self) -> Message:
        return await self._receive()

    def read(self, size: int = -1) -> bytes:
        while not self._held and not self._done:
            future = asyncio.run_coroutine_threadsafe(self._next(), self._loop)
            try:
                message = future.result(self._timeout)
            except TimeoutError:
                future.cancel()
                self._done = True  # stalled: the body ends short
                break
            if message["type"] != "http.request":
                self._done = True  # the client went away: the body ends short
                break
            self._held = bytes(message.get("body", b""))
            self._done = not message.get("more_body", False)
        if size < 0 or size >= len(self._held):
            chunk, self._held = self._held, b""
        else:
            chunk, self._held = self._held[:size], self._held[size:]
        return chunk


class _Server:
    """Runs the proxy for one ASGI request; shared by the app and the middleware."""

    def __init__(
        self,
        store: Store,
        options: dict[str, Any],
        *,
        max_streams: int | None,
        queue_timeout: float,
        send_timeout: float,
    ) -> None:
        self.proxy = MediaProxy(store=store, **{"chunk_size": ASGI_CHUNK_SIZE, **options})
        self._pool: ThreadPoolExecutor | None = None
        # Each stream holds an R2 connection while its client reads, so the pool's size is
        # the natural cap: beyond it a stream would only wait for a connection anyway.
        self._pool_size: int = getattr(store.config, "max_pool_connections", _DEFAULT_POOL)
        self.max_streams = max_streams or self._pool_size
        if self.max_streams < 1 or queue_timeout < 0 or send_timeout <= 0:
            raise ValueError("max_streams, send_timeout must be positive, queue_timeout >= 0")
        self.queue_timeout = queue_timeout
        self.send_timeout = send_timeout
        self._slots = asyncio.Semaphore(self.max_streams)
        self._streaming = 0  # bodies being streamed now, for the read budget

    async def _admit(self) -> bool:
        """Take a stream slot, waiting up to ``queue_timeout``; False if none came free."""
        if not self._slots.locked():
            await self._slots.acquire()
            return True
        try:
            await asyncio.wait_for(self._slots.acquire(), self.queue_timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def _run(self, func: Callable[..., _T], *args: Any) -> _T:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._pool_size, thread_name_prefix="r2store-proxy")
        return await asyncio.get_running_loop().run_in_executor(self._pool, partial(func, *args))

    async def serve(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        watchdog = _Watchdog(send, self.send_timeout)
        try:
            if not await self._admit():
                logger.info("media proxy: all %d streams busy; answered 503", self.max_streams)
                await self._respond(busy(), scope, receive, watchdog.send)
                return
            try:
                await self._answer(scope, receive, watchdog.send, path)
            finally:
                self._slots.release()
        except asyncio.CancelledError:
            if not watchdog.fired:
                raise
            # Returning ends the response unfinished: the server drops the connection.
            logger.warning(
                "media proxy: a client took nothing for %g s; its stream was ended",
                self.send_timeout,
            )
        finally:
            watchdog.stand_down()

    async def _answer(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        key = path[1:] if path.startswith("/") else path
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope.get("headers", ())
            if name.lower() in _HEADERS
        }
        query = scope.get("query_string", b"").decode("latin-1")
        method = scope["method"]
        if method == "PUT":
            # The body is read as the store writes it, in the worker thread.
            body = _ReceivedBody(receive, asyncio.get_running_loop(), self.send_timeout)
            response = await self._run(self.proxy.handle, method, key, headers, query, scope, body)
        elif self.proxy.answers_without_blocking:
            # Redirects only, and no hook: the answer is string work, cheaper than the hop.
            response = self.proxy.handle(scope["method"], key, headers, query, scope)
        else:
            response = await self._run(
                self.proxy.handle, scope["method"], key, headers, query, scope
            )
        await self._respond(response, scope, receive, send)

    async def _respond(
        self, response: ProxyResponse, scope: Scope, receive: Receive, send: Send
    ) -> None:
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status,
                    "headers": [
                        (name.encode("latin-1"), value.encode("latin-1", "replace"))
                        for name, value in response.headers
                    ],
                }
            )
            if isinstance(response.body, bytes):
                body = b"" if scope["method"] == "HEAD" else response.body
                await send({"type": "http.response.body", "body": body})
            else:
                await self._stream(response, receive, send)
        finally:
            response.close()

    async def _stream(self, response: ProxyResponse, receive: Receive, send: Send) -> None:
        """Send the body chunk by chunk; stop reading from R2 as soon as the client leaves.

        uvicorn's send() returns quietly after a disconnect, so the only sign
        is an ``http.disconnect`` message: a watcher task waits for it.
        """
        body = response.body
        assert not isinstance(body, bytes)
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.ensure_future(watch())
        chunk_size = self.proxy.chunk_size
        self._streaming += 1
        try:
            while not gone.is_set():
                # Taken again before each read: the budget is shared by the streams of now.
                share = _READ_BUDGET // self._streaming // _SEND_SIZE * _SEND_SIZE
                size = min(chunk_size, max(_SEND_SIZE, share))
                # A failure propagates: the server cuts the connection (see next_chunk).
                chunk = await self._run(response.next_chunk, size)
                if not chunk:
                    await send({"type": "http.response.body", "body": b""})
                    return
                # Once the announced length is in, the body is complete: saying so now
                # spares a thread hop for the empty read (most objects fit one chunk).
                done = 0 < body.size <= body.tell()
                for start in range(0, len(chunk), _SEND_SIZE):
                    end = start + _SEND_SIZE
                    more = not done or end < len(chunk)
                    piece = chunk[start:end] if start or end < len(chunk) else chunk
                    await send({"type": "http.response.body", "body": piece, "more_body": more})
                    if gone.is_set():
                        return
                if done:
                    return
        finally:
            self._streaming -= 1
            watcher.cancel()


class R2ProxyApp:
    """An ASGI app that serves the object named by the request path; mount it at the
    proxy path (it honours ``root_path``).

    Keyword options are :class:`~r2store.proxy.MediaProxy`'s (``cache_control``,
    ``allow_types``, ``authorize``, ``chunk_size``, ``delivery``); ``authorize`` and a
    ``delivery`` hook are given the scope and run in a worker thread (with neither,
    and every object redirected, the answer is made on the event loop).
    ``chunk_size`` defaults to :data:`ASGI_CHUNK_SIZE` (2 MiB) here: each chunk costs a
    thread hop.

    :param max_streams: requests served at once; by default the store's
        ``max_pool_connections``, as each holds an R2 connection.
    :param queue_timeout: seconds a request beyond them waits for a free one before
        it gets 503 with ``Retry-After``.
    :param send_timeout: seconds one write to a client may wait for it to read; then the
        stream ends (a truncated transfer) and frees its R2 connection and its slot.
    """

    def __init__(
        self,
        store: Store,
        *,
        max_streams: int | None = None,
        queue_timeout: float = DEFAULT_QUEUE_TIMEOUT,
        send_timeout: float = DEFAULT_SEND_TIMEOUT,
        **options: Any,
    ) -> None:
        self._server = _Server(
            store,
            options,
            max_streams=max_streams,
            queue_timeout=queue_timeout,
            send_timeout=send_timeout,
        )
        self.proxy = self._server.proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise RuntimeError(f"R2ProxyApp serves HTTP only, not {scope['type']!r}")
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        # Servers and routers differ on whether path includes root_path.
        if root and path.startswith(root):
            path = path[len(root) :]
        await self._server.serve(scope, receive, send, path)


class R2ProxyMiddleware:
    """Serves paths under *prefix* (default ``store.config.proxy_path``; ``"/files"`` means
    ``"/files/"``, and what is not a URL path is a ``ValueError``) from the store,
    and hands every other request -- and every non-HTTP scope -- to *app* untouched.

    Keyword options are :class:`R2ProxyApp`'s, with the same 2 MiB ``chunk_size`` default
    and the same bounds on streams (which apply to the proxied paths only).
    """

    def __init__(
        self,
        app: ASGIApp,
        store: Store,
        *,
        prefix: str | None = None,
        max_streams: int | None = None,
        queue_timeout: float = DEFAULT_QUEUE_TIMEOUT,
        send_timeout: float = DEFAULT_SEND_TIMEOUT,
        **options: Any,
    ) -> None:
        self.app = app
        self._server = _Server(
            store,
            options,
            max_streams=max_streams,
            queue_timeout=queue_timeout,
            send_timeout=send_timeout,
        )
        self.proxy = self._server.proxy
        self.prefix = proxy_prefix(prefix) if prefix is not None else store.config.proxy_path
        self._strip = len(self.prefix.rstrip("/"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            root: str = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :]
            if path.startswith(self.prefix):
                await self._server.serve(scope, receive, send, path[self._strip :])
                return
        await self.app(scope, receive, send)


class UploadTicketApp:
    """An ASGI app that issues direct upload tickets (:meth:`DirectUploads.handle
    <r2store.uploads.DirectUploads.handle>`): mount it where the page asks for them, behind
    whatever decides who may upload. Issuing a ticket is string work (no request to R2),
    so it runs on the event loop.

    :param subject: a function of the scope that names who asks (from what your
        authentication middleware put in the scope, say); each ticket is issued to it,
        and its token verifies only with ``verify(token, subject=...)`` of the same. It
        runs on the event loop: it must not block. None: tickets for no subject.
    """

    def __init__(
        self, uploads: DirectUploads, *, subject: Callable[[Scope], str | None] | None = None
    ) -> None:
        self.uploads = uploads
        self.subject = subject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise RuntimeError(f"UploadTicketApp serves HTTP only, not {scope['type']!r}")
        from .uploads import MAX_TICKET_REQUEST

        # No Content-Length needed, unlike the WSGI app's: the server frames (and dechunks)
        # the body, and it is read no further than one byte past the limit.
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            # One byte past the limit is enough for handle() to refuse a body too long.
            if len(body) > MAX_TICKET_REQUEST or not message.get("more_body"):
                break
        subject = partial(self.subject, scope) if self.subject is not None else None
        response = self.uploads.handle(scope["method"], body, subject=subject)
        headers = [(k.lower().encode(), v.encode()) for k, v in response.headers]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        assert isinstance(response.body, bytes)
        await send({"type": "http.response.body", "body": response.body})


async def _lifespan(receive: Receive, send: Send) -> None:
    """Answer the lifespan protocol when the proxy is the server's whole app."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
