"""Redirect delivery in MediaProxy.handle, the core: a 307 to a presigned URL, fetched from
the S3 server (servers: tests/integrations/test_redirect.py)."""

from __future__ import annotations

import asyncio
import datetime
import threading
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import httpx
import pytest

from r2store import LocalConfig, LocalStore, R2Config, R2Store
from r2store.asgi import R2ProxyApp
from r2store.config import ENV_VARS
from r2store.errors import ConfigError
from r2store.proxy import MediaProxy
from tests.conftest import RequestLog

DATA = bytes(range(256)) * 40


@pytest.fixture
def redirecting(store: R2Store) -> R2Store:
    """The test store with R2_MEDIA_DELIVERY=redirect, holding ``clip.mp4`` (DATA)."""
    store.save("clip.mp4", DATA, content_type="video/mp4")
    return R2Store(attrs.evolve(store.config, media_delivery="redirect"))


def _query(location: str) -> dict[str, str]:
    return {name: values[-1] for name, values in parse_qs(urlsplit(location).query).items()}


def test_a_redirect_is_a_307_to_a_url_that_fetches_the_object(redirecting: R2Store) -> None:
    """With media_delivery="redirect" a GET answers 307, and its Location serves the bytes."""
    response = MediaProxy(store=redirecting).handle("GET", "clip.mp4", {})
    headers = dict(response.headers)

    assert response.status == 307
    assert response.body == b""
    fetched = httpx.get(headers["Location"])
    assert fetched.status_code == 200
    assert fetched.content == DATA


def test_a_redirect_sends_no_request_to_s3(redirecting: R2Store) -> None:
    """A redirect is answered without a HeadObject or GetObject: presigning needs no network."""
    log = RequestLog(redirecting)

    response = MediaProxy(store=redirecting).handle("GET", "clip.mp4", {"range": "bytes=0-9"})

    assert response.status == 307
    assert log.operations == []


def test_a_range_follows_the_redirect(redirecting: R2Store) -> None:
    """The client sends its Range to the Location itself and gets those bytes."""
    location = dict(MediaProxy(store=redirecting).handle("GET", "clip.mp4", {}).headers)["Location"]

    fetched = httpx.get(location, headers={"Range": "bytes=10-19"})

    assert fetched.status_code == 206
    assert fetched.content == DATA[10:20]


def test_a_head_is_redirected_to_a_url_presigned_for_head(redirecting: R2Store) -> None:
    """HEAD gets a URL signed for HEAD (a GET-signed one fails its signature on R2)."""
    proxy = MediaProxy(store=redirecting)
    expires_in = redirecting.config.redirect_expires_in
    for _ in range(3):  # the three URLs are comparable when made in the same second
        before = redirecting.presigned_url("clip.mp4", method="HEAD", expires_in=expires_in)
        location = dict(proxy.handle("HEAD", "clip.mp4", {}).headers)["Location"]
        after = redirecting.presigned_url("clip.mp4", method="HEAD", expires_in=expires_in)
        if before == after:
            break
    assert location == before == after
    fetched = httpx.head(location)
    assert fetched.status_code == 200
    assert fetched.headers["Content-Length"] == str(len(DATA))


def test_the_location_lives_redirect_expires_in_seconds(redirecting: R2Store) -> None:
    """The presigned URL is signed now and expires after R2_REDIRECT_EXPIRES_IN (300 s)."""
    response = MediaProxy(store=redirecting).handle("GET", "clip.mp4", {})
    query = _query(dict(response.headers)["Location"])

    signed = datetime.datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    signed = signed.replace(tzinfo=datetime.timezone.utc)
    assert abs(signed.timestamp() - time.time()) < 5
    assert query["X-Amz-Expires"] == "300"


