"""Loopback stand-ins for R2 that misbehave on purpose, for the failure tests.

moto answers correctly and at once; these answer GetObject the way a broken or
slow upstream would, so the tests can watch what the proxy does about it.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = [
    "ENDLESS_SIZE",
    "TRUNCATED_SENT",
    "TRUNCATED_SIZE",
    "UNTYPED_BODY",
    "FakeS3",
    "StalledServer",
]

#: ``truncated.bin`` announces this many bytes ...
TRUNCATED_SIZE = 4 * 1024 * 1024
#: ... sends this many, then closes the connection.
TRUNCATED_SENT = 256 * 1024
#: ``endless-*.bin`` announces this many bytes and trickles them out until the reader leaves.
ENDLESS_SIZE = 1024 * 1024 * 1024
#: ``untyped.png`` comes with no Content-Type at all.
UNTYPED_BODY = b"\x89PNG\r\n\x1a\n-not-really-a-png"

_ETAG = '"0123456789abcdef0123456789abcdef"'
_LAST_MODIFIED = "Tue, 03 Nov 2026 10:00:00 GMT"
_NOT_FOUND = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>"
)
# The trickle: 64 KiB every 5 ms, about 12 MB/s -- "slow", yet quick to fill a chunk.
_TRICKLE_CHUNK = b"\0" * (64 * 1024)
_TRICKLE_PAUSE = 0.005
# An endless answer gives up after this long, so a proxy that never lets go cannot hang the run.
_TRICKLE_LIMIT = 30.0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeS3


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # A reader that stops reading must not block a send forever.
    timeout = 10
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def _answer(self, *, send_body: bool) -> None:
        name = self.path.partition("?")[0].rsplit("/", 1)[-1]
        if name == "untyped.png":
            self._start(200, len(UNTYPED_BODY), content_type=None)
            if send_body:
                self.wfile.write(UNTYPED_BODY)
        elif name == "truncated.bin":
            self._start(200, TRUNCATED_SIZE)
            if send_body:
                self.wfile.write(b"\1" * TRUNCATED_SENT)
                self._hang_up()
        elif name.startswith("endless-"):
            self._start(200, ENDLESS_SIZE)
            if send_body:
                self._trickle(name)
                self._hang_up()
        else:
            self.send_response(404)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(_NOT_FOUND)))
            self.end_headers()
            if send_body:
                self.wfile.write(_NOT_FOUND)

    def _start(self, status: int, length: int, content_type: str | None = "binary/x-test") -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(length))
        self.send_header("ETag", _ETAG)
        self.send_header("Last-Modified", _LAST_MODIFIED)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        self.end_headers()

    def _hang_up(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _trickle(self, name: str) -> None:
        """Send the body slowly until the reader closes its end, then say when that was."""
        fake = self.server.fake
        fake.started(name).set()
        deadline = time.monotonic() + _TRICKLE_LIMIT
        sock = self.connection
        try:
            while time.monotonic() < deadline and not fake.stopping.is_set():
                self.wfile.write(_TRICKLE_CHUNK)
                # A reader that closed with FIN (not RST) shows up as "readable, no data".
                readable, _, _ = select.select([sock], [], [], _TRICKLE_PAUSE)
                if readable and not sock.recv(1, socket.MSG_PEEK):
                    break
            else:
                return
        except TimeoutError:
            return  # the reader stalled without closing: not what the tests wait for
        except OSError:
            pass
        fake.closed(name).set()


class FakeS3:
    """An S3-like HTTP server on loopback, in a thread.

    It answers any bucket and any path by the key's last segment:
    ``untyped.png`` (no Content-Type), ``truncated.bin`` (announces
    :data:`TRUNCATED_SIZE` bytes, sends :data:`TRUNCATED_SENT` and hangs up)
    and ``endless-<anything>.bin`` (trickles out bytes until the reader closes
    the connection; :meth:`closed` says when). Anything else is ``NoSuchKey``.
    """

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self._events: dict[tuple[str, str], threading.Event] = {}
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _event(self, kind: str, name: str) -> threading.Event:
        with self._lock:
            return self._events.setdefault((kind, name), threading.Event())

    def started(self, name: str) -> threading.Event:
        """Set once the endless object *name* has started to flow."""
        return self._event("started", name)

    def closed(self, name: str) -> threading.Event:
        """Set once the reader of the endless object *name* has closed its connection."""
        return self._event("closed", name)

    def close(self) -> None:
        """Stop serving and release the socket."""
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class StalledServer:
    """A TCP server on loopback that accepts connections and never answers."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.endpoint = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._connections: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._connections.append(connection)

    def close(self) -> None:
        """Stop accepting and close every connection held open."""
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()
        for connection in self._connections:
            connection.close()
