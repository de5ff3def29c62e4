"""The proxy under gunicorn and uvicorn with the fault relay (``tests/faults.py``) between it
and moto: real S3 answers, spoiled on the way.

``test_failures.py`` covers an unreachable, a never-answering and a fake truncating upstream;
here the faults hit real responses, persist through the store's retries, or pass after a
retry, and break real bodies mid-way.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ACCESS_KEY_ID, SECRET_ACCESS_KEY, free_port
from tests.faults import ALWAYS, Relay
from tests.integrations.conftest import Bucket, Server, serve
from tests.integrations.helpers import BIG, raw_request

#: The servers' read timeout: a stall costs a second per attempt, not a minute.
READ_TIMEOUT = 1.0
#: Longer than the proxy's read timeout; the relay ends it when it closes.
STALL = 10.0
#: The proxy's budget per request: one try and one retry (the library's calls make 5).
ATTEMPTS = 2
#: The proxy's deadline for R2's answer, retries included: shorter than two read timeouts.
DEADLINE = 1.5
#: Concurrent requests for a throttled key in the starvation test.
THROTTLED = 64
# What an error body may never show.
_TELLTALES = (
    "Traceback",
    'File "',
    "botocore",
    "urllib3",
    "SlowDown",
    "InternalError",
    "127.0.0.1",
    ACCESS_KEY_ID,
    SECRET_ACCESS_KEY,
)

# Starts the server as `python -m <server>` would, with the read path's retries waiting for
# nothing: a persistent fault would otherwise cost up to 1 + 2 + 4 + 8 s of jittered backoff
# per request. Only the wait's length changes; the retries themselves still happen (and
# the relay counts them). gunicorn's worker is forked from this process, so it inherits it.
_BOOT = """
import runpy, sys
import r2store._retries
r2store._retries._backoff = lambda attempt: 0.0
sys.argv = sys.argv[1:]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


@pytest.fixture(scope="module")
def proxy_relay(s3_endpoint: str) -> Iterator[Relay]:
    """The relay between the servers below and moto."""
    with Relay(s3_endpoint) as relay:
        yield relay


def _argv(kind: str, port: int) -> list[str]:
    if kind == "wsgi":
        return [
            "-c", _BOOT, "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
            "--threads", "8", "--graceful-timeout", "3", "tests.integrations.apps.wsgi_app:app",
        ]  # fmt: skip
    return [
        "-c", _BOOT, "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
        "--timeout-graceful-shutdown", "3", "tests.integrations.apps.asgi_app:app",
    ]  # fmt: skip


