"""The ASGI ticket endpoint (:class:`~r2store.asgi.UploadTicketApp`) for uvicorn, as an app
would mount it: in Starlette, behind authentication middleware that names the user.

- ``/tickets/``: tickets issued to the user (``Authorization: Bearer <name>``); an
  anonymous request gets 403
- ``/open-tickets/``: tickets issued to no subject
- ``/ready``: the start-up check

``test_upload_tickets.py`` starts it with the integration servers' environment: the test
bucket, and ``R2STORE_TEST_SIGNING_KEY`` as the tickets' secret.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from r2store import R2Store
from r2store.asgi import Scope, UploadTicketApp
from r2store.uploads import DirectUploads, UploadPolicy

#: What the endpoint accepts (the tests' uploads are the same).
POLICY = UploadPolicy(max_size=1024, content_types=["image/*"], prefix="tickets")

uploads = DirectUploads(
    R2Store.from_env(), policy=POLICY, secret=os.environ["R2STORE_TEST_SIGNING_KEY"]
)


class BearerName(AuthenticationBackend):
    """Takes ``Authorization: Bearer <name>`` as the user *name* (a stand-in for a login)."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
        scheme, _, name = conn.headers.get("authorization", "").partition(" ")
        if scheme != "Bearer" or not name:
            return None
        return AuthCredentials(["authenticated"]), SimpleUser(name)


def user_subject(scope: Scope) -> str | None:
    """The logged-in user, as the authentication middleware put it in the scope."""
    user = scope["user"]
    return f"user:{user.identity}" if user.is_authenticated else None


async def ready(request: Request) -> PlainTextResponse:
    """Answer the start-up check."""
    return PlainTextResponse("ready")


app = Starlette(
    routes=[
        Route("/ready", ready),
        Mount("/tickets", UploadTicketApp(uploads, subject=user_subject)),
        Mount("/open-tickets", UploadTicketApp(uploads)),
    ],
    middleware=[Middleware(AuthenticationMiddleware, backend=BearerName())],
)
