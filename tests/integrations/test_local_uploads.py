"""Direct uploads in local mode through real gunicorn and uvicorn: a LocalStore's ticket is
a signed PUT to the media proxy, which stores the body in the folder.

Both servers mount ``/local-upload-proxy/`` over the seeded folder with the signing key
(see ``apps/common.py``); the tickets are issued here, by a LocalStore configured alike.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import httpx
import pytest

from r2store import LocalStore
from r2store.errors import InvalidTicketError
from r2store.uploads import DirectUploads, UploadPolicy, UploadTicket
from tests.integrations.conftest import Server
from tests.integrations.helpers import SIGNING_KEY

BODY = bytes(range(256)) * 4096 + b"tail"  # 1 MiB and a bit: more than one read


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    """A client of its own per test: after a refused PUT whose body it did not read,
    gunicorn drains at most a little of it and then closes the kept-alive connection."""
    with httpx.Client(timeout=httpx.Timeout(10.0)) as http_client:
        yield http_client


@pytest.fixture(scope="module")
def uploads(seeded_local: LocalStore) -> DirectUploads:
    """Direct uploads into the seeded folder, as the servers' ``/local-upload-proxy/`` sees it."""
    config = attrs.evolve(
        seeded_local.config, proxy_signing_key=SIGNING_KEY, proxy_path="/local-upload-proxy/"
    )
    store = LocalStore(config)
    return DirectUploads(store, policy=UploadPolicy(max_size=len(BODY) * 2))


def _issue(uploads: DirectUploads, size: int = len(BODY)) -> UploadTicket:
    return uploads.issue("report.bin", size, "application/pdf")


def _put(
    client: httpx.Client, server: Server, ticket: UploadTicket, body: bytes = BODY, **headers: str
) -> httpx.Response:
    sent = {**ticket.headers, **headers}
    return client.put(server.url(ticket.url), content=body, headers=sent)


def _file(uploads: DirectUploads, key: str) -> Path:
    store = uploads.store
    assert isinstance(store, LocalStore)
    return Path(store.root, store.config.location, key)


def test_a_ticket_uploads_into_the_folder(
    server: Server, client: httpx.Client, uploads: DirectUploads
) -> None:
    """The ticket's PUT lands in the folder with its bytes and type, and verifies."""
    ticket = _issue(uploads)

    response = _put(client, server, ticket)

    assert response.status_code == 200
    assert _file(uploads, ticket.key).read_bytes() == BODY
    stat = uploads.verify(ticket.token)
    assert (stat.size, stat.content_type) == (len(BODY), "application/pdf")


def test_a_second_put_of_a_ticket_is_412(
    server: Server, client: httpx.Client, uploads: DirectUploads
) -> None:
    """A ticket uploads once: its URL replayed with other bytes gets 412, the first stay."""
    ticket = _issue(uploads)
    assert _put(client, server, ticket).status_code == 200

    response = _put(client, server, ticket, bytes(len(BODY)))

    assert response.status_code == 412
    assert _file(uploads, ticket.key).read_bytes() == BODY


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (BODY + b"!", {}, 403),
        (BODY[:-1], {}, 403),
        (BODY, {"Content-Type": "text/html"}, 403),
    ],
    ids=["longer", "shorter", "other-type"],
)
def test_a_put_unlike_its_ticket_stores_nothing(
    server: Server,
    client: httpx.Client,
    uploads: DirectUploads,
    body: bytes,
    headers: dict[str, str],
    status: int,
) -> None:
    """A PUT of another length or type than signed is refused, and nothing is written."""
    ticket = _issue(uploads)

    response = _put(client, server, ticket, body, **headers)

    assert response.status_code == status
    assert not _file(uploads, ticket.key).exists()
    with pytest.raises(InvalidTicketError):
        uploads.verify(ticket.token)


def test_a_chunked_put_is_411(server: Server, client: httpx.Client, uploads: DirectUploads) -> None:
    """A PUT without Content-Length (a chunked body) gets 411 and stores nothing."""
    ticket = _issue(uploads)

    response = client.put(
        server.url(ticket.url), content=iter([BODY]), headers=dict(ticket.headers)
    )

    assert response.status_code == 411
    assert not _file(uploads, ticket.key).exists()


def test_a_tampered_url_is_403(
    server: Server, client: httpx.Client, uploads: DirectUploads
) -> None:
    """A ticket's URL with another key is refused, and nothing is written at either key."""
    ticket = _issue(uploads)
    other = ticket.key.replace("report.bin", "other.bin")

    response = client.put(
        server.url(ticket.url.replace("report.bin", "other.bin")),
        content=BODY,
        headers=dict(ticket.headers),
    )

    assert response.status_code == 403
    assert not _file(uploads, other).exists()
    assert not _file(uploads, ticket.key).exists()


def test_an_expired_url_is_403(
    server: Server, client: httpx.Client, uploads: DirectUploads
) -> None:
    """A PUT after its URL expired is refused, and nothing is written."""
    ticket = uploads.issue(
        "late.bin",
        len(BODY),
        "application/pdf",
        policy=attrs.evolve(uploads.policy, expires_in=1),
    )
    time.sleep(2.1)

    response = _put(client, server, ticket)

    assert response.status_code == 403
    assert not _file(uploads, ticket.key).exists()


def test_a_get_url_cannot_put(server: Server, client: httpx.Client, uploads: DirectUploads) -> None:
    """A URL signed for GET does not upload: 403, and nothing is written."""
    key = "uploads/get-signed.bin"
    url = uploads.store.presigned_url(key, expires_in=60)

    response = client.put(server.url(url), content=BODY)

    assert response.status_code == 403
    assert not _file(uploads, key).exists()


def test_an_unsigned_put_is_405(server: Server, client: httpx.Client) -> None:
    """A PUT with no signature gets 405, as on every proxy."""
    response = client.put(server.url("/local-upload-proxy/uploads/unsigned.bin"), content=b"x")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_the_uploaded_file_is_served(
    server: Server, client: httpx.Client, uploads: DirectUploads
) -> None:
    """What a ticket uploaded is served back by the same proxy, byte for byte."""
    ticket = _issue(uploads)
    assert _put(client, server, ticket).status_code == 200

    response = client.get(server.url(uploads.store.presigned_url(ticket.key)))

    assert response.status_code == 200
    assert response.content == BODY
    assert response.headers["content-type"] == "application/pdf"
