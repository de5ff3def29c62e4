"""A fault-injecting TCP relay between r2store and the S3 server, for the fault tests.

:class:`Relay` listens on loopback and forwards each HTTP/1.1 request to the upstream (moto)
on a new connection, the way a client would see R2 through a flaky network. Before it
forwards a request it looks for a matching :class:`Fault` (by method and a substring of
the request-target, such as ``"?uploads"``, ``"partNumber="`` or ``"list-type=2"``) and,
while the fault has firings left, misbehaves instead:

- :meth:`Relay.fail`: answer an S3 error document (``503 SlowDown``, ``500 InternalError``,
  ``429 SlowDown``) without forwarding;
- :meth:`Relay.reset`: reset the connection (``SO_LINGER`` 0, then close), before
  forwarding, or after the upstream answered and *after* bytes of its answer went back;
- :meth:`Relay.stall`: send nothing for a while (the same two places), then reset;
- :meth:`Relay.cut_upload`: forward the request but reset both sides after *after*
  bytes of its body.

It parses just enough HTTP/1.1 to find where requests and responses end (request line,
headers, ``Content-Length``; ``Expect: 100-continue``). moto closes its connection after
every response, while r2store's clients keep theirs alive: the relay drops moto's
``Connection: close`` and keeps the client's connection open, as R2 would, so faults on
reused connections happen too. Every request is recorded in :attr:`Relay.seen`.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import urlsplit

import attrs
import pytest

from r2store import R2Config, R2Store
from tests.conftest import ACCESS_KEY_ID, SECRET_ACCESS_KEY, new_bucket

__all__ = [
    "ALWAYS",
    "CONNECT_TIMEOUT",
    "READ_TIMEOUT",
    "Fault",
    "Relay",
    "Seen",
    "direct_client",
    "error_document",
    "relay",
    "relay_bucket",
    "relay_store",
]

#: A fault's ``times`` for "every request it matches" (more than any retry budget).
ALWAYS = 1_000_000
#: How long a relay socket waits for its peer before giving up: a hung test fails, not hangs.
_SOCKET_TIMEOUT = 10.0
_CHUNK = 64 * 1024
_NO_BODY_STATUSES = frozenset({204, 304})


def error_document(code: str) -> bytes:
    """An S3 error document, as S3 and R2 send it."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        f"<Message>Injected {code}.</Message><RequestId>relay</RequestId></Error>"
    ).encode()


@attrs.define
class Fault:
    """One kind of misbehaviour, for requests that match, *times* times.

    ``kind`` is ``fail``, ``reset``, ``stall`` or ``cut_upload``. ``after`` is None to act
    before forwarding, else the bytes of the upstream's answer (``cut_upload``: of the
    request body) to pass on first. ``fired`` counts the requests it has spoiled.
    """

    kind: str
    method: str | None = None
    path: str | None = None
    times: int = 1
    status: int = 503
    code: str = "SlowDown"
    after: int | None = None
    seconds: float = 0.0
    fired: int = 0

    def matches(self, method: str, target: str) -> bool:
        """Whether the request ``method target`` is one this fault is for."""
        return (self.method is None or self.method == method) and (
            self.path is None or self.path in target
        )


@attrs.frozen
class Seen:
    """A request the relay received: method, request-target, and the fault it met (or None)."""

    method: str
    target: str
    fault: str | None


@attrs.frozen
class _Head:
    """A parsed request or response head: the first line and the headers, in order."""

    first: str
    headers: list[tuple[str, str]]

    def get(self, name: str) -> str | None:
        name = name.lower()
        for key, value in reversed(self.headers):
            if key.lower() == name:
                return value
        return None

    def raw(self, *, drop: str | None = None) -> bytes:
        """The head as bytes (less every header called *drop*)."""
        kept = (f"{k}: {v}" for k, v in self.headers if k.lower() != drop)
        return ("\r\n".join([self.first, *kept]) + "\r\n\r\n").encode("latin-1")


