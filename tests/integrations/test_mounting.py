"""How the adapters sit in an app: middleware pass-through and mounting under a prefix."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from r2store import R2Store, asgi, wsgi
from tests.integrations.conftest import Bucket, Server
from tests.integrations.helpers import OBJECTS

# Paths outside every proxy prefix (the WSGI app's and the ASGI middleware's).
OUTSIDE = [
    "/",
    "/hello/world",
    "/media-proxy",
    "/media-proxyfile.txt",
    "/mw-proxy",
    "/media/x",
    "/bare-proxyhello.txt",
    "/bare-proxy-admin/",
]


@pytest.mark.parametrize("path", OUTSIDE)
def test_the_middleware_passes_other_paths_to_the_app(
    server: Server, client: httpx.Client, path: str
) -> None:
    """A path outside the proxy's prefix reaches the wrapped app, unchanged."""
    response = client.get(server.url(path))

    assert response.status_code == 200
    assert response.headers["x-served-by"] == "tiny-app"
    assert response.text == f"app saw GET {path} ?"


def test_the_middleware_passes_method_and_query_untouched(
    server: Server, client: httpx.Client
) -> None:
    """The wrapped app gets any method and the query string as sent."""
    response = client.post(server.url("/forms/submit?a=1&b=%20"), content=b"payload")

    assert response.text == "app saw POST /forms/submit ?a=1&b=%20"


def test_the_app_adds_no_proxy_headers_to_other_paths(server: Server, client: httpx.Client) -> None:
    """What the wrapped app answers goes out without the proxy's headers."""
    response = client.get(server.url("/hello"))

    assert "content-security-policy" not in response.headers


@pytest.mark.parametrize("key", ["hello.txt", "private/doc.txt", "résumé.html"])
def test_every_mounting_serves_keys_below_its_prefix(
    mount_base: str, client: httpx.Client, key: str
) -> None:
    """Middleware and mounted app alike map <prefix><key> to the key (root_path respected)."""
    response = client.get(mount_base + key)

    assert response.status_code == 200
    assert response.content == OBJECTS[key].body


@pytest.mark.parametrize("key", ["odd name+&=?#%;.txt", "文件/ünïcødé.txt"])
def test_a_proxy_url_reaches_its_key(
    mount_base: str, client: httpx.Client, seeded_bucket: Bucket, key: str
) -> None:
    """store.proxy_url() spells any key so that every mounting serves that very object."""
    path = seeded_bucket.store.proxy_url(key)
    assert path.startswith("/media-proxy/")

    response = client.get(mount_base + path.removeprefix("/media-proxy/"))

    assert response.status_code == 200
    assert response.content == OBJECTS[key].body


def test_a_prefix_without_final_slash_serves_below_it(server: Server, client: httpx.Client) -> None:
    """A middleware given ``prefix="/bare-proxy"`` serves ``/bare-proxy/<key>``."""
    response = client.get(server.url("/bare-proxy/hello.txt"))

    assert response.status_code == 200
    assert response.content == OBJECTS["hello.txt"].body


@pytest.mark.parametrize(
    "middleware", [wsgi.R2ProxyMiddleware, asgi.R2ProxyMiddleware], ids=["wsgi", "asgi"]
)
@pytest.mark.parametrize("prefix", ["/fi les/", "/%2e%2e/", "/médias/", "/a?b/", "/a\r\n/"])
def test_a_prefix_that_is_no_url_path_is_refused(
    store: R2Store, middleware: type[Any], prefix: str
) -> None:
    """Either middleware refuses a prefix that is not a plain URL path, when built."""
    with pytest.raises(ValueError, match="must be a URL path"):
        middleware(None, store, prefix=prefix)
