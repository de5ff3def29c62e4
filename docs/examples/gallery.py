"""A photo gallery in one file: uploads go to R2, pages show them through the media proxy.

Run it (with R2 credentials in the environment or a .env file it uses your
bucket; without, it starts a local S3-compatible endpoint in memory):

    python -m pip install -e ".[local,dotenv]" && python docs/examples/gallery.py

then open http://127.0.0.1:8000/.
"""

from __future__ import annotations

import email.parser
import email.policy
import html
import os
import re
import sys
import uuid
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, suppress
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIServer, make_server

from r2store import R2Store, r2_enabled
from r2store.wsgi import R2ProxyMiddleware

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

MAX_UPLOAD = 20 * 1024 * 1024
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>r2store gallery</title>
<style>body{{font-family:system-ui;margin:2rem}}img{{height:160px;margin:4px;border-radius:6px}}</style>
</head><body>
<h1>Gallery</h1>
<p>Stored in bucket <code>{bucket}</code>, served {mode}.</p>
<form method="post" action="/upload" enctype="multipart/form-data">
  <input type="file" name="photo" accept="image/*" required> <button>Upload</button>
</form>
<div id="photos">{images}</div>
</body></html>
"""


class GalleryApp:
    """Lists the photos and takes uploads; the media proxy around it serves the files."""

    def __init__(self, store: R2Store) -> None:
        self.store = store

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", "/"), environ["REQUEST_METHOD"]
        if path == "/" and method == "GET":
            return self.index(start_response)
        if path == "/upload" and method == "POST":
            return self.upload(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not Found\n"]

    def index(self, start_response: StartResponse) -> Iterable[bytes]:
        photos = sorted(self.store.list("photos/"), key=lambda o: o.last_modified or 0)
        images = "\n".join(
            f'<img src="{html.escape(self.store.url(p.key))}" alt="{html.escape(p.key)}">'
            for p in reversed(photos)
        )
        mode = f"through the media proxy at {self.store.config.proxy_path}"
        if self.store.config.url_mode != "proxy":
            mode = f"by {self.store.config.url_mode} URLs"
        page = PAGE.format(
            bucket=html.escape(self.store.config.bucket), mode=mode, images=images or "none yet"
        )
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [page.encode()]

    def upload(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if not 0 < length <= MAX_UPLOAD:
            start_response("413 Content Too Large", [("Content-Type", "text/plain")])
            return [b"Upload between 1 byte and 20 MiB.\n"]
        for filename, content_type, data in _files(environ, length):
            safe = re.sub(r"[^A-Za-z0-9._-]+", "-", filename).strip(".-") or "photo"
            self.store.save(
                f"photos/{uuid.uuid4().hex[:12]}-{safe}", data, content_type=content_type
            )
        start_response("303 See Other", [("Location", "/")])
        return [b""]


def _files(environ: WSGIEnvironment, length: int) -> Iterator[tuple[str, str, bytes]]:
    """The uploaded files of a multipart/form-data body: (filename, type, bytes)."""
    head = f"Content-Type: {environ.get('CONTENT_TYPE', '')}\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        head + environ["wsgi.input"].read(length)
    )
    for part in message.iter_parts():
        filename = part.get_filename()
        data: Any = part.get_payload(decode=True)
        if filename and data:
            yield filename, part.get_content_type(), data


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """wsgiref's server, one thread per request, so a slow download blocks no one."""

    daemon_threads = True


def main() -> None:
    """Serve the gallery on 127.0.0.1:$PORT (8000), on R2 or a local endpoint."""
    with ExitStack() as stack:
        if not r2_enabled():
            from r2store.local import local_s3

            os.environ.update(stack.enter_context(local_s3()))
            print("No R2 settings (USE_R2): using a local S3 endpoint in memory.")
        store = R2Store.from_env()
        app = R2ProxyMiddleware(GalleryApp(store), store)
        port = int(os.environ.get("PORT", "8000"))
        with make_server("127.0.0.1", port, app, server_class=ThreadingWSGIServer) as server:
            print(f"Gallery on http://127.0.0.1:{port}/ (bucket {store.config.bucket!r})")
            sys.stdout.flush()
            with suppress(KeyboardInterrupt):
                server.serve_forever()


if __name__ == "__main__":
    main()
