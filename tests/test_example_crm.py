"""The CRM example (docs/examples/crm): a Django project whose profile photos live in a local
folder (by default), an in-memory S3 endpoint (--s3) or R2 (USE_R2=true)."""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from html import unescape
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from PIL import Image

from r2store import R2Store
from r2store.buckets import CORSRule

from .conftest import BROWSER_DEADLINE, free_port, s3_client

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Request

RUN = Path(__file__).parents[1] / "docs" / "examples" / "crm" / "run.py"
STARTUP_DEADLINE = 60.0
SHUTDOWN_DEADLINE = 15.0
IMG_SRC = re.compile(r'<img[^>]*\bsrc="([^"]+)"')
# The in-memory endpoint, as run.py's first line names it.
MEMORY_ENDPOINT = re.compile(r"in memory \((http://127\.0\.0\.1:\d+), bucket ([^)]+)\)")
# The most the app may be sent with a direct upload: a ticket request or the form, not the file.
SMALL_BODY = 4 * 1024


def _img_sources(html: str) -> list[str]:
    """Every img src on the page, as a browser reads it (a signed URL's ``&`` is ``&amp;``)."""
    return [unescape(src) for src in IMG_SRC.findall(html)]


def _png(width: int = 40, height: int = 30) -> bytes:
    """A real PNG (Django's ImageField opens what it is given), in one colour."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (214, 88, 46)).save(buffer, format="PNG")
    return buffer.getvalue()


@contextmanager
def _crm(
    data_dir: Path,
    port: int,
    log: Path,
    extra_env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
) -> Iterator[str]:
    """run.py as the README runs it, keeping its data in *data_dir*; stopped by SIGTERM."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("R2_", "USE_R2", "DJANGO_", "CRM_"))
    }
    env.update(extra_env or {})
    env.update(
        CRM_DATA_DIR=str(data_dir), PORT=str(port), DJANGO_SETTINGS_MODULE="crmsite.settings"
    )
    base = f"http://127.0.0.1:{port}"
    with log.open("w") as output:
        # cwd: run.py reads a .env from it, and there must be none.
        process = subprocess.Popen(
            [sys.executable, str(RUN), *args],
            cwd=log.parent,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + STARTUP_DEADLINE
        while True:
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"run.py did not start serving:\n{log.read_text()}")
                time.sleep(0.1)
        yield base
    finally:
        # SIGTERM: a container's stop, and delivered even where SIGINT is ignored.
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=SHUTDOWN_DEADLINE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert "Traceback" not in log.read_text(), log.read_text()
    # A clean stop, not death by the signal (-15), which would skip run.py's cleanup.
    assert process.returncode == 0, log.read_text()


def _photo_width(page: Page) -> int:
    """The natural width of the contact photo on the page, once it has loaded (or failed)."""
    page.wait_for_function(
        "() => { const img = document.querySelector('img.photo'); return img && img.complete; }",
        timeout=BROWSER_DEADLINE,
    )
    width: int = page.evaluate("() => document.querySelector('img.photo').naturalWidth")
    return width


