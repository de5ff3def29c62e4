"""GET and HEAD through gunicorn and uvicorn: bodies, headers, and what reaches S3."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from r2store import ObjectStat, _http
from tests.integrations.conftest import Bucket, Server
from tests.integrations.helpers import BIG, CACHE_CONTROL, LOCATION, OBJECTS, raw_exchange
from tests.integrations.upstreams import UNTYPED_BODY

# The headers a HEAD must share with the GET of the same object.
_ENTITY_HEADERS = (
    "content-type",
    "content-length",
    "accept-ranges",
    "cache-control",
    "etag",
    "last-modified",
    "content-disposition",
    "x-content-type-options",
    "content-security-policy",
)


def _stat(bucket: Bucket, key: str) -> ObjectStat:
    return bucket.store.stat(key)


@pytest.mark.parametrize("key", ["hello.txt", "data.bin", "big.bin", "empty.txt"])
def test_get_streams_the_whole_object(mount_base: str, client: httpx.Client, key: str) -> None:
    """GET answers 200 with exactly the stored bytes, under every mounting."""
    response = client.get(mount_base + key)

    assert response.status_code == 200
    assert response.content == OBJECTS[key].body


def test_get_sends_the_content_length(proxy_url_base: str, client: httpx.Client) -> None:
    """GET declares the object's size in Content-Length."""
    response = client.get(proxy_url_base + "big.bin")

    assert response.headers["content-length"] == str(len(OBJECTS["big.bin"].body))


def test_get_sends_the_validators(
    proxy_url_base: str, client: httpx.Client, seeded_bucket: Bucket
) -> None:
    """GET sends the object's ETag and Last-Modified."""
    stat = _stat(seeded_bucket, "hello.txt")
    assert stat.last_modified is not None

    response = client.get(proxy_url_base + "hello.txt")

    assert response.headers["etag"] == stat.etag
    assert response.headers["last-modified"] == _http.format_http_date(stat.last_modified)


def test_get_offers_byte_ranges(proxy_url_base: str, client: httpx.Client) -> None:
    """GET says that byte ranges are accepted."""
    response = client.get(proxy_url_base + "hello.txt")

    assert response.headers["accept-ranges"] == "bytes"


def test_get_sends_the_stored_content_type(proxy_url_base: str, client: httpx.Client) -> None:
    """GET sends the Content-Type the object was stored with."""
    response = client.get(proxy_url_base + "data.bin")

    assert response.headers["content-type"] == "application/x-r2store-test"


def test_get_guesses_a_missing_content_type(server: Server, client: httpx.Client) -> None:
    """GET guesses the Content-Type from the key when the upstream sends none."""
    response = client.get(server.url("/fake-proxy/untyped.png"))

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content == UNTYPED_BODY


def test_get_sends_the_configured_cache_control(proxy_url_base: str, client: httpx.Client) -> None:
    """GET sends the proxy's Cache-Control for an object stored without one."""
    response = client.get(proxy_url_base + "hello.txt")

    assert response.headers["cache-control"] == CACHE_CONTROL


def test_get_prefers_the_stored_cache_control(proxy_url_base: str, client: httpx.Client) -> None:
    """GET sends the object's own stored Cache-Control instead of the proxy's."""
    response = client.get(proxy_url_base + "cached.txt")

    assert response.headers["cache-control"] == OBJECTS["cached.txt"].cache_control


def test_get_costs_one_get_object_and_no_head(
    server: Server, proxy_url_base: str, client: httpx.Client, seeded_bucket: Bucket
) -> None:
    """GET sends exactly one GetObject to S3, and no HeadObject."""
    before = len(server.operations())

    client.get(proxy_url_base + "hello.txt")

    assert server.operations()[before:] == [f"GET /{seeded_bucket.name}/{LOCATION}/hello.txt"]


@pytest.mark.parametrize("key", ["hello.txt", "cached.txt", "page.html", "empty.txt"])
def test_head_sends_the_get_headers(mount_base: str, client: httpx.Client, key: str) -> None:
    """HEAD answers 200 with the headers a GET would send."""
    head = client.head(mount_base + key)
    get = client.get(mount_base + key)

    assert head.status_code == 200
    assert {name: head.headers.get(name) for name in _ENTITY_HEADERS} == {
        name: get.headers.get(name) for name in _ENTITY_HEADERS
    }


def test_head_sends_no_body(server: Server) -> None:
    """HEAD sends no body, though it announces the object's length."""
    # Raw bytes: an HTTP client would hide a body that a broken server sent after HEAD.
    raw = raw_exchange(server.base, "HEAD", "/media-proxy/hello.txt")

    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert f"content-length: {len(OBJECTS['hello.txt'].body)}".encode() in head.lower()
    assert body == b""


def test_head_costs_one_head_object(
    server: Server, proxy_url_base: str, client: httpx.Client, seeded_bucket: Bucket
) -> None:
    """HEAD sends exactly one HeadObject to S3."""
    before = len(server.operations())

    client.head(proxy_url_base + "hello.txt")

    assert server.operations()[before:] == [f"HEAD /{seeded_bucket.name}/{LOCATION}/hello.txt"]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_are_not_allowed(mount_base: str, client: httpx.Client, method: str) -> None:
    """Methods other than GET and HEAD get 405 with Allow: GET, HEAD."""
    response = client.request(method, mount_base + "hello.txt")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_concurrent_gets_each_get_the_whole_object(
    proxy_url_base: str, client: httpx.Client
) -> None:
    """Eight GETs at once of a multi-chunk object each receive every byte."""
    with ThreadPoolExecutor(8) as pool:
        bodies = list(pool.map(lambda _: client.get(proxy_url_base + "big.bin").content, range(8)))

    assert bodies == [BIG] * 8
