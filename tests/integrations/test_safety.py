"""Serving user uploads from the app's origin: the defensive headers on every answer."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.integrations.conftest import Server
from tests.integrations.helpers import (
    NOT_MODIFIED_SECURITY_HEADERS,
    OBJECTS,
    SECURITY_HEADERS,
    raw_request,
)

# (path, method, request headers, expected status): one of each answer the proxy gives.
ANSWERS = {
    "200": ("/media-proxy/hello.txt", "GET", {}, 200),
    "200-head": ("/media-proxy/hello.txt", "HEAD", {}, 200),
    "206": ("/media-proxy/data.bin", "GET", {"Range": "bytes=0-0"}, 206),
    "304": ("/media-proxy/hello.txt", "GET", {"If-None-Match": "*"}, 304),
    "304-head": ("/media-proxy/hello.txt", "HEAD", {"If-None-Match": "*"}, 304),
    "403": ("/signed-proxy/hello.txt", "GET", {}, 403),
    "404": ("/media-proxy/missing.txt", "GET", {}, 404),
    "404-invalid": ("/media-proxy/%2e%2e/secret.txt", "GET", {}, 404),
    "405": ("/media-proxy/hello.txt", "DELETE", {}, 405),
    "412": ("/media-proxy/hello.txt", "GET", {"If-Match": '"wrong"'}, 412),
    "416": ("/media-proxy/data.bin", "GET", {"Range": "bytes=100-"}, 416),
    "502": ("/closed-proxy/hello.txt", "GET", {}, 502),
    "504": ("/stalled-proxy/hello.txt", "GET", {}, 504),
}


def _check_security_headers(
    server: Server, path: str, method: str, headers: dict[str, str], status: int
) -> None:
    response = raw_request(server.base, path, method=method, headers=headers)

    assert response.status == status
    expected = NOT_MODIFIED_SECURITY_HEADERS if status == 304 else SECURITY_HEADERS
    for name, value in expected.items():
        assert response.headers[name.lower()] == value
    if status == 304:
        assert "content-security-policy" not in response.headers


@pytest.mark.parametrize("answer", list(ANSWERS))
def test_every_answer_has_the_security_headers(server: Server, answer: str) -> None:
    """Every answer, success or error, carries nosniff and the sandboxing CSP; a 304 carries
    nosniff and no CSP, so that the one its 200 chose stays in the client's cache."""
    _check_security_headers(server, *ANSWERS[answer])


@pytest.mark.parametrize(
    "answer", [name for name, (path, *_) in ANSWERS.items() if path.startswith("/media-proxy/")]
)
def test_every_local_answer_has_the_security_headers(server: Server, answer: str) -> None:
    """Every answer the proxy gives from a LocalStore carries the same security headers."""
    path, method, headers, status = ANSWERS[answer]
    local_path = path.replace("/media-proxy/", "/local-proxy/", 1)
    _check_security_headers(server, local_path, method, headers, status)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_stored_control_characters_never_reach_the_response(server: Server, method: str) -> None:
    """An object stored with control characters in its headers is served (not a 500) with
    every header printable ASCII: an octet-stream download, no-store, no Content-Encoding."""
    response = raw_request(server.base, "/media-proxy/control.txt", method=method)

    assert response.status == 200
    for name, value in response.headers.items():
        assert re.fullmatch(r"[\x20-\x7e]*", value), (name, value)
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == 'attachment; filename="control.txt"'
    assert response.headers["cache-control"] == "no-store"
    assert "content-encoding" not in response.headers
    assert response.body == (b"control\n" if method == "GET" else b"")


def test_plain_text_is_served_inline(any_proxy_base: str, client: httpx.Client) -> None:
    """A harmless type is served inline: no Content-Disposition."""
    response = client.get(any_proxy_base + "hello.txt")

    assert "content-disposition" not in response.headers


def test_html_is_sent_as_an_attachment(any_proxy_base: str, client: httpx.Client) -> None:
    """An HTML object is sent as a download, under its own name."""
    response = client.get(any_proxy_base + "page.html")

    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-disposition"] == 'attachment; filename="page.html"'


def test_svg_is_sent_as_an_attachment(any_proxy_base: str, client: httpx.Client) -> None:
    """An SVG object is sent as a download by default."""
    response = client.get(any_proxy_base + "image.svg")

    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["content-disposition"] == 'attachment; filename="image.svg"'


def test_allowed_svg_is_served_inline(server: Server, client: httpx.Client) -> None:
    """With allow_types={"image/svg+xml"} an SVG is served inline, still sandboxed."""
    response = client.get(server.url("/svg-proxy/image.svg"))

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert "content-disposition" not in response.headers
    assert (
        response.headers["content-security-policy"] == SECURITY_HEADERS["Content-Security-Policy"]
    )
    assert response.content == OBJECTS["image.svg"].body


def test_javascript_never_has_a_script_type(any_proxy_base: str, client: httpx.Client) -> None:
    """A JavaScript object is sent as an octet-stream download, so no page can run it."""
    response = client.get(any_proxy_base + "app.js")

    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == 'attachment; filename="app.js"'
    assert response.content == OBJECTS["app.js"].body


def test_a_non_ascii_name_gets_an_rfc_6266_filename(
    any_proxy_base: str, client: httpx.Client
) -> None:
    """A non-ASCII name is offered as an ASCII fallback plus filename* in UTF-8."""
    response = client.get(any_proxy_base + "r%C3%A9sum%C3%A9.html")

    assert response.headers["content-disposition"] == (
        "attachment; filename=\"r_sum_.html\"; filename*=UTF-8''r%C3%A9sum%C3%A9.html"
    )


def test_a_head_of_html_is_also_an_attachment(any_proxy_base: str, client: httpx.Client) -> None:
    """HEAD announces the same attachment disposition as GET."""
    response = client.head(any_proxy_base + "page.html")

    assert response.headers["content-disposition"] == 'attachment; filename="page.html"'
