"""What Debian's Chromium does with proxied files, opened directly and on an app's page.

The app's page is served by Playwright at the server's own origin (so the proxied
files are same-origin to it, as on a real site); every proxied file comes from the
real gunicorn or uvicorn in front of the moto bucket.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PIL import Image

from r2store.static import gzipped
from tests.conftest import BROWSER_DEADLINE
from tests.integrations.conftest import Bucket, Server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

#: 32x32, one second of H.264 (baseline) in MP4, 1.5 KiB, made with Debian's ffmpeg:
#: ffmpeg -f lavfi -i color=c=orange:s=32x32:r=5:d=1 -c:v libx264 -profile:v baseline
#: -pix_fmt yuv420p -preset veryslow -crf 40 -movflags +faststart -map_metadata -1
#: -fflags +bitexact -flags:v +bitexact clip.mp4
CLIP = Path(__file__).parents[1] / "data" / "clip.mp4"
SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30">'
    b'<rect width="40" height="30" fill="#d6582e"/></svg>\n'
)
#: A stylesheet long enough to be worth compressing.
STYLE = b"#styled { color: rgb(214, 88, 46); }\n" + b"/* padding */\n" * 40
#: Stored types a browser would run as script, as an attacker could store them.
SCRIPT_TYPES = ["text/javascript", "text/jscript", "text/livescript", "image/png, text/jscript"]
#: The app's own policy: scripts from its origin only, as the review's app had.
APP_POLICY = "script-src 'self'"


def _png(width: int = 40, height: int = 30) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (214, 88, 46)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def media(seeded_bucket: Bucket) -> None:
    """The files the browser loads, under ``browser/`` in the session bucket."""
    store = seeded_bucket.store
    store.save("browser/clip.mp4", CLIP.read_bytes(), content_type="video/mp4")
    store.save("browser/pixel.png", _png(), content_type="image/png")
    store.save("browser/picture.svg", SVG, content_type="image/svg+xml")
    # As the static storage stores them with compress on: gzip, Content-Encoding: gzip.
    packed_css = gzipped("style.css", STYLE)
    packed_svg = gzipped("picture.svg", SVG + b"<!-- padding -->\n" * 40)
    assert packed_css is not None
    assert packed_svg is not None
    store.save("browser/style.css", packed_css, content_encoding="gzip")
    store.save("browser/gzipped.svg", packed_svg, content_encoding="gzip")
    for number, media_type in enumerate(SCRIPT_TYPES):
        store.save(
            f"browser/script-{number}.js",
            f"window.ran = (window.ran || []).concat([{media_type!r}]);\n".encode(),
            content_type=media_type,
        )


def _open(browser: Browser) -> Page:
    page = browser.new_page()
    page.set_default_timeout(BROWSER_DEADLINE)
    return page


def _app_page(browser: Browser, server: Server, body: str) -> Page:
    """A page of the app at the server's origin holding *body*, under APP_POLICY."""
    url = server.url("/app-page")
    page = _open(browser)

    def fulfil(route: Route) -> None:
        route.fulfill(
            status=200,
            content_type="text/html; charset=utf-8",
            headers={"Content-Security-Policy": APP_POLICY},
            body=f"<!doctype html><title>app</title>{body}",
        )

    page.route(url, fulfil)
    page.goto(url)
    return page


def _media_ready(page: Page, selector: str) -> None:
    """Wait until the first *selector* element has its media metadata (HAVE_METADATA)."""
    element = f"document.querySelector({selector!r})"
    page.wait_for_function(f"() => {{ const v = {element}; return v && v.readyState >= 1; }}")


def _image_width(page: Page, selector: str) -> int:
    """The natural width of the first *selector* image once it has loaded (or failed)."""
    page.wait_for_function(
        f"() => {{ const i = document.querySelector({selector!r}); return i && i.complete; }}"
    )
    width: int = page.evaluate(f"() => document.querySelector({selector!r}).naturalWidth")
    return width


@pytest.mark.usefixtures("media")
def test_a_video_opened_directly_plays(browser: Browser, server: Server) -> None:
    """A proxied MP4 opened in the address bar loads in the browser's own player."""
    page = _open(browser)
    page.goto(server.url("/media-proxy/browser/clip.mp4"))
    _media_ready(page, "video")


@pytest.mark.usefixtures("media")
def test_a_video_opened_directly_plays_after_a_reload(browser: Browser, server: Server) -> None:
    """A reload revalidates the video (a 304), and the browser's updated copy still plays:
    the 304 does not bring back the sandbox its 200 went without."""
    page = _open(browser)
    page.goto(server.url("/media-proxy/browser/clip.mp4"))
    _media_ready(page, "video")
    response = page.reload()
    assert response is not None
    assert "if-none-match" in response.request.all_headers()  # it was revalidated
    _media_ready(page, "video")
    assert "sandbox" not in (response.headers.get("content-security-policy") or "")


@pytest.mark.usefixtures("media")
def test_an_image_opened_directly_shows(browser: Browser, server: Server) -> None:
    """A proxied PNG opened in the address bar is shown."""
    page = _open(browser)
    page.goto(server.url("/media-proxy/browser/pixel.png"))
    assert _image_width(page, "img") == 40


@pytest.mark.usefixtures("media")
def test_images_and_video_show_on_an_app_page(browser: Browser, server: Server) -> None:
    """<img> and <video> of proxied files on the app's page load."""
    page = _app_page(
        browser,
        server,
        '<img id="png" src="/media-proxy/browser/pixel.png">'
        '<video id="clip" preload="auto" src="/media-proxy/browser/clip.mp4"></video>',
    )
    assert _image_width(page, "#png") == 40
    _media_ready(page, "#clip")


@pytest.mark.usefixtures("media")
def test_an_svg_shows_in_img_without_allow_types(browser: Browser, server: Server) -> None:
    """An SVG sent as an attachment still renders in an <img> on the app's page."""
    page = _app_page(browser, server, '<img id="svg" src="/media-proxy/browser/picture.svg">')
    assert _image_width(page, "#svg") == 40


@pytest.mark.usefixtures("media")
def test_no_proxied_file_runs_as_a_script(browser: Browser, server: Server) -> None:
    """<script src> of a file stored under any JavaScript type, or a list holding one, runs
    nothing on the app's page, though the app's own policy allows its origin's scripts."""
    scripts = "".join(
        f'<script src="/media-proxy/browser/script-{number}.js"></script>'
        for number in range(len(SCRIPT_TYPES))
    )
    page = _app_page(browser, server, scripts)
    assert page.evaluate("() => window.ran ?? null") is None


@pytest.mark.usefixtures("media")
def test_gzip_stored_files_work_on_an_app_page(browser: Browser, server: Server) -> None:
    """A stylesheet and an SVG stored gzip-compressed (Content-Encoding: gzip) apply
    and show on the app's page: the proxy sends the encoding with the bytes."""
    page = _app_page(
        browser,
        server,
        '<link rel="stylesheet" href="/media-proxy/browser/style.css">'
        '<p id="styled">text</p><img id="svg" src="/media-proxy/browser/gzipped.svg">',
    )
    page.wait_for_function(
        "() => getComputedStyle(document.querySelector('#styled')).color === 'rgb(214, 88, 46)'"
    )
    assert _image_width(page, "#svg") == 40
