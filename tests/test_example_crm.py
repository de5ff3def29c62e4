"""The CRM example (docs/examples/crm): a Django project whose profile photos live in R2."""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from PIL import Image

from r2store import R2Store

from .conftest import BROWSER_DEADLINE, free_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

RUN = Path(__file__).parents[1] / "docs" / "examples" / "crm" / "run.py"
STARTUP_DEADLINE = 60.0
SHUTDOWN_DEADLINE = 15.0
IMG_SRC = re.compile(r'<img[^>]*\bsrc="([^"]+)"')


def _png(width: int = 40, height: int = 30) -> bytes:
    """A real PNG (Django's ImageField opens what it is given), in one colour."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (214, 88, 46)).save(buffer, format="PNG")
    return buffer.getvalue()


@contextmanager
def _crm(
    data_dir: Path, port: int, log: Path, extra_env: Mapping[str, str] | None = None
) -> Iterator[str]:
    """run.py as the README runs it, keeping its data in *data_dir*; stopped by SIGTERM."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("R2_", "USE_R2", "DJANGO_"))}
    env.update(extra_env or {})
    env.update(
        CRM_DATA_DIR=str(data_dir), PORT=str(port), DJANGO_SETTINGS_MODULE="crmsite.settings"
    )
    base = f"http://127.0.0.1:{port}"
    with log.open("w") as output:
        # cwd: run.py reads a .env from it, and there must be none.
        process = subprocess.Popen(
            [sys.executable, str(RUN)],
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


def test_uploaded_photo_is_served_through_the_proxy(tmp_path: Path) -> None:
    """A photo uploaded with the add-contact form is listed and served by the media proxy."""
    photo = _png()
    with (
        _crm(tmp_path / "data", free_port(), tmp_path / "run.log") as base,
        httpx.Client(base_url=base) as client,
    ):
        form = client.get("/add/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        assert token is not None
        response = client.post(
            "/add/",
            data={
                "csrfmiddlewaretoken": token[1],
                "name": "Ada Lovelace",
                "email": "ada@example.com",
            },
            files={"photo": ("ada.png", photo, "image/png")},
        )
        assert response.status_code == 302
        sources = IMG_SRC.findall(client.get("/").text)
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
