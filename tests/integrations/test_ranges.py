"""Range requests through gunicorn and uvicorn: 206, 416, and when a Range is ignored."""

from __future__ import annotations

import httpx
import pytest

from r2store import Store, _http
from tests.integrations.conftest import Bucket, Server
from tests.integrations.helpers import BIG, LOCATION, OBJECTS

DATA = OBJECTS["data.bin"].body  # 100 bytes, 0 to 99


@pytest.mark.parametrize(
    ("range_header", "first", "last"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=-1", 99, 99),
        ("bytes=90-", 90, 99),
        ("bytes=10-19", 10, 19),
        ("bytes=95-500", 95, 99),
        ("bytes=-500", 0, 99),
    ],
)
def test_a_satisfiable_range_gets_206(
    any_mount_base: str, client: httpx.Client, range_header: str, first: int, last: int
) -> None:
    """A single satisfiable byte range answers 206 with those bytes and their Content-Range."""
    response = client.get(any_mount_base + "data.bin", headers={"Range": range_header})

    assert response.status_code == 206
    assert response.content == DATA[first : last + 1]
    assert response.headers["content-range"] == f"bytes {first}-{last}/100"
    assert response.headers["content-length"] == str(last + 1 - first)


def test_a_range_across_chunks_is_exact(any_proxy_base: str, client: httpx.Client) -> None:
    """A range spanning the proxy's 1 MiB chunk boundary returns exactly those bytes."""
    first, last = 1024 * 1024 - 5, 1024 * 1024 + 10
    response = client.get(any_proxy_base + "big.bin", headers={"Range": f"bytes={first}-{last}"})

    assert response.status_code == 206
    assert response.content == BIG[first : last + 1]


def test_a_range_keeps_the_validators(
    any_proxy_base: str, client: httpx.Client, seeded_store: Store
) -> None:
    """A 206 carries the whole object's ETag and Accept-Ranges."""
    response = client.get(any_proxy_base + "data.bin", headers={"Range": "bytes=0-0"})

    assert response.headers["etag"] == seeded_store.stat("data.bin").etag
    assert response.headers["accept-ranges"] == "bytes"


def test_a_range_costs_one_get_object(
    server: Server, proxy_url_base: str, client: httpx.Client, seeded_bucket: Bucket
) -> None:
    """A range request sends one GetObject to S3, and no HeadObject."""
    before = len(server.operations())

    client.get(proxy_url_base + "data.bin", headers={"Range": "bytes=-1"})

    assert server.operations()[before:] == [f"GET /{seeded_bucket.name}/{LOCATION}/data.bin"]


@pytest.mark.parametrize("range_header", ["bytes=100-", "bytes=500-600", "bytes=-0"])
def test_an_unsatisfiable_range_gets_416(
    any_mount_base: str, client: httpx.Client, range_header: str
) -> None:
    """A range outside the object answers 416 with Content-Range: bytes */<size>."""
    response = client.get(any_mount_base + "data.bin", headers={"Range": range_header})

    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */100"


def test_any_range_of_an_empty_object_gets_416(any_proxy_base: str, client: httpx.Client) -> None:
    """A range of an empty object answers 416 with Content-Range: bytes */0."""
    response = client.get(any_proxy_base + "empty.txt", headers={"Range": "bytes=0-0"})

    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */0"


@pytest.mark.parametrize(
    "range_header",
    [
        "bytes=abc",
        "bytes=5-2",
        "bytes 0-1",
        "items=0-1",
        "bytes=--1",
        "bytes=0-0,5-6",
        "bytes=0-0, -1",
        "bytes=",
    ],
)
def test_a_malformed_or_multiple_range_gets_the_whole_object(
    any_proxy_base: str, client: httpx.Client, range_header: str
) -> None:
    """A malformed Range, or more than one range, is ignored: 200 with the whole object."""
    response = client.get(any_proxy_base + "data.bin", headers={"Range": range_header})

    assert response.status_code == 200
    assert response.content == DATA
    assert "content-range" not in response.headers


def test_if_range_with_the_current_etag_gets_206(
    any_proxy_base: str, client: httpx.Client, seeded_store: Store
) -> None:
    """If-Range with the object's current ETag lets the Range apply."""
    etag = seeded_store.stat("data.bin").etag
    assert etag is not None

    response = client.get(
        any_proxy_base + "data.bin", headers={"Range": "bytes=0-9", "If-Range": etag}
    )

    assert response.status_code == 206
    assert response.content == DATA[:10]


def test_if_range_with_the_current_date_gets_206(
    any_proxy_base: str, client: httpx.Client, seeded_store: Store
) -> None:
    """If-Range with the object's Last-Modified lets the Range apply."""
    modified = seeded_store.stat("data.bin").last_modified
    assert modified is not None

    response = client.get(
        any_proxy_base + "data.bin",
        headers={"Range": "bytes=0-9", "If-Range": _http.format_http_date(modified)},
    )

    assert response.status_code == 206


@pytest.mark.parametrize(
    "if_range",
    ['"stale-etag"', "W/{etag}", "Sat, 01 Jan 2000 00:00:00 GMT"],
    ids=["stale-etag", "weak-current-etag", "old-date"],
)
def test_if_range_with_a_stale_validator_gets_the_whole_object(
    any_proxy_base: str, client: httpx.Client, seeded_store: Store, if_range: str
) -> None:
    """If-Range that does not match strongly makes the Range ignored: 200, whole object."""
    etag = seeded_store.stat("data.bin").etag
    response = client.get(
        any_proxy_base + "data.bin",
        headers={"Range": "bytes=0-9", "If-Range": if_range.format(etag=etag)},
    )

    assert response.status_code == 200
    assert response.content == DATA
    assert "content-range" not in response.headers


def test_a_416_costs_one_request(
    server: Server, proxy_url_base: str, client: httpx.Client, seeded_bucket: Bucket
) -> None:
    """The object's size for a 416 comes from S3's error answer: no extra HeadObject."""
    before = len(server.operations())

    response = client.get(proxy_url_base + "data.bin", headers={"Range": "bytes=500-"})

    assert response.status_code == 416
    assert server.operations()[before:] == [f"GET /{seeded_bucket.name}/{LOCATION}/data.bin"]
