"""The README's "run it" command: the gallery example on a local S3 endpoint."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import free_port

GALLERY = Path(__file__).parents[1] / "docs" / "examples" / "gallery.py"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + b"\x00" * 64


@pytest.fixture
def gallery(tmp_path: Path) -> Iterator[str]:
    """The gallery running as the README runs it, with no R2 settings at all."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("R2_", "USE_R2"))}
    env["PORT"] = str(port)
    process = subprocess.Popen(
        [sys.executable, str(GALLERY)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(base + "/", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    try:
        yield base
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=10)
        assert "Traceback" not in output, output


def test_upload_shows_through_the_proxy(gallery: str) -> None:
    """An uploaded photo is listed on the page and served by the media proxy."""
    response = httpx.post(gallery + "/upload", files={"photo": ("cat ü.png", PNG, "image/png")})
    assert response.status_code == 303
    sources = re.findall(r'<img src="([^"]+)"', httpx.get(gallery + "/").text)
    assert len(sources) == 1
    assert sources[0].startswith("/media-proxy/photos/")
    image = httpx.get(gallery + sources[0])
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.content == PNG


def test_other_paths_reach_the_app(gallery: str) -> None:
    """The proxy middleware leaves the app's own routes alone."""
    assert httpx.get(gallery + "/nowhere").status_code == 404
    assert "Gallery" in httpx.get(gallery + "/").text
