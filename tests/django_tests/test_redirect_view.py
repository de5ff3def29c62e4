"""The media proxy view in redirect delivery, on real Django: a 307 to a presigned URL that
the S3 server serves; in local mode, the file itself."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.test import AsyncClient, Client

from r2store import R2Config
from r2store.django import R2Storage
from tests.django_tests.conftest import use_r2
from tests.django_tests.test_views import STARTPROJECT_MIDDLEWARE

DATA = bytes(range(256)) * 64


@pytest.fixture
def redirecting(settings: Any, config: R2Config) -> R2Storage:
    """R2Storage on the test bucket with media_delivery="redirect" and startproject's
    middleware, holding ``clip.mp4`` (DATA)."""
    settings.MIDDLEWARE = STARTPROJECT_MIDDLEWARE
    use_r2(settings, config, media_delivery="redirect")
    storage = storages["default"]
    assert isinstance(storage, R2Storage)
    storage.save("clip.mp4", ContentFile(DATA))
    return storage


@pytest.mark.usefixtures("redirecting")
def test_get_redirects_to_a_url_that_serves_the_object(client: Client) -> None:
    """GET answers 307 with no body, and its Location serves the object from S3."""
    response: Any = client.get("/media-proxy/clip.mp4")

    assert response.status_code == 307
    assert response.content == b""
    assert response["Cache-Control"] == "private, max-age=150"
    assert httpx.get(response["Location"]).content == DATA


@pytest.mark.usefixtures("redirecting")
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
async def test_asgi_redirects_too(async_client: AsyncClient) -> None:
    """Under ASGI the view answers the same 307, whose Location serves a Range of it."""
    response: Any = await async_client.get("/media-proxy/clip.mp4")

    assert response.status_code == 307
    ranged = httpx.get(response["Location"], headers={"Range": "bytes=0-9"})
    assert ranged.content == DATA[:10]


@pytest.mark.usefixtures("redirecting")
def test_authorize_refusing_gives_403(settings: Any, client: Client) -> None:
    """R2STORE_PROXY's authorize hook still runs first: refused, no Location."""
    settings.R2STORE_PROXY = {"authorize": lambda request, key: False}
    storages["default"].__dict__.pop("media_proxy", None)  # built anew with the setting

    response: Any = client.get("/media-proxy/clip.mp4")

    assert response.status_code == 403
    assert "Location" not in response


def test_local_mode_serves_the_file(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest, client: Client
) -> None:
    """With R2_MEDIA_DELIVERY=redirect but USE_R2 unset, the local folder's file is served."""
    monkeypatch.setenv("R2_MEDIA_DELIVERY", "redirect")
    storage: R2Storage = request.getfixturevalue("local_storage")
    storage.save("clip.mp4", ContentFile(DATA))

    response: Any = client.get("/media-proxy/clip.mp4")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == DATA
