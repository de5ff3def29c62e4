"""A direct upload in Chromium: the upload page of the test project (Django behind a real
threaded WSGI server), the file PUT by direct-upload.js straight to the S3 server."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from django.core.files.base import ContentFile
from django.core.handlers.wsgi import WSGIHandler

from r2store.buckets import CORSRule, set_cors
from r2store.cli import main
from r2store.django import R2Storage
from tests.conftest import BROWSER_DEADLINE, free_port

from .conftest import r2_store

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from playwright.sync_api import Browser, FilePayload, Page

SIZE = 20 * 1024 * 1024
#: What the widget says when the ticket endpoint answers something other than a ticket.
RELOAD = "The upload could not start: reload the page (or sign in again)."


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class BodySizes:
    """Django's WSGI app, recording the length of every request body it is sent."""

    def __init__(self) -> None:
        self.app = WSGIHandler()
        self.sizes: list[tuple[str, int]] = []

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        length = environ.get("CONTENT_LENGTH") or "0"
        self.sizes.append((environ["PATH_INFO"], int(length)))
        return self.app(environ, start_response)


@pytest.fixture
def site(r2_storage: R2Storage, cache_sessions: None) -> Iterator[tuple[str, BodySizes]]:
    """The test project on a threaded WSGI server; its origin and its body log. The bucket
    has no CORS rule. Sessions (the tickets are bound to one) are kept where the server's
    threads reach them."""
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    recorder = BodySizes()
    server = make_server(
        "127.0.0.1", port, recorder, server_class=_ThreadingServer, handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield origin, recorder
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def app(site: tuple[str, BodySizes], r2_storage: R2Storage) -> tuple[str, BodySizes]:
    """The test project on a threaded WSGI server; its origin and its body log. The bucket
    lets that origin upload (CORS), as `r2store cors set --origin` does."""
    origin, _ = site
    set_cors(r2_store(r2_storage), [CORSRule(origins=[origin])])
    return site


def _choose(page: Page, name: str) -> str:
    """Choose a small file named *name* on the upload page; the widget's state once its
    upload has ended (done or error)."""
    file: FilePayload = {"name": name, "mimeType": "text/plain", "buffer": b"direct upload\n"}
    page.set_input_files("input[type=file]", files=[file])
    page.wait_for_selector("[data-r2store-upload]:is([data-state=done], [data-state=error])")
    state: str = page.get_attribute("[data-r2store-upload]", "data-state") or ""
    return state


def test_upload_needs_the_bucket_cors_rule_for_the_page_origin(
    browser: Browser,
    site: tuple[str, BodySizes],
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Without a CORS rule the browser refuses the upload and the page says it failed; after
    `r2store cors set --origin <the page's origin>` with its defaults, it succeeds."""
    origin, _ = site
    page = browser.new_page()
    page.set_default_timeout(BROWSER_DEADLINE)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(f"{origin}/upload-page/")

    assert _choose(page, "refused.txt") == "error"
    assert page.inner_text("[data-r2store-status]") == "the upload failed (network)"
    assert any("blocked by CORS policy" in text for text in console), console

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no stray .env file
    assert main(["cors", "set", "--origin", origin]) == 0
    assert _choose(page, "allowed.txt") == "done"
    assert page.inner_text("[data-r2store-status]") == "Uploaded"


def test_a_large_file_goes_straight_to_the_bucket(
    browser: Browser, app: tuple[str, BodySizes], r2_storage: R2Storage
) -> None:
    """A 20 MiB file chosen on the page is uploaded with a progress bar, never reaches the
    app (no request body over 1 KiB), and the form saves it under the ticket's key."""
    origin, recorder = app
    data = bytes(range(256)) * (SIZE // 256)
    page = browser.new_page()
    page.set_default_timeout(BROWSER_DEADLINE)
    page.goto(f"{origin}/upload-page/")
    # Loopback takes 20 MiB in one go; at 10 MiB/s the progress bar has time to move.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": 10 * 1024 * 1024,
        },
    )
    # Every value the progress bar shows (setting .value sets the attribute).
    page.evaluate(
        """() => {
            window.progressSeen = [];
            const bar = document.querySelector("progress");
            new MutationObserver(() => window.progressSeen.push([bar.value, bar.max]))
                .observe(bar, {attributes: true, attributeFilter: ["value", "max"]});
        }"""
    )

    file: FilePayload = {
        "name": "big file.bin",
        "mimeType": "application/octet-stream",
        "buffer": data,
    }
    page.set_input_files("input[type=file]", files=[file])
    page.wait_for_selector("[data-r2store-upload][data-state=done]", timeout=60_000)
    seen: list[list[float]] = page.evaluate("window.progressSeen")
    page.click("button")
    page.wait_for_selector("text=saved page/")
    key = page.inner_text("body").removeprefix("saved ").strip()

    assert key.startswith("page/")
    assert key.endswith("/big_file.bin")
    assert r2_store(r2_storage).read(key) == data
    assert [SIZE, SIZE] in seen
    assert any(0 < value < SIZE for value, _ in seen), seen
    assert max(size for _, size in recorder.sizes) <= 1024, recorder.sizes
    assert any(path == "/r2store/upload-ticket/" for path, _ in recorder.sizes)


def test_clearing_the_file_during_an_upload_cancels_it(
    browser: Browser, app: tuple[str, BodySizes]
) -> None:
    """Clearing the chosen file while it uploads aborts the PUT, resets the widget and
    lets the form be submitted (here the field is required, so it answers so)."""
    origin, _ = app
    page = browser.new_page()
    page.set_default_timeout(BROWSER_DEADLINE)
    page.goto(f"{origin}/upload-page/")
    # At 256 KiB/s the 4 MiB PUT takes 16 s: it is still running when the file is cleared.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 262144},
    )
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.method))
    file: FilePayload = {
        "name": "slow.bin",
        "mimeType": "application/octet-stream",
        "buffer": b"x" * (4 * 1024 * 1024),
    }

    with page.expect_request(lambda request: request.method == "PUT"):
        page.set_input_files("input[type=file]", files=[file])
    # What Chrome does when the user cancels the file dialog: a change with no files.
    page.set_input_files("input[type=file]", files=[])
    state = page.get_attribute("[data-r2store-upload]", "data-state")
    status = page.inner_text("[data-r2store-status]")
    progress_hidden = page.eval_on_selector("progress", "bar => bar.hidden")
    page.click("button")
    page.wait_for_selector("text=This field is required.")

    assert (state, status, progress_hidden) == (None, "", True)
    assert "PUT" in failed


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        # What login_required's redirect to a login page gives a fetch: a 200 of HTML.
        ("text/html", "<!doctype html><title>Log in</title><form></form>"),
        ("application/json", '{"url": "/fake-bucket/x", "headers": {}}'),
        ("application/json", '{"url": "/fake-bucket/x", "token": "t", "headers": "none"}'),
        ("application/json", '{"url": 7, "token": "t", "headers": {}}'),
        ("application/json", "[]"),
    ],
    ids=["html", "no-token", "headers-not-an-object", "url-not-a-string", "not-an-object"],
)
def test_an_unexpected_ticket_answer_says_to_reload(
    browser: Browser, app: tuple[str, BodySizes], content_type: str, body: str
) -> None:
    """A 200 ticket answer that is not a ticket says to reload the page (or sign in again)
    and leaves the hidden input empty."""
    origin, _ = app
    page = browser.new_page()
    page.set_default_timeout(BROWSER_DEADLINE)
    page.route(
        "**/r2store/upload-ticket/",
        lambda route: route.fulfill(status=200, content_type=content_type, body=body),
    )
    # Should the widget PUT anyway, it "succeeds": the old widget then said "Uploaded".
    page.route("**/fake-bucket/**", lambda route: route.fulfill(status=200))
    page.goto(f"{origin}/upload-page/")
    file: FilePayload = {"name": "a.txt", "mimeType": "text/plain", "buffer": b"hello"}

    page.set_input_files("input[type=file]", files=[file])
    page.wait_for_selector("[data-r2store-upload]:is([data-state=done], [data-state=error])")

    assert page.inner_text("[data-r2store-status]") == RELOAD
    assert page.input_value("input[type=hidden][name=file]") == ""


