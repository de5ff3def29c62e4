"""The ASGI ticket endpoint under real uvicorn, asked by a real HTTP client: tickets
issued, bound to the user the app's authentication names, and requests refused.

The server (``apps/tickets_app.py``) issues tickets for the test bucket; they are PUT to
the S3 server and verified here, with the same secret.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from r2store.errors import InvalidTicketError
from r2store.uploads import MAX_TICKET_REQUEST, DirectUploads, UploadPolicy
from tests.conftest import free_port
from tests.integrations.conftest import Bucket, Server, serve
from tests.integrations.helpers import SIGNING_KEY

PNG = b"\x89PNG\r\n\x1a\n"
REQUEST = {"filename": "cat.png", "size": len(PNG), "type": "image/png"}


@pytest.fixture(scope="module")
def tickets_server(
    server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """uvicorn serving ``apps/tickets_app.py``."""
    port = free_port()
    argv = [
        "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
        "--timeout-graceful-shutdown", "3", "tests.integrations.apps.tickets_app:app",
    ]  # fmt: skip
    tmp: Path = tmp_path_factory.mktemp("tickets")
    yield from serve("asgi", argv, port, server_env, tmp)


@pytest.fixture(scope="module")
def uploads(seeded_bucket: Bucket) -> DirectUploads:
    """Direct uploads as the server makes them: the test bucket, the same secret, and the
    policy of apps/tickets_app.py (verify() checks a token against it again)."""
    policy = UploadPolicy(max_size=1024, content_types=["image/*"], prefix="tickets")
    return DirectUploads(seeded_bucket.store, policy=policy, secret=SIGNING_KEY)


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    """A client of its own per test: a refused body may cost the connection."""
    with httpx.Client(timeout=httpx.Timeout(10.0)) as client:
        yield client


def _ticket(client: httpx.Client, server: Server, path: str = "/tickets/", **headers: str) -> Any:
    """Ask *path* for a ticket for PNG; the ticket (JSON), once it is answered 200."""
    response = client.post(server.url(path), json=REQUEST, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _upload(client: httpx.Client, ticket: Any) -> None:
    """PUT PNG on *ticket*, as a browser does."""
    response = client.put(ticket["url"], content=PNG, headers=ticket["headers"])
    assert response.status_code == 200, response.text


def test_a_ticket_is_issued_and_its_upload_verifies(
    tickets_server: Server, client: httpx.Client, uploads: DirectUploads
) -> None:
    """A POST of {filename, size, type} gets a ticket, not to be cached, whose upload verifies."""
    response = client.post(tickets_server.url("/open-tickets/"), json=REQUEST)
    ticket = response.json()
    _upload(client, ticket)

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"] == "application/json"
    assert uploads.verify(ticket["token"]).key == ticket["key"]


def test_a_refused_request_is_400(tickets_server: Server, client: httpx.Client) -> None:
    """A file of a type the policy does not take gets 400 and says why."""
    request = {**REQUEST, "type": "text/html"}

    response = client.post(tickets_server.url("/tickets/"), json=request)

    assert response.status_code == 400
    assert "text/html are not accepted" in response.json()["error"]


def test_a_malformed_request_is_400(tickets_server: Server, client: httpx.Client) -> None:
    """A body that is not JSON gets 400."""
    response = client.post(tickets_server.url("/tickets/"), content=b"filename=cat.png")

    assert response.status_code == 400
    assert "error" in response.json()


def test_another_method_is_405(tickets_server: Server, client: httpx.Client) -> None:
    """A GET gets 405 naming POST."""
    response = client.get(tickets_server.url("/tickets/"))

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_a_body_too_long_is_413(tickets_server: Server, client: httpx.Client) -> None:
    """A body longer than MAX_TICKET_REQUEST (valid JSON, padded) gets 413, not a ticket."""
    body = b'{"filename": "cat.png", "size": 8, "type": "image/png"}'
    body += b" " * (64 * MAX_TICKET_REQUEST)

    response = client.post(
        tickets_server.url("/tickets/"), content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 413
    assert "token" not in response.json()


def test_a_body_is_read_no_further_than_the_limit(tickets_server: Server) -> None:
    """A request that declares 1 GiB and sends one byte past the limit is answered 413 at
    once: the app does not wait for the rest."""
    port = int(tickets_server.base.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.putrequest("POST", "/tickets/")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(1024**3))
        connection.endheaders()
        connection.send(b" " * (MAX_TICKET_REQUEST + 1))
        # A socket timeout here (5 s) means the app went on waiting for the declared GiB.
        with connection.getresponse() as response:
            status, body = response.status, response.read()
    finally:
        connection.close()

    assert status == 413
    assert b"token" not in body


def test_a_chunked_body_too_long_is_413(tickets_server: Server, client: httpx.Client) -> None:
    """A body sent chunked (no Content-Length) is read no further than the limit: 413."""
    chunks = [b'{"filename": "cat.png", "size": 8, "type": "image/png"}'] + [b" " * 1024] * 64

    response = client.post(tickets_server.url("/tickets/"), content=iter(chunks))

    assert response.status_code == 413
    assert "token" not in response.json()


def test_a_users_ticket_verifies_for_that_user(
    tickets_server: Server, client: httpx.Client, uploads: DirectUploads
) -> None:
    """A ticket asked for by alice verifies for alice."""
    ticket = _ticket(client, tickets_server, Authorization="Bearer alice")
    _upload(client, ticket)

    assert uploads.verify(ticket["token"], subject="user:alice").key == ticket["key"]


def test_a_users_ticket_is_refused_for_another_user(
    tickets_server: Server, client: httpx.Client, uploads: DirectUploads
) -> None:
    """A ticket asked for by alice, its file uploaded, is refused for bob."""
    ticket = _ticket(client, tickets_server, Authorization="Bearer alice")
    _upload(client, ticket)

    with pytest.raises(InvalidTicketError, match="issued to someone else"):
        uploads.verify(ticket["token"], subject="user:bob")


def test_a_users_ticket_is_refused_without_a_subject(
    tickets_server: Server, client: httpx.Client, uploads: DirectUploads
) -> None:
    """A ticket asked for by alice is refused by a verify() that names no subject."""
    ticket = _ticket(client, tickets_server, Authorization="Bearer alice")
    _upload(client, ticket)

    with pytest.raises(InvalidTicketError):
        uploads.verify(ticket["token"])


def test_an_anonymous_request_gets_no_ticket(tickets_server: Server, client: httpx.Client) -> None:
    """Where tickets go to the user, an anonymous request (the subject function finds
    nobody) gets 403 and no ticket."""
    response = client.post(tickets_server.url("/tickets/"), json=REQUEST)

    assert response.status_code == 403
    assert "token" not in response.json()


def test_an_open_ticket_is_refused_for_a_user(
    tickets_server: Server, client: httpx.Client, uploads: DirectUploads
) -> None:
    """A ticket issued to no subject (the open endpoint) is refused for alice."""
    ticket = _ticket(client, tickets_server, "/open-tickets/")
    _upload(client, ticket)

    with pytest.raises(InvalidTicketError, match="issued to someone else"):
        uploads.verify(ticket["token"], subject="user:alice")
