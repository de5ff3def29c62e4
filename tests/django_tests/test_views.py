"""The media proxy view on real Django: it translates, the core decides; in both modes
(R2 and a local folder), with the same answers."""

from __future__ import annotations

import re
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from django.core.files.base import ContentFile
from django.core.handlers.wsgi import WSGIHandler
from django.test import AsyncClient, Client

from r2store import ObjectReader, R2Store
from r2store._serving import MEDIA_SECURITY_HEADERS, SECURITY_HEADERS
from r2store.django import R2Storage
from tests.conftest import put_raw

DATA = bytes(range(256)) * 64
#: The MIDDLEWARE that ``django-admin startproject`` writes.
STARTPROJECT_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]


@pytest.fixture
def stored(media_storage: R2Storage) -> str:
    """An image object in the bucket (or the local folder); its name."""
    return media_storage.save("profile_images/face 1.png", ContentFile(DATA))


def test_get_streams_the_object(stored: str, client: Client) -> None:
    """GET streams the object with its type, length and validators."""
    response: Any = client.get("/media-proxy/profile_images/face%201.png")
    assert response.status_code == 200
    assert response.streaming
    assert b"".join(response.streaming_content) == DATA
    assert response["Content-Type"] == "image/png"
    assert response["Content-Length"] == str(len(DATA))
    assert response["Accept-Ranges"] == "bytes"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["ETag"].startswith('"')


def test_answers_carry_the_safety_headers(media_storage: R2Storage, client: Client) -> None:
    """An image is served with nosniff and the media policy; HTML with the sandbox too."""
    image = client.head("/media-proxy/" + media_storage.save("face.png", ContentFile(DATA)))
    page = client.head("/media-proxy/" + media_storage.save("page.html", ContentFile(b"<p>")))
    assert dict(MEDIA_SECURITY_HEADERS).items() <= dict(image.headers).items()
    assert dict(SECURITY_HEADERS).items() <= dict(page.headers).items()


def test_range_gives_206(stored: str, client: Client) -> None:
    """A Range request gets the bytes asked for, with Content-Range."""
    response: Any = client.get("/media-proxy/profile_images/face%201.png", HTTP_RANGE="bytes=0-9")
    assert response.status_code == 206
    assert b"".join(response.streaming_content) == DATA[:10]
    assert response["Content-Range"] == f"bytes 0-9/{len(DATA)}"


def test_conditional_get_gives_304(stored: str, client: Client) -> None:
    """If-None-Match with the current ETag answers 304 with the ETag."""
    etag = client.head("/media-proxy/profile_images/face%201.png")["ETag"]
    response = client.get("/media-proxy/profile_images/face%201.png", HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert response["ETag"] == etag


@pytest.fixture
def startproject_middleware(settings: Any) -> None:
    """MIDDLEWARE is the list a new Django project starts with."""
    settings.MIDDLEWARE = STARTPROJECT_MIDDLEWARE


def _revalidation(response: Any) -> dict[str, str]:
    """The headers a cache takes from a 304, or that tell it about content, present or not."""
    names = ("Cache-Control", "ETag", "Last-Modified", "Content-Type", "Content-Length")
    return {name: response[name] for name in names if name in response}


@pytest.mark.django_db
@pytest.mark.usefixtures("startproject_middleware")
def test_a_304_is_the_200_without_content_headers(stored: str, client: Client) -> None:
    """Under startproject's middleware a 304 carries the 200's caching headers and validators,
    and no Content-Type, Content-Length or body."""
    full: Any = client.get("/media-proxy/profile_images/face%201.png")
    full.close()

    response = client.get(
        "/media-proxy/profile_images/face%201.png", HTTP_IF_NONE_MATCH=full["ETag"]
    )

    assert response.status_code == 304
    caching = {name: full[name] for name in ("Cache-Control", "ETag", "Last-Modified")}
    assert _revalidation(response) == caching


# django_db: closing the response fires request_finished, which touches connections.
@pytest.mark.django_db
def test_a_304_has_no_body_under_gzip_middleware(
    media_storage: R2Storage, stored: str, settings: Any
) -> None:
    """A 304 sends no body, also where GZipMiddleware would compress an empty one.

    Through Django's WSGIHandler itself: the test client drops a 304's body on its own."""
    settings.MIDDLEWARE = ["django.middleware.gzip.GZipMiddleware", *STARTPROJECT_MIDDLEWARE]
    environ: dict[str, Any] = {
        "PATH_INFO": "/media-proxy/profile_images/face 1.png",
        "HTTP_IF_NONE_MATCH": media_storage.store.stat(stored).etag,
        "HTTP_ACCEPT_ENCODING": "gzip",
    }
    setup_testing_defaults(environ)
    statuses: list[str] = []

    result = WSGIHandler()(environ, lambda status, headers: statuses.append(status))
    try:
        body = b"".join(result)
    finally:
        result.close()

    assert statuses == ["304 Not Modified"]
    assert body == b""


@pytest.mark.django_db
@pytest.mark.usefixtures("startproject_middleware")
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
async def test_a_304_under_asgi_is_the_200_without_content_headers(
    stored: str, async_client: AsyncClient
) -> None:
    """Under ASGI and startproject's middleware a 304 carries the 200's caching headers and
    validators, and no Content-Type, Content-Length or body."""
    full: Any = await async_client.head("/media-proxy/profile_images/face%201.png")

    response: Any = await async_client.get(
        "/media-proxy/profile_images/face%201.png", headers={"If-None-Match": full["ETag"]}
    )

    assert response.status_code == 304
    caching = {name: full[name] for name in ("Cache-Control", "ETag", "Last-Modified")}
    assert _revalidation(response) == caching


def test_head_has_headers_and_no_body(stored: str, client: Client) -> None:
    """HEAD answers with the object's headers and no body."""
    response = client.head("/media-proxy/profile_images/face%201.png")
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(DATA))
    assert response.content == b""