def test_the_redirect_is_cached_privately_for_half_the_urls_life(redirecting: R2Store) -> None:
    """Cache-Control keeps shared caches out and the browser within half the URL's life."""
    short = R2Store(attrs.evolve(redirecting.config, redirect_expires_in=61))

    long_answer = dict(MediaProxy(store=redirecting).handle("GET", "clip.mp4", {}).headers)
    short_answer = dict(MediaProxy(store=short).handle("GET", "clip.mp4", {}).headers)

    assert long_answer["Cache-Control"] == "private, max-age=150"
    assert short_answer["Cache-Control"] == "private, max-age=30"


def test_a_one_second_url_is_not_cached(redirecting: R2Store) -> None:
    """A URL that lives one second gives a redirect with Cache-Control: no-store."""
    brief = R2Store(attrs.evolve(redirecting.config, redirect_expires_in=1))

    headers = dict(MediaProxy(store=brief).handle("GET", "clip.mp4", {}).headers)

    assert headers["Cache-Control"] == "no-store"


def test_an_expired_location_is_refused_by_the_s3_server(
    redirecting: R2Store, s3_kind: str
) -> None:
    """Once redirect_expires_in has passed, the S3 server answers the Location 403."""
    if s3_kind == "moto":
        pytest.skip("moto accepts expired presigned URLs; run with R2STORE_TEST_S3=seaweedfs")
    brief = R2Store(attrs.evolve(redirecting.config, redirect_expires_in=1))
    location = dict(MediaProxy(store=brief).handle("GET", "clip.mp4", {}).headers)["Location"]

    time.sleep(2.5)

    assert httpx.get(location).status_code == 403


def test_authorize_refusing_gives_403_and_no_location(redirecting: R2Store) -> None:
    """The authorize hook runs first: a refusal is a 403 without a Location."""
    proxy = MediaProxy(store=redirecting, authorize=lambda request, key: False)

    response = proxy.handle("GET", "clip.mp4", {})

    assert response.status == 403
    assert "Location" not in dict(response.headers)


def test_a_signing_proxy_redirects_only_signed_urls(redirecting: R2Store) -> None:
    """With a proxy signing key, an unsigned request is 403; a signed one is redirected."""
    signing = R2Store(attrs.evolve(redirecting.config, proxy_signing_key="k" * 32))
    proxy = MediaProxy(store=signing)
    query = signing.proxy_url("clip.mp4", expires_in=60).partition("?")[2]

    unsigned = proxy.handle("GET", "clip.mp4", {})
    signed = proxy.handle("GET", "clip.mp4", {}, query)

    assert unsigned.status == 403
    assert "Location" not in dict(unsigned.headers)
    assert signed.status == 307


def test_a_delivery_hook_chooses_per_key(redirecting: R2Store) -> None:
    """delivery(request, key) redirects the keys it names and proxies the others."""
    redirecting.save("thumb.png", b"\x89PNG", content_type="image/png")
    seen: list[tuple[object, str]] = []

    def delivery(request: object, key: str) -> str:
        seen.append((request, key))
        return "redirect" if key.endswith(".mp4") else "proxy"

    proxy = MediaProxy(store=redirecting, delivery=delivery)
    video = proxy.handle("GET", "clip.mp4", {}, request="req")
    image = proxy.handle("GET", "thumb.png", {}, request="req")
    image.close()

    assert (video.status, image.status) == (307, 200)
    assert seen == [("req", "clip.mp4"), ("req", "thumb.png")]


def test_the_delivery_option_wins_over_the_config(redirecting: R2Store) -> None:
    """delivery="proxy" streams the object though the store's media_delivery is redirect."""
    response = MediaProxy(store=redirecting, delivery="proxy").handle("GET", "clip.mp4", {})
    response.close()

    assert response.status == 200


def test_an_unknown_delivery_is_a_value_error(store: R2Store) -> None:
    """delivery must be "proxy", "redirect" or a hook: anything else fails at construction."""
    with pytest.raises(ValueError, match="delivery"):
        MediaProxy(store=store, delivery="Redirect")