class _ClosedError(Exception):
    """The peer closed the connection where a head or body was expected."""


def _read_head(stream: IO[bytes]) -> _Head | None:
    """Read one head; None if the connection ended cleanly before it began."""
    first = stream.readline(65536)
    if not first:
        return None
    headers: list[tuple[str, str]] = []
    while True:
        line = stream.readline(65536)
        if not line:
            raise _ClosedError("connection closed inside a head")
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    return _Head(first.decode("latin-1").rstrip("\r\n"), headers)


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset (RST) rather than an orderly FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class Relay:
    """A threaded TCP relay on 127.0.0.1 (a free port) in front of *upstream* (``http://host:port``).

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        assert parts.hostname is not None
        assert parts.port is not None
        self._upstream = (parts.hostname, parts.port)
        self._faults: list[Fault] = []
        #: Every request received, in order, faulted or not.
        self.seen: list[Seen] = []
        #: Connections accepted from clients.
        self.connections = 0
        #: Client connections open now, and the most open at once since :meth:`forget`.
        self.open = 0
        self.peak = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._clients: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.endpoint = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name="relay-accept", daemon=True)
        self._acceptor.start()

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop accepting, end every stall, and close every connection."""
        self._stopping.set()
        self._acceptor.join(timeout=5)
        self._listener.close()
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(timeout=5)

    # -- programming it ------------------------------------------------------------

    def add(self, fault: Fault) -> Fault:
        """Queue *fault* (after those already queued); returns it, to read ``fired`` later."""
        with self._lock:
            self._faults.append(fault)
        return fault

    def fail(
        self,
        status: int = 503,
        code: str = "SlowDown",
        *,
        method: str | None = None,
        path: str | None = None,
        times: int = 1,
    ) -> Fault:
        """Answer *status* with an S3 error document of *code*, instead of forwarding."""
        return self.add(Fault("fail", method, path, times, status=status, code=code))

    def reset(
        self,
        *,
        after: int | None = None,
        method: str | None = None,
        path: str | None = None,
        times: int = 1,
    ) -> Fault:
        """Reset the connection: before forwarding (*after* None), or once the upstream
        has answered and *after* bytes of its answer have gone back (0: none)."""
        return self.add(Fault("reset", method, path, times, after=after))

    def stall(
        self,
        seconds: float,
        *,
        after: int | None = None,
        method: str | None = None,
        path: str | None = None,
        times: int = 1,
    ) -> Fault:
        """Send nothing for *seconds*, then reset: before forwarding (*after* None), or once
        the upstream has answered and *after* bytes of its answer have gone back."""
        return self.add(Fault("stall", method, path, times, after=after, seconds=seconds))

    def cut_upload(
        self, after: int, *, method: str | None = None, path: str | None = None, times: int = 1
    ) -> Fault:
        """Forward the request, but reset both connections after *after* bytes of its body."""
        return self.add(Fault("cut_upload", method, path, times, after=after))

    def clear(self) -> None:
        """Drop every queued fault: requests pass through from now on."""
        with self._lock:
            self._faults.clear()

    def forget(self) -> None:
        """Drop every queued fault and what was seen: a fresh start for the next test."""
        with self._lock:
            self._faults.clear()
            self.seen.clear()
            self.connections = 0
            self.peak = self.open

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """How many requests came in with *method* and *path* in their target (faulted or not)."""
        with self._lock:
            return sum(
                1
                for s in self.seen
                if (method is None or s.method == method) and (path is None or path in s.target)
            )

    def _take(self, method: str, target: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, target):
                    fault.fired += 1
                    if fault.fired >= fault.times:
                        self._faults.remove(fault)
                    self.seen.append(Seen(method, target, fault.kind))
                    return fault
            self.seen.append(Seen(method, target, None))
            return None

    # -- serving ---------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(_SOCKET_TIMEOUT)
            with self._lock:
                self._clients.add(client)
                self.connections += 1
                self.open += 1
                self.peak = max(self.peak, self.open)
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, client: socket.socket) -> None:
        """Relay requests from one client connection until either side is done."""
        reader = client.makefile("rb")
        reset = False
        try:
            while not self._stopping.is_set():
                request = _read_head(reader)
                if request is None:
                    return
                method, target, _ = request.first.split(" ", 2)
                fault = self._take(method, target)
                outcome = self._exchange(client, reader, request, method, fault)
                if outcome != "keep":
                    reset = outcome == "reset"
                    return
        except (OSError, _ClosedError, ValueError):
            return  # the client went away, or timed out: nothing to relay to
        finally:
            reader.close()
            with self._lock:
                self._clients.discard(client)
                self.open -= 1
            if reset:
                _reset(client)
            else:
                client.close()

    def _exchange(
        self,
        client: socket.socket,
        reader: IO[bytes],
        request: _Head,
        method: str,
        fault: Fault | None,
    ) -> str:
        """Handle one request; ``keep`` the connection for the next, ``close`` or ``reset`` it."""
        length = int(request.get("content-length") or 0)
        expects_continue = (request.get("expect") or "").lower() == "100-continue"
        if request.get("transfer-encoding"):
            client.sendall(_answer(501, "NotImplemented", close=True))
            return "close"
        kind = fault.kind if fault is not None else None
        if fault is not None and fault.after is None and kind in ("reset", "stall"):
            if kind == "stall":
                self._stopping.wait(fault.seconds)
            return "reset"
        if fault is not None and kind == "fail":
            head_only = method == "HEAD"
            if expects_continue and length:
                # The client holds the body back, and may send it after all once it tires of
                # waiting: nothing on this connection can be trusted after the answer.
                client.sendall(_answer(fault.status, fault.code, close=True, head_only=head_only))
                return "close"
            _skip(reader, length)
            client.sendall(_answer(fault.status, fault.code, head_only=head_only))
            return "keep"
        with socket.create_connection(self._upstream, timeout=_SOCKET_TIMEOUT) as upstream:
            upstream_reader = upstream.makefile("rb")
            try:
                return self._forward(
                    client, reader, upstream, upstream_reader, request, method, length, fault
                )
            finally:
                upstream_reader.close()

    def _forward(
        self,
        client: socket.socket,
        reader: IO[bytes],
        upstream: socket.socket,
        upstream_reader: IO[bytes],
        request: _Head,
        method: str,
        length: int,
        fault: Fault | None,
    ) -> str:
        upstream.sendall(request.raw())
        if length and (request.get("expect") or "").lower() == "100-continue":
            # The client waits for the upstream's go-ahead before it sends the body.
            interim = _read_head(upstream_reader)
            if interim is None:
                raise _ClosedError("upstream closed before answering")
            if _status(interim) != 100:
                return self._respond(client, upstream_reader, interim, method, fault, close=True)
            client.sendall(interim.raw())
        sent = 0
        while sent < length:
            size = min(_CHUNK, length - sent)
            if fault is not None and fault.kind == "cut_upload":
                assert fault.after is not None
                size = min(size, fault.after - sent)
                if size <= 0:
                    _reset(upstream)
                    return "reset"
            data = reader.read(size)
            if not data:
                raise _ClosedError("client closed inside a request body")
            upstream.sendall(data)
            sent += len(data)
        head = _read_final_head(client, upstream_reader)
        keep_alive = (request.get("connection") or "").lower() != "close"
        return self._respond(client, upstream_reader, head, method, fault, close=not keep_alive)

    def _respond(
        self,
        client: socket.socket,
        upstream_reader: IO[bytes],
        head: _Head,
        method: str,
        fault: Fault | None,
        *,
        close: bool,
    ) -> str:
        """Pass the upstream's answer back, whole or (for a fault) only its first bytes."""
        status = _status(head)
        length_header = head.get("content-length")
        no_body = method == "HEAD" or status in _NO_BODY_STATUSES
        framed = no_body or length_header is not None
        # moto closes after every answer; R2 keeps the connection. Keep it when the answer's
        # end can be told without the close.
        keep = framed and not close
        out = head.raw(drop="connection" if keep else None)
        remaining: int | None = None  # to the upstream's close
        if no_body:
            remaining = 0
        elif length_header is not None:
            remaining = int(length_header)
        budget = fault.after if fault is not None and fault.kind in ("reset", "stall") else None

        def send(data: bytes) -> bool:
            """Send *data* within the fault's budget; False once the budget is spent."""
            nonlocal budget
            if budget is None:
                client.sendall(data)
                return True
            client.sendall(data[:budget])
            budget -= min(budget, len(data))
            return budget > 0

        if not send(out) and fault is not None:
            return self._spoil(fault)
        while remaining is None or remaining > 0:
            data = upstream_reader.read(_CHUNK if remaining is None else min(_CHUNK, remaining))
            if not data:
                if remaining is None:
                    break
                raise _ClosedError("upstream closed inside a response body")
            if remaining is not None:
                remaining -= len(data)
            if not send(data) and fault is not None:
                return self._spoil(fault)
        if fault is not None and fault.kind in ("reset", "stall"):
            return self._spoil(fault)  # the whole answer fit in the budget: spoil the end
        return "keep" if keep else "close"

    def _spoil(self, fault: Fault) -> str:
        if fault.kind == "stall":
            self._stopping.wait(fault.seconds)
        return "reset"


