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
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from .config import proxy_prefix
from .proxy import MediaProxy, ProxyResponse

if TYPE_CHECKING:
    from .protocol import Store

__all__ = ["ASGI_CHUNK_SIZE", "R2ProxyApp", "R2ProxyMiddleware"]


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

_HEADERS = frozenset(
    {
        b"range",
        b"if-range",
        b"if-match",
        b"if-none-match",
        b"if-modified-since",
        b"if-unmodified-since",
    }
)


class _Server:
    """Runs the proxy for one ASGI request; shared by the app and the middleware."""

    def __init__(self, store: Store, options: dict[str, Any]) -> None:
        self.proxy = MediaProxy(store=store, **{"chunk_size": ASGI_CHUNK_SIZE, **options})
        self._pool: ThreadPoolExecutor | None = None

    async def _run(self, func: Callable[..., _T], *args: Any) -> _T:
        if self._pool is None:
            # Sized to R2Store's connection pool; a store without one (LocalStore) reads
            # files, and gets as many threads as R2Config's default pool.
            size = getattr(self.proxy.store.config, "max_pool_connections", 32)
            self._pool = ThreadPoolExecutor(size, thread_name_prefix="r2store-proxy")
        return await asyncio.get_running_loop().run_in_executor(self._pool, partial(func, *args))

    async def serve(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        key = path[1:] if path.startswith("/") else path
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in scope.get("headers", ())
            if name.lower() in _HEADERS
        }
        query = scope.get("query_string", b"").decode("latin-1")
        response = await self._run(self.proxy.handle, scope["method"], key, headers, query, scope)
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
        size = self.proxy.chunk_size
        try:
            while not gone.is_set():
                # A failure propagates: the server cuts the connection (see next_chunk).
                chunk = await self._run(response.next_chunk, size)
                if not chunk:
                    await send({"type": "http.response.body", "body": b""})
                    return
                # Once the announced length is in, the body is complete: saying so now
                # spares a thread hop for the empty read (most objects fit one chunk).
                done = 0 < body.size <= body.tell()
                await send({"type": "http.response.body", "body": chunk, "more_body": not done})
                if done:
                    return
        finally:
            watcher.cancel()


class R2ProxyApp:
    """An ASGI app that serves the object named by the request path; mount it at the
    proxy path (it honours ``root_path``).

    Keyword options are :class:`~r2store.proxy.MediaProxy`'s (``cache_control``,
    ``allow_types``, ``authorize``, ``chunk_size``); ``authorize`` is given the
    scope and runs in a worker thread. ``chunk_size`` defaults to
    :data:`ASGI_CHUNK_SIZE` (2 MiB) here: each chunk costs a thread hop.
    """

    def __init__(self, store: Store, **options: Any) -> None:
        self._server = _Server(store, options)
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

    Keyword options are :class:`R2ProxyApp`'s, with the same 2 MiB ``chunk_size`` default.
    """

    def __init__(
        self, app: ASGIApp, store: Store, *, prefix: str | None = None, **options: Any
    ) -> None:
        self.app = app
        self._server = _Server(store, options)
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


async def _lifespan(receive: Receive, send: Send) -> None:
    """Answer the lifespan protocol when the proxy is the server's whole app."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
