"""Redirect delivery through gunicorn and uvicorn: a 307 to a presigned URL that the client
fetches from the S3 server itself."""

from __future__ import annotations

import datetime
import time
from urllib.parse import parse_qs, quote, urlsplit

import attrs
import httpx
import pytest

from r2store import R2Store
from tests.integrations.conftest import Bucket, Server
from tests.integrations.helpers import BIG, OBJECTS, SIGNING_KEY


def _location(response: httpx.Response) -> str:
    assert response.status_code == 307, response.status_code
    location: str = response.headers["Location"]
    return location


@pytest.mark.parametrize("key", ["hello.txt", "big.bin", "odd name+&=?#%;.txt", "文件/ünïcødé.txt"])
def test_the_location_serves_the_object(server: Server, client: httpx.Client, key: str) -> None:
    """GET answers 307; the Location, fetched from the S3 server, gives the object's bytes."""
    response = client.get(server.url("/redirect-proxy/" + quote(key)))

    fetched = client.get(_location(response))

    assert fetched.status_code == 200
    assert fetched.content == OBJECTS[key].body


def test_a_range_follows_the_redirect(server: Server, client: httpx.Client) -> None:
    """A client following the redirect with its Range gets those bytes from the S3 server."""
    response = client.get(
        server.url("/redirect-proxy/big.bin"),
        headers={"Range": "bytes=100-199"},
        follow_redirects=True,
    )

    assert response.status_code == 206
    assert response.content == BIG[100:200]
    assert [r.status_code for r in response.history] == [307]


def test_a_head_follows_the_redirect(server: Server, client: httpx.Client) -> None:
    """HEAD is redirected, with no body, to a URL that answers a HEAD with the object's size."""
    response = client.head(server.url("/redirect-proxy/big.bin"), follow_redirects=True)

    assert [(r.status_code, r.content) for r in response.history] == [(307, b"")]
    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(BIG))


def test_the_location_expires_shortly(server: Server, client: httpx.Client) -> None:
    """The Location is signed now for 300 s, and the redirect may be kept at most 150 s,
    by the browser only."""
    response = client.get(server.url("/redirect-proxy/hello.txt"))
    query = parse_qs(urlsplit(_location(response)).query)

    signed = datetime.datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ")
    age = time.time() - signed.replace(tzinfo=datetime.timezone.utc).timestamp()
    assert -5 < age < 5
    assert query["X-Amz-Expires"] == ["300"]
    assert response.headers["Cache-Control"] == "private, max-age=150"


def test_a_redirect_sends_nothing_to_s3(server: Server, client: httpx.Client) -> None:
    """The server answers a redirect without a request to S3: the client makes it."""
    before = len(server.operations())

    response = client.get(server.url("/redirect-proxy/big.bin"), headers={"Range": "bytes=0-0"})

    assert response.status_code == 307
    assert len(server.operations()) == before


def test_authorize_refusing_gives_403_and_no_location(server: Server, client: httpx.Client) -> None:
    """The authorize hook still decides: refused, the answer is 403 without a Location."""
    response = client.get(server.url("/redirect-authz-proxy/hello.txt"))

    assert response.status_code == 403
    assert "Location" not in response.headers


def test_authorize_allowing_gives_the_redirect(server: Server, client: httpx.Client) -> None:
    """A request the hook allows (it reads a header from the environ or scope) is redirected."""
    response = client.get(
        server.url("/redirect-authz-proxy/hello.txt"), headers={"X-Test-Allow": "yes"}
    )

    assert client.get(_location(response)).content == OBJECTS["hello.txt"].body


def test_an_unsigned_url_is_not_redirected(server: Server, client: httpx.Client) -> None:
    """With a proxy signing key, a URL without a signature answers 403, not a redirect."""
    response = client.get(server.url("/redirect-signed-proxy/hello.txt"))

    assert response.status_code == 403
    assert "Location" not in response.headers


def test_a_signed_url_is_redirected(
    server: Server, client: httpx.Client, seeded_bucket: Bucket
) -> None:
    """A signed proxy URL is redirected, and its Location serves the object."""
    signer = R2Store(
        attrs.evolve(
            seeded_bucket.store.config,
            proxy_signing_key=SIGNING_KEY,
            proxy_path="/redirect-signed-proxy/",
        )
    )

    response = client.get(server.url(signer.proxy_url("hello.txt", expires_in=60)))

    assert client.get(_location(response)).content == OBJECTS["hello.txt"].body


def test_delivery_is_chosen_per_key(server: Server, client: httpx.Client) -> None:
    """The per-key hook redirects the big .bin object and streams the small text one."""
    big = client.get(server.url("/per-key-proxy/big.bin"))
    small = client.get(server.url("/per-key-proxy/hello.txt"))

    assert big.status_code == 307
    assert small.status_code == 200
    assert small.content == OBJECTS["hello.txt"].body