def test_a_hook_answering_neither_is_a_value_error(redirecting: R2Store) -> None:
    """A delivery hook returning something else raises rather than guessing."""
    proxy = MediaProxy(store=redirecting, delivery=lambda request, key: "cdn")

    with pytest.raises(ValueError, match="delivery hook"):
        proxy.handle("GET", "clip.mp4", {})


def test_a_local_store_always_proxies(tmp_path: Path) -> None:
    """Over a LocalStore, delivery="redirect" streams the file: there is no R2 to send to."""
    local = LocalStore(LocalConfig(root=tmp_path))
    local.save("clip.mp4", DATA)

    response = MediaProxy(store=local, delivery="redirect").handle("GET", "clip.mp4", {})
    try:
        received = b""
        while chunk := response.next_chunk(len(DATA)):
            received += chunk
    finally:
        response.close()

    assert response.status == 200
    assert received == DATA


def test_r2_media_delivery_is_read_and_checked() -> None:
    """R2_MEDIA_DELIVERY is proxy or redirect, in any case; anything else is named in the error."""
    env = {
        "R2_ACCOUNT_ID": "0" * 32,
        "R2_BUCKET_NAME": "media",
        "R2_ACCESS_KEY_ID": "id",
        "R2_SECRET_ACCESS_KEY": "secret",
    }

    assert R2Config.from_env(env).media_delivery == "proxy"
    assert R2Config.from_env({**env, "R2_MEDIA_DELIVERY": " Redirect "}).media_delivery == (
        "redirect"
    )
    with pytest.raises(ConfigError, match="R2_MEDIA_DELIVERY: must be proxy or redirect"):
        R2Config.from_env({**env, "R2_MEDIA_DELIVERY": "cdn"})


@pytest.mark.parametrize("value", ["0", "604801"])
def test_r2_redirect_expires_in_is_checked(value: str) -> None:
    """R2_REDIRECT_EXPIRES_IN must be from 1 second to 7 days, as presigned URLs allow."""
    env = {
        "R2_ACCOUNT_ID": "0" * 32,
        "R2_BUCKET_NAME": "media",
        "R2_ACCESS_KEY_ID": "id",
        "R2_SECRET_ACCESS_KEY": "secret",
        "R2_REDIRECT_EXPIRES_IN": value,
    }

    with pytest.raises(ConfigError, match="R2_REDIRECT_EXPIRES_IN: must be from 1 to 604800"):
        R2Config.from_env(env)


def test_local_mode_does_not_read_r2_media_delivery() -> None:
    """LocalConfig ignores R2_MEDIA_DELIVERY, as it does credentials: local mode proxies."""
    assert "media_delivery" in ENV_VARS
    config = LocalConfig.from_env({"R2_MEDIA_DELIVERY": "redirect"}, env_file=None)

    assert not hasattr(config, "media_delivery")


def test_asgi_redirects_on_the_event_loop(redirecting: R2Store) -> None:
    """With every object redirected and no hook, the ASGI adapter answers without a thread."""
    app = R2ProxyApp(redirecting)
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/clip.mp4", "headers": []}
    asyncio.run(app(scope, receive, send))

    assert sent[0]["status"] == 307
    assert app._server._pool is None  # no worker thread was ever started


def test_asgi_runs_the_authorize_hook_in_a_thread(redirecting: R2Store) -> None:
    """With an authorize hook (it may block), the ASGI adapter still calls it off the loop."""
    threads: list[str] = []

    def authorize(request: object, key: str) -> bool:
        threads.append(threading.current_thread().name)
        return True

    app = R2ProxyApp(redirecting, authorize=authorize)

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        pass

    scope = {"type": "http", "method": "GET", "path": "/clip.mp4", "headers": []}
    asyncio.run(app(scope, receive, send))

    assert len(threads) == 1
    assert threads[0].startswith("r2store-proxy")
