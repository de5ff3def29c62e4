"""MediaProxy.handle, the framework-free core, called directly (servers: tests/integrations)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import attrs
import pytest

from r2store import R2Config, R2Store
from r2store.objects import FIRST_CHUNK_SIZE
from r2store.proxy import MediaProxy
from tests.conftest import RequestLog, new_bucket, put_raw


def test_untyped_uploads_get_a_guessed_type(store: R2Store) -> None:
    """An object stored without a type (S3 records binary/octet-stream) is served as guessed."""
    store.client.put_object(Bucket=store.config.bucket, Key="photo.png", Body=b"\x89PNG")
    response = MediaProxy(store=store).handle("GET", "photo.png", {})
    response.close()
    assert response.status == 200
    assert ("Content-Type", "image/png") in response.headers


def test_script_types_are_never_served_as_script(store: R2Store) -> None:
    """A JavaScript upload is an attachment with a non-script type, so <script src> refuses it."""
    store.save("evil.js", b"alert(1)", content_type="text/javascript")
    response = MediaProxy(store=store).handle("GET", "evil.js", {})
    response.close()
    headers = dict(response.headers)
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Disposition"].startswith("attachment")


def test_allow_listed_types_are_inline(store: R2Store) -> None:
    """An allow-listed scriptable type keeps its type and is not forced to download."""
    store.save("logo.svg", b"<svg/>", content_type="image/svg+xml")
    proxy = MediaProxy(store=store, allow_types={"IMAGE/SVG+XML"})
    response = proxy.handle("GET", "logo.svg", {})
    response.close()
    headers = dict(response.headers)
    assert headers["Content-Type"] == "image/svg+xml"
    assert "Content-Disposition" not in headers


def test_the_authorize_hook_sees_request_and_key(store: R2Store) -> None:
    """authorize(request, key) decides; False is 403 before anything is read."""
    seen: list[tuple[object, str]] = []

    def authorize(request: object, key: str) -> bool:
        seen.append((request, key))
        return not key.startswith("private/")

    proxy = MediaProxy(store=store, authorize=authorize)
    assert proxy.handle("GET", "private/x.png", {}, request="req").status == 403
    assert seen == [("req", "private/x.png")]


def test_chunks_start_small_then_take_the_chunk_size(store: R2Store) -> None:
    """The first chunk is at most FIRST_CHUNK_SIZE (the client's first bytes come sooner),
    then each is the chunk size asked for, to the end of the object, for every adapter."""
    data = bytes(range(256)) * 1024  # 256 KiB
    store.save("chunks.bin", data)
    response = MediaProxy(store=store).handle("GET", "chunks.bin", {}, "", None)
    try:
        sizes = []
        received = b""
        while chunk := response.next_chunk(100 * 1024):
            sizes.append(len(chunk))
            received += chunk
    finally:
        response.close()
    assert sizes == [FIRST_CHUNK_SIZE, 100 * 1024, len(data) - FIRST_CHUNK_SIZE - 100 * 1024]
    assert received == data


def test_the_default_cache_control_is_the_stores(store: R2Store) -> None:
    """Objects stored without Cache-Control are served with R2_CACHE_CONTROL when it is set
    (what the store gives its uploads), else with ``public, max-age=3600``; the proxy's own
    ``cache_control`` wins over both."""
    store.save("plain.txt", b"x")  # this store has no cache_control: none is stored
    configured = R2Store(attrs.evolve(store.config, cache_control="public, max-age=60"))

    def served(proxy: MediaProxy) -> str | None:
        response = proxy.handle("HEAD", "plain.txt", {}, "", None)
        return dict(response.headers).get("Cache-Control")

    with configured:
        assert served(MediaProxy(store=store)) == "public, max-age=3600"
        assert served(MediaProxy(store=configured)) == "public, max-age=60"
        assert served(MediaProxy(store=configured, cache_control="no-store")) == "no-store"


def test_an_unconditional_get_costs_one_get_object(store: R2Store) -> None:
    """A GET without conditions sends one GetObject to R2, and nothing else."""
    store.save("plain.txt", b"x")
    log = RequestLog(store)

    MediaProxy(store=store).handle("GET", "plain.txt", {}).close()

    assert log.operations == ["GetObject"]


def test_a_304_is_decided_from_one_head_object(store: R2Store) -> None:
    """A revalidation of an unchanged object sends one HeadObject and answers 304 from it."""
    store.save("plain.txt", b"x", cache_control="no-cache")
    etag = store.stat("plain.txt").etag
    assert etag is not None
    log = RequestLog(store)

    response = MediaProxy(store=store).handle("GET", "plain.txt", {"if-none-match": etag})

    assert response.status == 304
    assert ("Cache-Control", "no-cache") in response.headers
    assert log.operations == ["HeadObject"]


def test_an_object_changed_between_head_and_get_is_judged_by_the_get(store: R2Store) -> None:
    """When the object changes after the HEAD to one the client holds, the 304 is the new one's."""
    store.save("swap.txt", b"new", cache_control="no-cache")
    new = store.stat("swap.txt")
    assert new.etag is not None
    store.save("swap.txt", b"old", overwrite=True)

    def swap_before_the_get(method: str, url: str) -> None:
        if method == "GET":
            store.save("swap.txt", b"new", overwrite=True, cache_control="no-cache")

    store.request_hooks.append(swap_before_the_get)
    response = MediaProxy(store=store).handle("GET", "swap.txt", {"if-none-match": new.etag})

    assert response.status == 304
    assert ("ETag", new.etag) in response.headers
    assert ("Cache-Control", "no-cache") in response.headers


def _served(store: R2Store, key: str, proxy: MediaProxy | None = None) -> dict[str, str]:
    """The headers the proxy answers a GET of *key* with."""
    response = (proxy or MediaProxy(store=store)).handle("GET", key, {})
    response.close()
    assert response.status == 200
    return dict(response.headers)


@pytest.mark.parametrize(
    "stored",
    [
        "text/jscript",
        "text/livescript",
        "TEXT/X-ECMAScript; charset=utf-8",
        "text/javascript1.5",
        "image/png, text/jscript",
        "text/plain,text/livescript",
    ],
)
def test_no_javascript_type_is_ever_served(store: R2Store, stored: str) -> None:
    """A stored JavaScript MIME type, alone or in a comma list, goes out as an octet-stream
    attachment, so <script src> on an app page refuses it."""
    store.save("u/a.js", b"alert(1)", content_type=stored)
    headers = _served(store, "u/a.js")
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Disposition"] == 'attachment; filename="a.js"'


@pytest.mark.parametrize("stored", ["image/svg+xml;,text/javascript", "image/svg+xml;,text/html"])
def test_allow_types_cannot_be_smuggled_past(store: R2Store, stored: str) -> None:
    """An allow-listed type followed by another in a comma list is not served inline."""
    store.save("logo.svg", b"<svg/>", content_type=stored)
    headers = _served(store, "logo.svg", MediaProxy(store=store, allow_types={"image/svg+xml"}))
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Disposition"] == 'attachment; filename="logo.svg"'


def test_a_javascript_type_cannot_be_allowed(store: R2Store) -> None:
    """allow_types never lets a JavaScript type out under its own name."""
    store.save("app.js", b"alert(1)", content_type="text/javascript")
    headers = _served(store, "app.js", MediaProxy(store=store, allow_types={"text/javascript"}))
    assert headers["Content-Type"] == "application/octet-stream"


def test_a_type_with_a_control_character_is_an_octet_stream_download(store: R2Store) -> None:
    """A stored Content-Type holding a control character is not sent; the file is a download."""
    put_raw(store, "x.txt", b"hi", {"Content-Type": "text/plain\x1b]0;PWNED\x07"})
    headers = _served(store, "x.txt")
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Disposition"] == 'attachment; filename="x.txt"'


def test_a_cache_control_with_a_control_character_becomes_no_store(store: R2Store) -> None:
    """A stored Cache-Control nobody can read is replaced by no-store, never by a default
    that could let a shared cache keep a private file."""
    put_raw(store, "x.txt", b"hi", {"Cache-Control": "private\x1b[31m, max-age=60"})
    assert _served(store, "x.txt")["Cache-Control"] == "no-store"


def test_a_content_encoding_with_a_control_character_is_dropped(store: R2Store) -> None:
    """A stored Content-Encoding holding a control character is not sent."""
    put_raw(store, "x.txt", b"hi", {"Content-Encoding": "gzip\x00"})
    assert "Content-Encoding" not in _served(store, "x.txt")


def test_a_disposition_with_a_control_character_becomes_an_attachment(store: R2Store) -> None:
    """A stored Content-Disposition holding a control character is replaced by our own
    attachment disposition."""
    put_raw(store, "x.txt", b"hi", {"Content-Disposition": 'inline; filename="a\x1b[2J.txt"'})
    assert _served(store, "x.txt")["Content-Disposition"] == 'attachment; filename="x.txt"'


def test_every_stored_header_sent_is_printable_ascii(store: R2Store) -> None:
    """Whatever control characters an object's headers hold, none reaches the response."""
    put_raw(
        store,
        "x.txt",
        b"hi",
        {
            "Content-Type": "text/plain\x1b]0;PWNED\x07",
            "Cache-Control": "max-age=60\x1b[31m",
            "Content-Disposition": "attachment\x7f",
            "Content-Encoding": "identity\x1f",
        },
    )
    for method in ("GET", "HEAD"):
        response = MediaProxy(store=store).handle(method, "x.txt", {})
        response.close()
        for name, value in response.headers:
            assert re.fullmatch(r"[\x20-\x7e]*", value), (method, name, value)


def test_images_audio_and_video_are_not_sandboxed(store: R2Store) -> None:
    """A video opened directly keeps the app's origin (Chromium blocks the media load of an
    opaque one): image, audio and video answers carry no CSP sandbox, but still nosniff."""
    for key, media_type in [
        ("a.png", "image/png"),
        ("a.mp3", "audio/mpeg"),
        ("a.mp4", "video/mp4"),
    ]:
        store.save(key, b"x", content_type=media_type)
        headers = _served(store, key)
        assert headers["X-Content-Type-Options"] == "nosniff"
        directives = [d.strip() for d in headers["Content-Security-Policy"].split(";")]
        assert "sandbox" not in directives
        assert "default-src 'none'" in directives


@pytest.mark.parametrize(
    ("key", "media_type"),
    [
        ("a.html", "text/html"),
        ("a.svg", "image/svg+xml"),
        ("a.pdf", "application/pdf"),
        ("a.txt", "text/plain"),
        ("a.xml", "application/xml"),
        ("a.bin", "application/octet-stream"),
    ],
)
def test_documents_stay_sandboxed(store: R2Store, key: str, media_type: str) -> None:
    """Everything that is not an image, audio or video keeps the CSP sandbox."""
    store.save(key, b"x", content_type=media_type)
    policy = _served(store, key)["Content-Security-Policy"]
    assert "sandbox" in [d.strip() for d in policy.split(";")]


def test_an_allowed_svg_stays_sandboxed(store: R2Store) -> None:
    """An SVG served inline through allow_types is an image that is also a document: sandboxed."""
    store.save("logo.svg", b"<svg/>", content_type="image/svg+xml")
    policy = _served(store, "logo.svg", MediaProxy(store=store, allow_types={"image/svg+xml"}))[
        "Content-Security-Policy"
    ]
    assert "sandbox" in [d.strip() for d in policy.split(";")]


@pytest.mark.parametrize("other", ["bucket", "location"])
def test_a_signed_url_works_only_for_its_bucket_and_location(
    s3_endpoint: str, config: R2Config, other: str
) -> None:
    """A URL signed for one bucket and location is 403 on a proxy over another bucket or
    location sharing the signing key, and 200 on its own."""
    signed = attrs.evolve(config, proxy_signing_key="k" * 40, location="media")
    changed: dict[str, Any] = (
        {"bucket": new_bucket(s3_endpoint)} if other == "bucket" else {"location": "other"}
    )
    stores = [R2Store(signed), R2Store(attrs.evolve(signed, **changed))]
    for store in stores:
        store.save("a.txt", b"hello")
    query = urlsplit(stores[0].url("a.txt")).query
    own, replayed = (MediaProxy(store=store).handle("GET", "a.txt", {}, query) for store in stores)
    for response in (own, replayed):
        response.close()
    assert (own.status, replayed.status) == (200, 403)
    for store in stores:
        store.close()