def _add_contact(client: httpx.Client, name: str, photo: bytes, filename: str) -> None:
    """Post the add-contact form with a photo, as a browser would."""
    form = client.get("/add/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert token is not None
    response = client.post(
        "/add/",
        data={"csrfmiddlewaretoken": token[1], "name": name, "email": "someone@example.com"},
        files={"photo": (filename, photo, "image/png")},
    )
    assert response.status_code == 302


def _storage_note(html: str) -> str:
    """What the contact list says about where the photos are."""
    note = re.search(r'<p class="note" id="storage">([^<]*)</p>', html)
    assert note is not None
    return note[1]


def test_uploaded_photo_is_served_through_the_proxy(tmp_path: Path) -> None:
    """A photo uploaded with the add-contact form is listed and served by the media proxy."""
    photo = _png()
    with (
        _crm(tmp_path / "data", free_port(), tmp_path / "run.log") as base,
        httpx.Client(base_url=base) as client,
    ):
        _add_contact(client, "Ada Lovelace", photo, "ada.png")
        sources = _img_sources(client.get("/").text)
        assert len(sources) == 1
        assert sources[0].startswith("/media-proxy/profile_images/")
        image = client.get(sources[0])
        assert image.status_code == 200
        assert image.headers["content-type"] == "image/png"
        assert image.content == photo


def test_photo_outlives_the_app_server_and_its_disk(
    tmp_path: Path, env: dict[str, str], store: R2Store, browser: Browser
) -> None:
    """A photo added in the browser is in the bucket and still shows after a restart without
    the app's local media folder."""
    data_dir, port = tmp_path / "data", free_port()
    photo = tmp_path / "ada.png"
    photo.write_bytes(_png(40, 30))
    page = browser.new_page()
    page.set_default_timeout(BROWSER_DEADLINE)
    with _crm(data_dir, port, tmp_path / "first.log", env) as base:
        page.goto(base + "/add/")
        page.fill("#id_name", "Ada Lovelace")
        page.fill("#id_email", "ada@example.com")
        page.set_input_files("#id_photo", photo)
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert page.url == base + "/"
        src = page.get_attribute("img.photo", "src")
        assert src is not None
        assert src.startswith("/media-proxy/profile_images/")
        assert _photo_width(page) == 40
        assert f"R2 bucket {store.config.bucket} " in (page.text_content("#storage") or "")
        page.screenshot(path=tmp_path / "contacts.png", full_page=True)
    key = src.removeprefix("/media-proxy/")
    assert [o.key for o in store.list("profile_images/")] == [key]
    with store.open(key) as stored:
        assert stored.read() == photo.read_bytes()

    media_root = data_dir / "media"
    assert not media_root.exists() or not any(media_root.iterdir())
    shutil.rmtree(media_root, ignore_errors=True)
    # A new page has its own, empty cache: the photo must come from the restarted app.
    again = browser.new_page()
    again.set_default_timeout(BROWSER_DEADLINE)
    with _crm(data_dir, port, tmp_path / "second.log", env) as base:
        again.goto(base + "/")
        assert again.get_attribute("img.photo", "src") == src
        assert _photo_width(again) == 40
    assert f'"GET {src} HTTP/1.1" 200' in (tmp_path / "second.log").read_text()


def test_local_mode_is_the_default_and_says_where(tmp_path: Path) -> None:
    """Without USE_R2 the photos go to media/ beside the database, and both the terminal
    and the page name that folder."""
    data_dir, log = tmp_path / "data", tmp_path / "run.log"
    with (
        _crm(data_dir, free_port(), log) as base,
        httpx.Client(base_url=base) as client,
    ):
        _add_contact(client, "Ada Lovelace", _png(), "ada.png")
        note = _storage_note(client.get("/").text)
    (stored,) = (data_dir / "media" / "profile_images").iterdir()
    assert stored.read_bytes() == _png()
    assert f"local folder {data_dir / 'media'} " in note
    assert f"Storage: {note}" in log.read_text()


def test_s3_flag_keeps_photos_in_memory_and_says_so(tmp_path: Path) -> None:
    """With --s3 the photos go to the in-memory S3 endpoint, not to the disk, and the
    terminal and the page say they are gone when it stops."""
    data_dir, log = tmp_path / "data", tmp_path / "run.log"
    with (
        _crm(data_dir, free_port(), log, args=["--s3"]) as base,
        httpx.Client(base_url=base) as client,
    ):
        _add_contact(client, "Ada Lovelace", _png(), "ada.png")
        page = client.get("/").text
        (src,) = _img_sources(page)
        assert client.get(src).content == _png()
        note = _storage_note(page)
    assert "S3 endpoint in memory" in note
    assert "gone when run.py stops" in note
    assert f"Storage: {note}" in log.read_text()
    assert not (data_dir / "media").exists()


def test_s3_flag_lets_its_own_origin_upload_and_says_so(tmp_path: Path) -> None:
    """With --s3, run.py gives the in-memory bucket the CORS rule `r2store cors set --origin`
    sets for the app's origin, and prints that command as the one R2 needs once."""
    log = tmp_path / "run.log"
    with _crm(tmp_path / "data", free_port(), log, args=["--s3"]) as base:
        found = MEMORY_ENDPOINT.search(log.read_text())
        assert found is not None, log.read_text()
        endpoint, bucket = found.groups()
        client = s3_client(endpoint)
        try:
            rules = client.get_bucket_cors(Bucket=bucket)["CORSRules"]
        finally:
            client.close()
    assert [CORSRule.from_s3(rule) for rule in rules] == [CORSRule(origins=[base])]
    (line,) = [line for line in log.read_text().splitlines() if line.startswith("CORS: ")]
    assert f"`r2store cors set --origin {base}`" in line
    assert "on R2, run that command once" in line


def _add_in_browser(page: Page, base: str, name: str, photo: Path) -> str:
    """Add a contact with *photo* through the form in the browser; the new card's img src."""
    page.goto(base + "/add/")
    page.fill("#id_name", name)
    page.set_input_files("#id_photo", photo)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url == base + "/"
    src = page.get_attribute(f"img.photo[alt='{name}']", "src")
    assert src is not None
    return src


def _width_of(page: Page, name: str) -> int:
    """The natural width of *name*'s photo, once it has loaded (or failed)."""
    selector = f"img.photo[alt='{name}']"
    page.wait_for_function(
        f"() => {{ const img = document.querySelector({selector!r}); "
        "return img && img.complete; }",
        timeout=BROWSER_DEADLINE,
    )
    width: int = page.evaluate(f"() => document.querySelector({selector!r}).naturalWidth")
    return width


def test_photo_survives_a_restart_in_local_mode(tmp_path: Path, browser: Browser) -> None:
    """A photo added in the browser still shows, byte for byte, after run.py restarts."""
    data_dir, port = tmp_path / "data", free_port()
    photo = tmp_path / "ada.png"
    photo.write_bytes(_png(40, 30))
    page = browser.new_page()
    page.set_default_timeout(BROWSER_DEADLINE)
    with _crm(data_dir, port, tmp_path / "first.log") as base:
        first_src = _add_in_browser(page, base, "Ada Lovelace", photo)
        assert _width_of(page, "Ada Lovelace") == 40
    # A new page has its own, empty cache: the photo must come from the restarted app.
    again = browser.new_page()
    again.set_default_timeout(BROWSER_DEADLINE)
    with _crm(data_dir, port, tmp_path / "second.log") as base:
        again.goto(base + "/")
        src = again.get_attribute("img.photo", "src") or ""
        # The same key; local mode signs its URLs (for direct uploads), and the signature's
        # expiry may have moved on across the restart.
        assert src.partition("?")[0] == first_src.partition("?")[0]
        assert _width_of(again, "Ada Lovelace") == 40
        assert httpx.get(base + src).content == photo.read_bytes()
    assert f'"GET {src} HTTP/1.1" 200' in (tmp_path / "second.log").read_text()


def test_same_name_after_a_restart_gets_its_own_key(tmp_path: Path, browser: Browser) -> None:
    """After a restart, a new contact's photo named like Ada's gets another key, and Ada's
    card still shows her own photo."""
    data_dir, port = tmp_path / "data", free_port()
    ada, grace = tmp_path / "ada" / "photo.png", tmp_path / "grace" / "photo.png"
    ada.parent.mkdir()
    grace.parent.mkdir()
    ada.write_bytes(_png(40, 30))
    grace.write_bytes(_png(24, 24))
    page = browser.new_page()
    page.set_default_timeout(BROWSER_DEADLINE)
    with _crm(data_dir, port, tmp_path / "first.log") as base:
        ada_src = _add_in_browser(page, base, "Ada Lovelace", ada)
    with _crm(data_dir, port, tmp_path / "second.log") as base:
        grace_src = _add_in_browser(page, base, "Grace Hopper", grace)
        assert grace_src != ada_src
        assert page.get_attribute("img.photo[alt='Ada Lovelace']", "src") == ada_src
        assert _width_of(page, "Ada Lovelace") == 40
        assert _width_of(page, "Grace Hopper") == 24
        assert httpx.get(base + ada_src).content == ada.read_bytes()
        assert httpx.get(base + grace_src).content == grace.read_bytes()


def test_large_attachment_goes_straight_to_the_folder(tmp_path: Path, browser: Browser) -> None:
    """In local mode, an attachment chosen in the browser is PUT to the media proxy (never
    posted with the form), lands in media/attachments/ and is served at its link."""
    data_dir = tmp_path / "data"
    attachment = tmp_path / "minutes.pdf"
    attachment.write_bytes(b"%PDF-1.4 minutes\n" * 100_000)
    page = browser.new_page()
    page.set_default_timeout(BROWSER_DEADLINE)
    with _crm(data_dir, free_port(), tmp_path / "run.log") as base:
        page.goto(base + "/add/")
        page.fill("#id_name", "Ada Lovelace")
        page.set_input_files("#id_attachment", attachment)
        page.wait_for_selector("[data-r2store-upload][data-state=done]")
        with page.expect_navigation():
            page.click("button[type=submit]")
        href = page.get_attribute("a.attachment", "href")
        assert href is not None
        served = httpx.get(base + href)
    (stored,) = (data_dir / "media" / "attachments").glob("*/minutes.pdf")
    assert stored.read_bytes() == attachment.read_bytes()
    assert served.content == attachment.read_bytes()


def _body_size(request: Request) -> int:
    """The size of the body the browser sent with *request*, from its Content-Length (which,
    unlike Playwright's post data, counts a form's files)."""
    return int(request.all_headers().get("content-length", "0"))


def test_large_attachment_goes_straight_to_the_s3_endpoint(
    tmp_path: Path, browser: Browser
) -> None:
    """With --s3, an attachment chosen in the browser is PUT cross-origin to the in-memory S3
    endpoint (the app is sent no more than a few KiB), and the contact's link serves it."""
    log = tmp_path / "run.log"
    attachment = tmp_path / "minutes.pdf"
    attachment.write_bytes(b"%PDF-1.4 minutes\n" + os.urandom(3 * 1024 * 1024))
    page = browser.new_page()
    page.set_default_timeout(BROWSER_DEADLINE)
    sent: list[Request] = []
    page.on("request", lambda request: sent.append(request))
    with _crm(tmp_path / "data", free_port(), log, args=["--s3"]) as base:
        found = MEMORY_ENDPOINT.search(log.read_text())
        assert found is not None, log.read_text()
        endpoint, bucket = found.groups()
        page.goto(base + "/add/")
        page.fill("#id_name", "Ada Lovelace")
        with page.expect_response(lambda response: response.request.method == "PUT") as put:
            page.set_input_files("#id_attachment", attachment)
        page.wait_for_selector("[data-r2store-upload][data-state=done]")
        with page.expect_navigation():
            page.click("button[type=submit]")
        href = page.get_attribute("a.attachment", "href")
        assert href is not None
        served = httpx.get(base + href)
        to_app = [(r.method, r.url, _body_size(r)) for r in sent if r.url.startswith(base + "/")]
    assert put.value.url.startswith(f"{endpoint}/{bucket}/attachments/")
    assert put.value.status == 200
    assert _body_size(put.value.request) == attachment.stat().st_size
    assert href.startswith("/media-proxy/attachments/")
    assert href.endswith("/minutes.pdf")
    assert served.status_code == 200
    assert served.content == attachment.read_bytes()
    assert ("POST", f"{base}/add/") in [(method, url) for method, url, _ in to_app]
    assert max(size for _, _, size in to_app) <= SMALL_BODY, to_app
    assert not (tmp_path / "data" / "media").exists()


def test_photo_added_in_the_browser_shows_with_s3_flag(tmp_path: Path, browser: Browser) -> None:
    """With --s3, a photo added through the form in the browser shows on the contact list,
    served byte for byte by the media proxy from the in-memory endpoint."""
    photo = tmp_path / "ada.png"
    photo.write_bytes(_png(40, 30))
    page = browser.new_page()
    page.set_default_timeout(BROWSER_DEADLINE)
    with _crm(tmp_path / "data", free_port(), tmp_path / "run.log", args=["--s3"]) as base:
        src = _add_in_browser(page, base, "Ada Lovelace", photo)
        assert _width_of(page, "Ada Lovelace") == 40
        served = httpx.get(base + src)
    assert src.startswith("/media-proxy/profile_images/")
    assert served.content == photo.read_bytes()
    assert not (tmp_path / "data" / "media").exists()
