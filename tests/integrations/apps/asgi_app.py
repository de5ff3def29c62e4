"""Every ASGI variant of the proxy in one app, for uvicorn.

- ``/media-proxy/`` and the other variant prefixes: :class:`~r2store.asgi.R2ProxyApp`
  mounted in Starlette (``root_path`` is the mount point)
- ``/mw-proxy/``: :class:`~r2store.asgi.R2ProxyMiddleware` around the Starlette app
- ``/bare-proxy/``: another, given its prefix without the final slash
- ``/local-proxy/``, ``/local-mw-proxy/``: the same two over a LocalStore
- ``/local-upload-proxy/``: a signed LocalStore, whose signed PUTs upload
- ``/redirect-proxy/``, ``/redirect-authz-proxy/``, ``/redirect-signed-proxy/``,
  ``/per-key-proxy/``: redirect delivery, alone, with authorize, with signed URLs, by key
- anything else: a Starlette route that says what it saw
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from r2store.asgi import R2ProxyApp, R2ProxyMiddleware
from tests.integrations.apps import common

_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]


async def echo(request: Request) -> PlainTextResponse:
    """Answer with what the app saw."""
    text = f"app saw {request.method} {request.url.path} ?{request.url.query}"
    return PlainTextResponse(text, headers={"X-Served-By": "tiny-app"})


def authorize(request: Any, key: str) -> bool:
    """Allow by the request's headers, read from the ASGI scope it must be."""
    if not (isinstance(request, dict) and request.get("type") == "http"):
        return False
    headers = {
        name.decode("latin-1"): value.decode("latin-1") for name, value in request["headers"]
    }
    return common.allowed_by_header(headers, key)


def _proxy(store: Any, **options: Any) -> R2ProxyApp:
    return R2ProxyApp(store, cache_control=common.CACHE_CONTROL, **options)


starlette_app = Starlette(
    routes=[
        Mount("/media-proxy", _proxy(common.main)),
        Mount("/svg-proxy", _proxy(common.main, allow_types={"image/svg+xml"})),
        Mount("/signed-proxy", _proxy(common.signed)),
        Mount("/authz-proxy", _proxy(common.main, authorize=authorize)),
        Mount("/closed-proxy", _proxy(common.closed)),
        Mount("/stalled-proxy", _proxy(common.stalled)),
        Mount("/fake-proxy", _proxy(common.fake, chunk_size=common.FAKE_CHUNK_SIZE)),
        Mount("/local-proxy", _proxy(common.local)),
        Mount("/local-upload-proxy", _proxy(common.local_uploads)),
        Mount("/redirect-proxy", _proxy(common.main, delivery="redirect")),
        Mount(
            "/redirect-authz-proxy",
            _proxy(common.main, delivery="redirect", authorize=authorize),
        ),
        Mount("/redirect-signed-proxy", _proxy(common.signed, delivery="redirect")),
        Mount("/per-key-proxy", _proxy(common.main, delivery=common.delivery_by_key)),
        Route("/{path:path}", echo, methods=_METHODS),
    ]
)

app = R2ProxyMiddleware(
    R2ProxyMiddleware(
        R2ProxyMiddleware(
            starlette_app,
            common.local,
            prefix="/local-mw-proxy/",
            cache_control=common.CACHE_CONTROL,
        ),
        common.main,
        prefix="/bare-proxy",
        cache_control=common.CACHE_CONTROL,
    ),
    common.main,
    prefix="/mw-proxy/",
    cache_control=common.CACHE_CONTROL,
)
