"""Direct uploads in Django's local mode: the ticket is a signed PUT to the media proxy
view, which stores the file in MEDIA_ROOT, and the form verifies it there."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import make_server

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.test import AsyncClient, Client

from r2store.django import R2Storage
from tests.conftest import BROWSER_DEADLINE, free_port
from tests.django_project.uploads import UploadForm

from .test_direct_upload_browser import _QuietHandler, _ThreadingServer
from .test_direct_uploads import TICKET_URL, _policy

if TYPE_CHECKING:
    from playwright.sync_api import Browser, FilePayload

# Tickets are bound to the session: keep sessions where the server threads reach them.
pytestmark = pytest.mark.usefixtures("cache_sessions")

SIGNING_KEY = "django-local-upload-signing-key-0123456789"
DATA = b"%PDF-1.4 local upload\n" * 1000


@pytest.fixture
def signed_local_storage(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> R2Storage:
    """Local mode as the README's settings make it, with R2_PROXY_SIGNING_KEY set."""
    monkeypatch.setenv("R2_PROXY_SIGNING_KEY", SIGNING_KEY)
    storage: R2Storage = request.getfixturevalue("local_storage")
    return storage


@pytest.fixture
def csrf_client() -> Client:
    """A client held to CSRF checks, as a browser is."""
    return Client(enforce_csrf_checks=True)


def _ticket(client: Client | None = None, size: int = len(DATA)) -> dict[str, Any]:
    """A ticket for DATA, asked for by *client* (by default a new one: a client held to
    CSRF checks could not ask without a token)."""
    policy = _policy(UploadForm.base_fields["file"])  # type: ignore[arg-type]
    body = {"filename": "report.pdf", "size": size, "type": "application/pdf"}
    response = (client or Client()).post(
        TICKET_URL,
        json.dumps(body),
        content_type="application/json",
        headers={"X-R2store-Policy": policy},
    )
    assert response.status_code == 200, response.content
    ticket: dict[str, Any] = response.json()
    return ticket


def _put(client: Client, ticket: dict[str, Any], data: bytes = DATA) -> Any:
    headers = {k: v for k, v in ticket["headers"].items() if k != "Content-Type"}
    return client.put(
        ticket["url"], data, content_type=ticket["headers"]["Content-Type"], headers=headers
    )


def _file(settings: Any, key: str) -> Path:
    return Path(settings.MEDIA_ROOT, key)


@pytest.mark.usefixtures("signed_local_storage")
def test_a_ticket_uploads_into_media_root(csrf_client: Client, settings: Any) -> None:
    """The ticket's PUT to the media proxy view lands in MEDIA_ROOT, with no CSRF token."""
    ticket = _ticket()

    response = _put(csrf_client, ticket)

    assert response.status_code == 200
    assert _file(settings, ticket["key"]).read_bytes() == DATA


@pytest.mark.usefixtures("signed_local_storage")
def test_the_form_verifies_a_local_upload(csrf_client: Client) -> None:
    """The field's clean() verifies a file uploaded in local mode and gives its key."""
    client = Client()
    ticket = _ticket(client)
    assert _put(csrf_client, ticket).status_code == 200

    response = client.post("/upload-page/", {"file": ticket["token"]})

    assert response.content.decode() == f"saved {ticket['key']}"


@pytest.mark.usefixtures("signed_local_storage")
def test_a_second_put_is_412(csrf_client: Client, settings: Any) -> None:
    """A ticket uploads once: the second PUT gets 412 and the first file stays."""
    ticket = _ticket()
    assert _put(csrf_client, ticket).status_code == 200

    response = _put(csrf_client, ticket, DATA.upper())

    assert response.status_code == 412
    assert _file(settings, ticket["key"]).read_bytes() == DATA


@pytest.mark.usefixtures("signed_local_storage")
def test_a_put_of_another_length_stores_nothing(csrf_client: Client, settings: Any) -> None:
    """A PUT longer than its ticket is refused (403) and writes nothing."""
    ticket = _ticket()

    response = _put(csrf_client, ticket, DATA + b"!")

    assert response.status_code == 403
    assert not _file(settings, ticket["key"]).exists()


@pytest.mark.usefixtures("signed_local_storage")
def test_an_unsigned_put_is_405(csrf_client: Client) -> None:
    """A PUT with no signature gets 405, CSRF exemption or not."""
    response = csrf_client.put("/media-proxy/page/x.pdf", b"x", content_type="application/pdf")

    assert response.status_code == 405


@pytest.mark.usefixtures("local_storage")
def test_without_a_signing_key_the_view_says_uploads_are_unavailable() -> None:
    """Local mode without R2_PROXY_SIGNING_KEY issues no ticket: 503 with a plain reason."""
    policy = _policy(UploadForm.base_fields["file"])  # type: ignore[arg-type]
    response = Client().post(
        TICKET_URL,
        json.dumps({"filename": "a.pdf", "size": 3, "type": "application/pdf"}),
        content_type="application/json",
        headers={"X-R2store-Policy": policy},
    )

    assert response.status_code == 503


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
@pytest.mark.usefixtures("signed_local_storage")
async def test_asgi_put_uploads_into_media_root(settings: Any) -> None:
    """Under ASGI too, the ticket's PUT to the view lands in MEDIA_ROOT."""
    from asgiref.sync import sync_to_async

    ticket = await sync_to_async(_ticket)()
    headers = {k: v for k, v in ticket["headers"].items() if k != "Content-Type"}

    response: Any = await AsyncClient(enforce_csrf_checks=True).put(
        ticket["url"], DATA, content_type="application/pdf", headers=headers
    )

    assert response.status_code == 200
    assert _file(settings, ticket["key"]).read_bytes() == DATA


@pytest.mark.usefixtures("signed_local_storage")
def test_chromium_uploads_into_media_root(browser: Browser, settings: Any) -> None:
    """In Chromium, direct-upload.js PUTs a chosen file to the media proxy in local mode,
    and the form saves it under the ticket's key, in MEDIA_ROOT."""
    port = free_port()
    server = make_server(
        "127.0.0.1", port, WSGIHandler(), server_class=_ThreadingServer, handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        page = browser.new_page()
        page.set_default_timeout(BROWSER_DEADLINE)
        page.goto(f"http://127.0.0.1:{port}/upload-page/")
        file: FilePayload = {"name": "report.pdf", "mimeType": "application/pdf", "buffer": DATA}
        page.set_input_files("input[type=file]", files=[file])
        page.wait_for_selector("[data-r2store-upload][data-state=done]")
        page.click("button")
        page.wait_for_selector("text=saved page/")
        key = page.inner_text("body").removeprefix("saved ").strip()
    finally:
        server.shutdown()
        server.server_close()

    assert key.endswith("/report.pdf")
    assert _file(settings, key).read_bytes() == DATA
