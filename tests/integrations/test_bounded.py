"""Slow readers against the ASGI proxy under real uvicorn: a cap on streams, a stall
timeout, and no more R2 connections than the pool.

Each "stalled" client sends a GET for an object far larger than every buffer on the way
(a 4 KiB receive buffer, the kernel's send buffer, uvicorn's write buffer and the chunk
in hand), reads the response head and then nothing more, as a slow or hostile client
would. The proxy reads from R2 through the fault relay (no faults queued), which counts
the proxy's upstream connections.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.faults import Relay
from tests.integrations.conftest import Bucket, Server, serve
from tests.integrations.helpers import raw_request

#: The proxy's pool, and so its cap on streams.
POOL = 3
#: Seconds a stalled client may take nothing before the proxy gives up on it.
SEND_TIMEOUT = 3.0
#: Seconds a request beyond the cap waits for a slot before its 503.
QUEUE_TIMEOUT = 0.2
#: Far more than the buffers between the proxy and a client that does not read.
LARGE = bytes(range(256)) * (96 * 1024)  # 24 MiB
KEY = "slow/large.bin"
PATH = f"/media-proxy/{KEY}"


@pytest.fixture(scope="module")
def upstream_relay(s3_endpoint: str) -> Iterator[Relay]:
    """The relay between the server and moto, counting the proxy's connections."""
    with Relay(s3_endpoint) as relay:
        yield relay


@pytest.fixture(scope="module")
def bounded(
    server_env: dict[str, str],
    seeded_bucket: Bucket,
    upstream_relay: Relay,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    """uvicorn serving ``apps/bounded_app.py`` through the relay, LARGE stored."""
    seeded_bucket.store.save(KEY, LARGE)
    env = {
        **server_env,
        "R2_ENDPOINT_URL": upstream_relay.endpoint,
        "R2_MAX_POOL_CONNECTIONS": str(POOL),
        "R2STORE_TEST_SEND_TIMEOUT": str(SEND_TIMEOUT),
        "R2STORE_TEST_QUEUE_TIMEOUT": str(QUEUE_TIMEOUT),
    }
    port = free_port()
    argv = [
        "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
        "--timeout-graceful-shutdown", "3", "tests.integrations.apps.bounded_app:app",
    ]  # fmt: skip
    tmp: Path = tmp_path_factory.mktemp("bounded")
    yield from serve("asgi", argv, port, env, tmp)


@pytest.fixture
def relay(upstream_relay: Relay, bounded: Server) -> Relay:
    """The relay, once the previous test's streams have let go of their connections."""
    _wait_for(lambda: upstream_relay.open == 0, seconds=10)
    upstream_relay.forget()
    return upstream_relay


@pytest.fixture
def stalled(bounded: Server) -> Iterator[list[socket.socket]]:
    """Stalled clients made by :func:`stall`, closed after the test."""
    made: list[socket.socket] = []
    yield made
    for sock in made:
        sock.close()


def stall(server: Server, made: list[socket.socket]) -> int:
    """Start a GET of LARGE that reads the status and headers, then nothing; its status."""
    port = int(server.base.rsplit(":", 1)[1])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    made.append(sock)
    # Set before connecting, so the window the client offers stays small.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        byte = sock.recv(1)
        assert byte, "the server closed before the end of the head"
        head += byte
    return int(head.split(b" ", 2)[1])


def _wait_for(condition: object, *, seconds: float) -> bool:
    """Poll *condition* (a callable) until it holds or *seconds* pass; whether it held."""
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def test_a_request_beyond_the_stream_cap_gets_503_with_retry_after(
    bounded: Server, relay: Relay, stalled: list[socket.socket]
) -> None:
    """With every stream slot held by a stalled client, the next request gets 503, Retry-After."""
    assert [stall(bounded, stalled) for _ in range(POOL)] == [200] * POOL

    response = raw_request(bounded.base, PATH)

    assert response.status == 503
    assert response.headers["retry-after"].isdigit()
    assert response.headers["cache-control"] == "no-store"


def test_stalled_clients_never_take_more_r2_connections_than_the_pool(
    bounded: Server, relay: Relay, stalled: list[socket.socket]
) -> None:
    """Three times the pool's worth of stalled clients hold at most the pool's connections to R2."""
    statuses = [stall(bounded, stalled) for _ in range(3 * POOL)]

    # Those that outlast the send timeout free their slots for later ones: no exact split.
    assert set(statuses) == {200, 503}
    assert relay.peak <= POOL


def test_a_stalled_stream_is_aborted_after_the_send_timeout(
    bounded: Server, relay: Relay, stalled: list[socket.socket]
) -> None:
    """A client that takes nothing for send_timeout loses its stream: the R2 connection
    closes while the client is still connected, and its slot serves the next request."""
    assert [stall(bounded, stalled) for _ in range(POOL)] == [200] * POOL
    assert relay.open == POOL

    # The relay would drop a connection nobody reads from after 10 s; this is well before.
    assert _wait_for(lambda: relay.open == 0, seconds=SEND_TIMEOUT + 5)
    response = httpx.get(bounded.url(PATH), timeout=30)

    assert response.status_code == 200
    assert response.content == LARGE
