"""Conditional requests through gunicorn and uvicorn: 304 and 412, as RFC 9110 orders them."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from r2store import ObjectStat, Store, _http
from tests.integrations.conftest import Bucket, Server
from tests.integrations.helpers import CACHE_CONTROL, LOCATION, OBJECTS

PAST = "Sat, 01 Jan 2000 00:00:00 GMT"
FUTURE = "Fri, 01 Jan 2100 00:00:00 GMT"


@pytest.fixture
def hello(seeded_store: Store) -> ObjectStat:
    """The metadata of hello.txt (stored without a Cache-Control) in the backend under test."""
    return seeded_store.stat("hello.txt")


def _date(stat: ObjectStat, shift: timedelta = timedelta()) -> str:
    assert stat.last_modified is not None
    return _http.format_http_date(stat.last_modified + shift)


@pytest.mark.parametrize(
    "if_none_match",
    ["{etag}", '"other", {etag}', "W/{etag}", "*", '"a" ,{etag}'],
    ids=["exact", "list", "weak", "star", "list-with-spaces"],
)
def test_if_none_match_that_matches_gets_304(
    any_mount_base: str, client: httpx.Client, hello: ObjectStat, if_none_match: str
) -> None:
    """If-None-Match matching the ETag (weakly, in a list, or *) answers 304 with no body."""
    response = client.get(
        any_mount_base + "hello.txt",
        headers={"If-None-Match": if_none_match.format(etag=hello.etag)},
    )

    assert response.status_code == 304
    assert response.content == b""


def test_a_304_keeps_the_etag_and_cache_control(
    any_proxy_base: str, client: httpx.Client, hello: ObjectStat
) -> None:
    """A 304 carries the ETag and the Cache-Control a 200 would."""
    assert hello.etag is not None
    response = client.get(any_proxy_base + "hello.txt", headers={"If-None-Match": hello.etag})

    assert response.status_code == 304
    assert response.headers["etag"] == hello.etag
    assert response.headers["cache-control"] == CACHE_CONTROL


def test_a_304_keeps_the_stored_cache_control(
    any_proxy_base: str,
    client: httpx.Client,
    seeded_store: Store,
) -> None:
    """A 304 for an object with its own Cache-Control carries that, as its 200 does."""
    etag = seeded_store.stat("cached.txt").etag
    assert etag is not None
    response = client.get(any_proxy_base + "cached.txt", headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.headers["cache-control"] == OBJECTS["cached.txt"].cache_control


@pytest.mark.parametrize("name", ["hello.txt", "cached.txt"])
@pytest.mark.parametrize("condition", ["if-none-match", "if-modified-since"])
def test_a_304_carries_the_caching_headers_of_the_200(
    any_proxy_base: str, client: httpx.Client, name: str, condition: str
) -> None:
    """A 304 carries the Cache-Control, ETag and Last-Modified that its 200 carries."""
    full = client.get(any_proxy_base + name)
    validator = full.headers["etag" if condition == "if-none-match" else "last-modified"]

    response = client.get(any_proxy_base + name, headers={condition: validator})

    assert response.status_code == 304
    caching = ("cache-control", "etag", "last-modified")
    assert {h: response.headers.get(h) for h in caching} == {h: full.headers[h] for h in caching}


def test_a_304_has_no_content_headers_or_body(
    any_mount_base: str, client: httpx.Client, hello: ObjectStat
) -> None:
    """A 304 has no Content-Type, no Content-Length and no body."""
    assert hello.etag is not None
    response = client.get(any_mount_base + "hello.txt", headers={"If-None-Match": hello.etag})

    assert response.status_code == 304
    assert "content-type" not in response.headers
    assert "content-length" not in response.headers
    assert response.content == b""


def test_a_304_costs_one_head_object(
    server: Server, proxy_url_base: str, client: httpx.Client, seeded_bucket: Bucket
) -> None:
    """Revalidating an unchanged object sends one HeadObject to S3, and no GetObject."""
    etag = seeded_bucket.store.stat("hello.txt").etag
    assert etag is not None
    before = len(server.operations())

    client.get(proxy_url_base + "hello.txt", headers={"If-None-Match": etag})

    assert server.operations()[before:] == [f"HEAD /{seeded_bucket.name}/{LOCATION}/hello.txt"]


def test_revalidating_a_changed_object_costs_a_head_and_a_get(
    server: Server, proxy_url_base: str, client: httpx.Client, seeded_bucket: Bucket
) -> None:
    """Revalidating with an outdated ETag sends a HeadObject, then the GetObject for the 200."""
    before = len(server.operations())

    client.get(proxy_url_base + "hello.txt", headers={"If-None-Match": '"an-old-version"'})

    path = f"/{seeded_bucket.name}/{LOCATION}/hello.txt"
    assert server.operations()[before:] == [f"HEAD {path}", f"GET {path}"]


def test_if_none_match_that_does_not_match_gets_200(
    any_proxy_base: str, client: httpx.Client
) -> None:
    """If-None-Match with other tags answers 200 with the object."""
    response = client.get(any_proxy_base + "hello.txt", headers={"If-None-Match": '"a", W/"b"'})

    assert response.status_code == 200
    assert response.content == OBJECTS["hello.txt"].body


@pytest.mark.parametrize("shift", [timedelta(), timedelta(days=1)], ids=["same", "later"])
def test_if_modified_since_not_modified_gets_304(
    any_proxy_base: str, client: httpx.Client, hello: ObjectStat, shift: timedelta
) -> None:
    """If-Modified-Since at or after Last-Modified answers 304 with no body."""
    response = client.get(
        any_proxy_base + "hello.txt", headers={"If-Modified-Since": _date(hello, shift)}
    )

    assert response.status_code == 304
    assert response.content == b""


@pytest.mark.parametrize("value", [PAST, "not a date"], ids=["earlier", "invalid"])
def test_if_modified_since_earlier_or_invalid_gets_200(
    any_proxy_base: str, client: httpx.Client, value: str
) -> None:
    """If-Modified-Since before Last-Modified, or not a date, answers 200."""
    response = client.get(any_proxy_base + "hello.txt", headers={"If-Modified-Since": value})

    assert response.status_code == 200
    assert response.content == OBJECTS["hello.txt"].body


def test_if_none_match_overrides_if_modified_since(
    any_proxy_base: str, client: httpx.Client, hello: ObjectStat
) -> None:
    """A non-matching If-None-Match answers 200 even when If-Modified-Since says unchanged."""
    response = client.get(
        any_proxy_base + "hello.txt",
        headers={"If-None-Match": '"an-old-version"', "If-Modified-Since": FUTURE},
    )

    assert response.status_code == 200
    assert response.content == OBJECTS["hello.txt"].body


@pytest.mark.parametrize(
    "if_match", ['"wrong"', '"a", "b"', "W/{etag}"], ids=["wrong", "list", "weak-current"]
)
def test_if_match_that_fails_gets_412(
    any_mount_base: str, client: httpx.Client, hello: ObjectStat, if_match: str
) -> None:
    """If-Match without a strongly matching tag answers 412."""
    response = client.get(
        any_mount_base + "hello.txt", headers={"If-Match": if_match.format(etag=hello.etag)}
    )

    assert response.status_code == 412


@pytest.mark.parametrize(
    "if_match", ["{etag}", '"other", {etag}', "*"], ids=["exact", "list", "star"]
)
def test_if_match_that_holds_gets_200(
    any_proxy_base: str, client: httpx.Client, hello: ObjectStat, if_match: str
) -> None:
    """If-Match with the current ETag (alone, in a list, or *) answers 200 with the object."""
    response = client.get(
        any_proxy_base + "hello.txt", headers={"If-Match": if_match.format(etag=hello.etag)}
    )

    assert response.status_code == 200
    assert response.content == OBJECTS["hello.txt"].body


def test_if_unmodified_since_in_the_past_gets_412(
    any_mount_base: str, client: httpx.Client
) -> None:
    """If-Unmodified-Since before Last-Modified answers 412."""
    response = client.get(any_mount_base + "hello.txt", headers={"If-Unmodified-Since": PAST})

    assert response.status_code == 412


def test_if_unmodified_since_not_modified_gets_200(
    any_proxy_base: str, client: httpx.Client, hello: ObjectStat
) -> None:
    """If-Unmodified-Since at Last-Modified answers 200."""
    response = client.get(
        any_proxy_base + "hello.txt", headers={"If-Unmodified-Since": _date(hello)}
    )

    assert response.status_code == 200


def test_if_match_overrides_if_unmodified_since(
    any_proxy_base: str, client: httpx.Client, hello: ObjectStat
) -> None:
    """A matching If-Match answers 200 even when If-Unmodified-Since lies in the past."""
    assert hello.etag is not None
    response = client.get(
        any_proxy_base + "hello.txt",
        headers={"If-Match": hello.etag, "If-Unmodified-Since": PAST},
    )

    assert response.status_code == 200


def test_if_match_is_checked_before_if_none_match(
    any_proxy_base: str, client: httpx.Client, hello: ObjectStat
) -> None:
    """A failing If-Match answers 412 even when If-None-Match would give 304."""
    assert hello.etag is not None
    response = client.get(
        any_proxy_base + "hello.txt",
        headers={"If-Match": '"wrong"', "If-None-Match": hello.etag},
    )

    assert response.status_code == 412


def test_a_range_with_a_failing_if_match_gets_412(
    any_proxy_base: str, client: httpx.Client
) -> None:
    """A Range request whose If-Match fails answers 412, not 206."""
    response = client.get(
        any_proxy_base + "data.bin", headers={"Range": "bytes=0-0", "If-Match": '"wrong"'}
    )

    assert response.status_code == 412


def test_a_412_has_no_object_bytes(any_proxy_base: str, client: httpx.Client) -> None:
    """A 412 sends a short plain error, never the object."""
    response = client.get(any_proxy_base + "data.bin", headers={"If-Match": '"wrong"'})

    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert OBJECTS["data.bin"].body not in response.content


def test_head_with_a_matching_if_none_match_gets_304(
    any_proxy_base: str, client: httpx.Client, hello: ObjectStat
) -> None:
    """HEAD with a matching If-None-Match answers 304."""
    response = client.head(any_proxy_base + "hello.txt", headers={"If-None-Match": "*"})

    assert response.status_code == 304
    assert response.headers["etag"] == hello.etag


def test_head_with_a_failing_if_match_gets_412(any_proxy_base: str, client: httpx.Client) -> None:
    """HEAD with a failing If-Match answers 412."""
    response = client.head(any_proxy_base + "hello.txt", headers={"If-Match": '"wrong"'})

    assert response.status_code == 412