def _status(head: _Head) -> int:
    return int(head.first.split(" ", 2)[1])


def _read_final_head(client: socket.socket, upstream_reader: IO[bytes]) -> _Head:
    """The upstream's final response head; interim (1xx) ones go straight to the client."""
    while True:
        head = _read_head(upstream_reader)
        if head is None:
            raise _ClosedError("upstream closed before answering")
        if _status(head) >= 200:
            return head
        client.sendall(head.raw())


def _skip(reader: IO[bytes], length: int) -> None:
    while length > 0:
        data = reader.read(min(_CHUNK, length))
        if not data:
            raise _ClosedError("client closed inside a request body")
        length -= len(data)


def _answer(status: int, code: str, *, close: bool = False, head_only: bool = False) -> bytes:
    """An S3 error answer (a HEAD's has the length of the document, but not the document)."""
    body = error_document(code)
    lines = [
        f"HTTP/1.1 {status} {code}",
        "Content-Type: application/xml",
        f"Content-Length: {len(body)}",
        "x-amz-request-id: relay",
    ]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head_only else body)


# -- fixtures ---------------------------------------------------------------------------

#: The fault tests' timeouts: short, so a stall costs half a second, not a minute. (moto
#: answers the small requests of these tests in milliseconds.)
CONNECT_TIMEOUT = 0.5
READ_TIMEOUT = 0.5


def direct_client(s3_endpoint: str) -> Any:
    """A plain boto3 client on the moto server itself, around the relay, to check the truth."""
    import boto3

    return boto3.session.Session().client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="auto",
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )


@pytest.fixture(scope="module")
def relay(s3_endpoint: str) -> Iterator[Relay]:
    """A relay in front of the session's moto server, for a module's tests.

    Call :meth:`Relay.forget` before each test.
    """
    with Relay(s3_endpoint) as running:
        yield running


@pytest.fixture(scope="module")
def relay_bucket(s3_endpoint: str) -> str:
    """A new bucket on moto for a module's tests."""
    return new_bucket(s3_endpoint, "faults")


@pytest.fixture
def relay_store(relay: Relay, relay_bucket: str) -> Iterator[R2Store]:
    """A store on :func:`relay_bucket` whose every request goes through :func:`relay`,
    with short timeouts.

    One per test: botocore's retry quota is per client, and the failures of earlier tests
    would use it up.
    """
    config = R2Config(
        endpoint_url=relay.endpoint,
        bucket=relay_bucket,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
    )
    with R2Store(config) as store:
        yield store