@pytest.mark.parametrize(
    ("path", "status"),
    [("missing.png", 404), ("a/%2e%2e/b", 404), ("a//b", 404), ("%00", 404)],
)
def test_errors_are_short_and_plain(
    media_storage: R2Storage, client: Client, path: str, status: int
) -> None:
    """Missing and invalid keys answer 404 with a plain body that names nothing inside."""
    response = client.get(f"/media-proxy/{path}")
    assert response.status_code == status
    assert response.content == b"Not Found\n"
    assert media_storage.store.config.bucket.encode() not in response.content


def test_post_is_not_allowed(stored: str, client: Client) -> None:
    """Other methods get 405 with Allow."""
    response = client.post("/media-proxy/profile_images/face%201.png")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


# django_db: closing a response fires request_finished, which touches connections.
@pytest.mark.django_db
def test_closing_the_response_releases_the_object(
    stored: str, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing a response that was never read closes the R2 body (no leaked connection)."""
    closed: list[str] = []
    original = ObjectReader.close

    def spy(self: ObjectReader) -> None:
        closed.append(self.name)
        original(self)

    monkeypatch.setattr(ObjectReader, "close", spy)
    response: Any = client.get("/media-proxy/profile_images/face%201.png")
    assert closed == []
    response.close()
    assert closed == [stored]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
async def test_asgi_streams_through_an_async_iterator(
    stored: str, async_client: AsyncClient
) -> None:
    """Under ASGI the body is an async iterator: Django does not buffer it in a list."""
    response: Any = await async_client.get("/media-proxy/profile_images/face%201.png")
    assert response.status_code == 200
    assert response.is_async
    chunks = [chunk async for chunk in response.streaming_content]
    assert b"".join(chunks) == DATA


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
async def test_asgi_sends_no_stored_control_character(
    r2_storage: R2Storage, store: R2Store, async_client: AsyncClient
) -> None:
    """An object stored with control characters in its headers (past save(), through a
    presigned PUT) is served under ASGI with every header printable ASCII."""
    put_raw(
        store,
        "control.txt",
        b"control\n",
        {"Content-Type": "text/plain\x1b]0;PWNED\x07", "Cache-Control": "max-age=60\x1b[31m"},
    )
    response: Any = await async_client.get("/media-proxy/control.txt")
    assert response.status_code == 200
    for name, value in response.items():
        assert re.fullmatch(r"[\x20-\x7e]*", value), (name, value)
    assert response["Content-Type"] == "application/octet-stream"
    assert b"".join([chunk async for chunk in response.streaming_content]) == b"control\n"
