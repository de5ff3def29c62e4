"""Failures through gunicorn and uvicorn: missing and invalid keys, a broken or slow upstream,
and a client that leaves mid-body."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.conftest import ACCESS_KEY_ID, SECRET_ACCESS_KEY
from tests.integrations.conftest import Bucket, Server
from tests.integrations.helpers import FAKE_CHUNK_SIZE, raw_request
from tests.integrations.upstreams import TRUNCATED_SIZE, FakeS3

# What an error body may never show.
_TELLTALES = ("Traceback", 'File "', "botocore", "urllib3", ACCESS_KEY_ID, SECRET_ACCESS_KEY)


def test_a_missing_key_gets_404(mount_base: str, client: httpx.Client) -> None:
    """A key with no object answers 404."""
    response = client.get(mount_base + "no/such/object.txt")

    assert response.status_code == 404


@pytest.mark.parametrize(
    "target",
    [
        "",
        "..",
        "%2e%2e",
        "a/../hello.txt",
        "a//b.txt",
        "/hello.txt",
        "a\\b.txt",
        "a%5cb.txt",
        "%00",
    ],
)
def test_an_invalid_key_is_refused(mount_base: str, target: str) -> None:
    """A key with a dot segment, an empty segment, a backslash or NUL answers 404 (or 400)."""
    path = "/" + mount_base.split("/", 3)[3]
    response = raw_request(mount_base, path + target)

    assert response.status in (400, 404)


def test_an_unreachable_upstream_gets_502(server: Server, client: httpx.Client) -> None:
    """A store whose endpoint refuses connections answers 502."""
    response = client.get(server.url("/closed-proxy/hello.txt"))

    assert response.status_code == 502


def test_a_stalled_upstream_gets_504(server: Server, client: httpx.Client) -> None:
    """A store whose endpoint never answers answers 504 once its read timeout passes."""
    response = client.get(server.url("/stalled-proxy/hello.txt"))

    assert response.status_code == 504


@pytest.mark.parametrize(
    ("path", "method", "headers", "status"),
    [
        ("/media-proxy/no-such-object.txt", "GET", {}, 404),
        ("/media-proxy/%2e%2e/secret.txt", "GET", {}, 404),
        ("/media-proxy/hello.txt", "POST", {}, 405),
        ("/media-proxy/hello.txt", "GET", {"If-Match": '"wrong"'}, 412),
        ("/media-proxy/data.bin", "GET", {"Range": "bytes=999-"}, 416),
        ("/signed-proxy/hello.txt", "GET", {}, 403),
        ("/closed-proxy/hello.txt", "GET", {}, 502),
        ("/stalled-proxy/hello.txt", "GET", {}, 504),
    ],
    ids=["404", "404-invalid", "405", "412", "416", "403", "502", "504"],
)
def test_an_error_body_is_short_plain_text_and_tells_nothing(
    server: Server,
    seeded_bucket: Bucket,
    s3_endpoint: str,
    path: str,
    method: str,
    headers: dict[str, str],
    status: int,
) -> None:
    """An error answers a short plain-text line: no traceback, bucket, endpoint or credential."""
    response = raw_request(server.base, path, method=method, headers=headers)
    text = response.body.decode("utf-8", "replace")

    assert response.status == status
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert len(response.body) < 40
    for telltale in (*_TELLTALES, seeded_bucket.name, s3_endpoint.split("//")[1], "127.0.0.1"):
        assert telltale not in text


def _read_all(response: httpx.Response) -> None:
    for _ in response.iter_raw():
        pass


def test_an_upstream_failure_mid_body_aborts_the_response(server: Server) -> None:
    """When the upstream breaks off mid-body the client sees a cut connection, not a whole 200."""
    with (
        httpx.Client(timeout=10) as own,
        own.stream("GET", server.url("/fake-proxy/truncated.bin")) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-length"] == str(TRUNCATED_SIZE)
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            _read_all(response)


def test_a_client_disconnect_closes_the_upstream_body(server: Server, fake_s3: FakeS3) -> None:
    """A client that leaves mid-body makes the proxy close its upstream connection promptly."""
    name = f"endless-{uuid.uuid4().hex}.bin"
    with (
        httpx.Client(timeout=10) as own,
        own.stream("GET", server.url(f"/fake-proxy/{name}")) as response,
    ):
        received = 0
        for chunk in response.iter_raw():
            received += len(chunk)
            if received >= 2 * FAKE_CHUNK_SIZE:
                break
    # Leaving the blocks closed the connection with the rest of the body unread.

    assert fake_s3.started(name).is_set()
    # A deadline, not a speed test: the upstream must not keep sending for long.
    assert fake_s3.closed(name).wait(timeout=5)