def test_a_redirected_ticket_answer_says_to_reload(
    browser: Browser, app: tuple[str, BodySizes], r2_storage: R2Storage
) -> None:
    """A ticket request redirected (to a login page, say) says to reload the page, even
    when where it lands answers a ticket's JSON."""
    origin, _ = app
    ticket = b'{"url": "/fake-bucket/x", "token": "t", "headers": {}}'
    # Served by the test project's media proxy, as application/json. Playwright routes
    # only the first request of a redirect, so the one it lands on must be real.
    name = r2_storage.save("elsewhere/ticket.json", ContentFile(ticket))
    page = browser.new_page()
    page.set_default_timeout(BROWSER_DEADLINE)
    page.route(
        "**/r2store/upload-ticket/",
        lambda route: route.fulfill(status=302, headers={"Location": f"/media-proxy/{name}"}),
    )
    page.route("**/fake-bucket/**", lambda route: route.fulfill(status=200))
    page.goto(f"{origin}/upload-page/")
    file: FilePayload = {"name": "a.txt", "mimeType": "text/plain", "buffer": b"hello"}

    page.set_input_files("input[type=file]", files=[file])
    page.wait_for_selector("[data-r2store-upload]:is([data-state=done], [data-state=error])")

    assert page.inner_text("[data-r2store-status]") == RELOAD
    assert page.input_value("input[type=hidden][name=file]") == ""
