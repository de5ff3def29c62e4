"""Who may read: signed proxy URLs and the authorize hook, through gunicorn and uvicorn."""

from __future__ import annotations

import time

import attrs
import httpx
import pytest

from r2store import R2Store
from r2store.urls import _proxy_signature, _signed_prefix
from tests.integrations.conftest import Bucket, Server
from tests.integrations.helpers import OBJECTS, SIGNING_KEY


@pytest.fixture(scope="module")
def signer(seeded_bucket: Bucket) -> R2Store:
    """A store configured like the servers' ``/signed-proxy/`` one, to build its URLs."""
    config = attrs.evolve(
        seeded_bucket.store.config, proxy_signing_key=SIGNING_KEY, proxy_path="/signed-proxy/"
    )
    return R2Store(config)


@pytest.mark.parametrize(
    "key", ["hello.txt", "résumé.html", "private/doc.txt", "odd name+&=?#%;.txt"]
)
def test_a_signed_url_is_served(
    server: Server, client: httpx.Client, signer: R2Store, key: str
) -> None:
    """A URL from proxy_url(key, expires_in=60) is served through the signing proxy."""
    response = client.get(server.url(signer.proxy_url(key, expires_in=60)))

    assert response.status_code == 200
    assert response.content == OBJECTS[key].body


def test_an_unsigned_url_is_forbidden(server: Server, client: httpx.Client) -> None:
    """Without expires and signature the signing proxy answers 403."""
    response = client.get(server.url("/signed-proxy/hello.txt"))

    assert response.status_code == 403


def test_a_tampered_signature_is_forbidden(
    server: Server, client: httpx.Client, signer: R2Store
) -> None:
    """A signature with one character changed answers 403."""
    url = signer.proxy_url("hello.txt", expires_in=60)
    tampered = url[:-1] + ("A" if url[-1] != "A" else "B")

    response = client.get(server.url(tampered))

    assert response.status_code == 403


def test_a_signature_for_another_key_is_forbidden(
    server: Server, client: httpx.Client, signer: R2Store
) -> None:
    """A valid signature for one key does not open another."""
    query = signer.proxy_url("hello.txt", expires_in=60).partition("?")[2]

    response = client.get(server.url(f"/signed-proxy/data.bin?{query}"))

    assert response.status_code == 403


def test_a_lengthened_expiry_is_forbidden(
    server: Server, client: httpx.Client, signer: R2Store
) -> None:
    """Moving a signed URL's expiry later breaks its signature: 403."""
    url = signer.proxy_url("hello.txt", expires_in=60)
    path, _, query = url.partition("?")
    params = dict(pair.split("=", 1) for pair in query.split("&"))
    later = int(params["expires"]) + 3600

    response = client.get(server.url(f"{path}?expires={later}&signature={params['signature']}"))

    assert response.status_code == 403


def test_an_expired_url_is_forbidden(server: Server, client: httpx.Client, signer: R2Store) -> None:
    """A correctly signed URL whose expiry has passed answers 403."""
    expires = int(time.time()) - 10
    signature = _proxy_signature(SIGNING_KEY, _signed_prefix(signer.config) + "hello.txt", expires)

    response = client.get(
        server.url(f"/signed-proxy/hello.txt?expires={expires}&signature={signature}")
    )

    assert response.status_code == 403


def test_authorize_sees_the_request(server: Server, client: httpx.Client) -> None:
    """The hook gets the WSGI environ or ASGI scope: it reads a header from it and allows."""
    response = client.get(server.url("/authz-proxy/hello.txt"), headers={"X-Test-Allow": "yes"})

    assert response.status_code == 200
    assert response.content == OBJECTS["hello.txt"].body


@pytest.mark.parametrize(
    ("key", "headers"),
    [("hello.txt", {}), ("private/doc.txt", {"X-Test-Allow": "yes"})],
    ids=["no-header", "private-key"],
)
def test_authorize_returning_false_is_forbidden(
    server: Server, client: httpx.Client, key: str, headers: dict[str, str]
) -> None:
    """When the hook returns False the proxy answers 403 and sends nothing of the object."""
    response = client.get(server.url(f"/authz-proxy/{key}"), headers=headers)

    assert response.status_code == 403
    assert OBJECTS[key].body not in response.content