@pytest.fixture(scope="module", params=["wsgi", "asgi"])
def relayed(
    request: pytest.FixtureRequest,
    server_env: dict[str, str],
    proxy_relay: Relay,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    """gunicorn, then uvicorn, serving the test apps with the main store's endpoint on the relay."""
    kind: str = request.param
    env = {
        **server_env,
        "R2_ENDPOINT_URL": proxy_relay.endpoint,
        "R2_READ_TIMEOUT": str(READ_TIMEOUT),
        "R2_PROXY_TIMEOUT": str(DEADLINE),
    }
    port = free_port()
    tmp: Path = tmp_path_factory.mktemp(f"relayed-{kind}")
    yield from serve(kind, _argv(kind, port), port, env, tmp)


@pytest.fixture
def relay(proxy_relay: Relay, relayed: Server) -> Iterator[Relay]:
    """The relay, with no fault queued and nothing seen, for one test."""
    proxy_relay.forget()
    yield proxy_relay
    proxy_relay.forget()


def _assert_tells_nothing(body: bytes, bucket: Bucket, relay: Relay, s3: str) -> None:
    """*body* is a short line with no traceback, bucket, endpoint, credential or S3 code."""
    text = body.decode("utf-8", "replace")
    assert len(body) < 40
    for telltale in (*_TELLTALES, bucket.name, relay.endpoint.split("//")[1], s3.split("//")[1]):
        assert telltale not in text


def test_a_persistent_upstream_error_answers_502(
    relayed: Server, relay: Relay, seeded_bucket: Bucket, s3_endpoint: str
) -> None:
    """An error answer on every attempt gets 502 with a short plain body that tells nothing."""
    relay.fail(500, "InternalError", method="GET", path="/hello.txt", times=ALWAYS)

    response = raw_request(relayed.base, "/media-proxy/hello.txt")

    assert response.status == 502
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    _assert_tells_nothing(response.body, seeded_bucket, relay, s3_endpoint)
    assert relay.count("GET", "/hello.txt") == ATTEMPTS


@pytest.mark.parametrize("status", [503, 429])
def test_a_throttled_key_answers_503_with_retry_after_within_the_budget(
    relayed: Server, relay: Relay, seeded_bucket: Bucket, s3_endpoint: str, status: int
) -> None:
    """R2 throttling on every attempt gets 503 with Retry-After after the proxy's two attempts."""
    relay.fail(status, "SlowDown", method="GET", path="/hello.txt", times=ALWAYS)

    response = raw_request(relayed.base, "/media-proxy/hello.txt")

    assert response.status == 503
    assert response.headers["retry-after"].isdigit()
    _assert_tells_nothing(response.body, seeded_bucket, relay, s3_endpoint)
    assert relay.count("GET", "/hello.txt") == ATTEMPTS


def test_a_throttled_key_does_not_starve_other_requests(relayed: Server, relay: Relay) -> None:
    """64 requests for a throttled key make at most two attempts each, and a request for
    another key sent among them is served."""
    relay.fail(503, "SlowDown", method="GET", path="/hello.txt", times=ALWAYS)

    async def fetch_all() -> tuple[list[int], httpx.Response]:
        limits = httpx.Limits(max_connections=THROTTLED + 1)
        async with httpx.AsyncClient(base_url=relayed.base, limits=limits, timeout=60) as client:
            throttled = [client.get("/media-proxy/hello.txt") for _ in range(THROTTLED)]
            *answers, other = await asyncio.gather(*throttled, client.get("/media-proxy/big.bin"))
        return [answer.status_code for answer in answers], other

    statuses, other = asyncio.run(fetch_all())

    assert statuses == [503] * THROTTLED
    assert relay.count("GET", "/hello.txt") <= ATTEMPTS * THROTTLED
    assert other.status_code == 200
    assert other.content == BIG


def test_a_persistent_upstream_error_on_head_answers_502(relayed: Server, relay: Relay) -> None:
    """A HEAD whose HeadObject fails every attempt gets 502."""
    relay.fail(500, "InternalError", method="HEAD", path="/hello.txt", times=ALWAYS)

    response = raw_request(relayed.base, "/media-proxy/hello.txt", method="HEAD")

    assert response.status == 502
    assert relay.count("HEAD", "/hello.txt") == ATTEMPTS


def test_a_reset_on_every_attempt_answers_502(
    relayed: Server, relay: Relay, seeded_bucket: Bucket, s3_endpoint: str
) -> None:
    """A connection reset before any answer, on every attempt, gets 502."""
    relay.reset(method="GET", path="/hello.txt", times=ALWAYS)

    response = raw_request(relayed.base, "/media-proxy/hello.txt")

    assert response.status == 502
    _assert_tells_nothing(response.body, seeded_bucket, relay, s3_endpoint)
    assert relay.count("GET", "/hello.txt") == ATTEMPTS


@pytest.mark.parametrize("fault", ["503", "reset", "reset-mid-head"])
def test_a_transient_upstream_fault_is_retried_through_the_proxy(
    relayed: Server, relay: Relay, fault: str
) -> None:
    """A fault on the first attempt is retried once: the client gets the object."""
    if fault == "503":
        relay.fail(503, method="GET", path="/big.bin")
    elif fault == "reset":
        relay.reset(method="GET", path="/big.bin")
    else:
        relay.reset(after=12, method="GET", path="/big.bin")

    response = httpx.get(relayed.url("/media-proxy/big.bin"), timeout=10)

    assert response.status_code == 200
    assert response.content == BIG
    assert relay.count("GET", "/big.bin") == 2


def test_a_stall_before_headers_answers_504_by_the_deadline(relayed: Server, relay: Relay) -> None:
    """An upstream that never answers gets 504 once the proxy's deadline has passed, though
    its attempts' read timeouts add up to more."""
    relay.stall(STALL, method="GET", path="/hello.txt", times=ALWAYS)

    started = time.monotonic()
    response = raw_request(relayed.base, "/media-proxy/hello.txt")
    elapsed = time.monotonic() - started

    assert response.status == 504
    assert response.body == b"Gateway Timeout\n"
    assert relay.count("GET", "/hello.txt") == ATTEMPTS
    # The bound is the behaviour under test: generous, but below 5 attempts x 1 s.
    assert elapsed < DEADLINE + 2.0


def _received(response: httpx.Response) -> int:
    """Bytes of the body received before the transfer ended (normally or not)."""
    received = 0
    try:
        for chunk in response.iter_raw():
            received += len(chunk)
    except (httpx.RemoteProtocolError, httpx.ReadError):
        pass
    return received


@pytest.mark.parametrize("fault", ["reset", "stall"])
def test_a_fault_mid_body_truncates_the_transfer(relayed: Server, relay: Relay, fault: str) -> None:
    """An upstream body that breaks off or stalls mid-way reaches the client as a cut
    transfer: fewer bytes than Content-Length, never a complete-looking 200."""
    if fault == "reset":
        relay.reset(after=len(BIG) // 3, method="GET", path="/big.bin")
    else:
        relay.stall(STALL, after=len(BIG) // 3, method="GET", path="/big.bin")

    with (
        httpx.Client(timeout=10) as client,
        client.stream("GET", relayed.url("/media-proxy/big.bin")) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-length"] == str(len(BIG))
        received = _received(response)

    assert received < len(BIG)
    assert relay.count("GET", "/big.bin") == 1
