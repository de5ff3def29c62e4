"""The ASGI proxy with a small pool, a small stream cap and short timeouts, for uvicorn.

``test_bounded.py`` starts it with ``R2_MAX_POOL_CONNECTIONS`` (the cap follows it),
``R2_ENDPOINT_URL`` on a relay that counts connections, and the two timeouts below.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from r2store import R2Store
from r2store.asgi import R2ProxyMiddleware


async def ready(request: Request) -> PlainTextResponse:
    """Answer the start-up check."""
    return PlainTextResponse("ready")


app = R2ProxyMiddleware(
    Starlette(routes=[Route("/ready", ready)]),
    R2Store.from_env(),
    prefix="/media-proxy/",
    send_timeout=float(os.environ["R2STORE_TEST_SEND_TIMEOUT"]),
    queue_timeout=float(os.environ["R2STORE_TEST_QUEUE_TIMEOUT"]),
)
