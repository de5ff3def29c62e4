"""The read path's own client, against a scripted S3 stand-in on loopback.

moto answers correctly and at once; the stand-in here answers what each test scripts --
errors with and without bodies, a 500 before a success, a body cut short, a stall, odd
listings -- and records what it was sent, so the tests can check both sides of the wire.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from unittest import mock
from urllib.parse import parse_qsl, quote_plus, urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import pytest
import urllib3
from botocore.config import Config

from r2store import (
    AccessDeniedError,
    NotModifiedError,
    ObjectNotFoundError,
    PreconditionFailedError,
    R2Config,
    R2Store,
    R2StoreError,
    RangeNotSatisfiableError,
    UpstreamError,
    UpstreamTimeoutError,
    _budget,
    _retries,
    _s3xml,
)
from r2store._presign import EMPTY_SHA256

from .conftest import ACCESS_KEY_ID, SECRET_ACCESS_KEY

BUCKET = "bucket"
_ETAG = '"0123456789abcdef0123456789abcdef"'
_LAST_MODIFIED = "Tue, 03 Nov 2026 10:00:00 GMT"


@dataclass
class Answer:
    """What the stand-in sends for one request."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    #: Send only this many bytes of *body* (announcing all of them), then hang up.
    cut_after: int | None = None
    #: Wait this long before the status line; or, with *cut_after*, before the rest.
    stall: float = 0.0


@dataclass
class Received:
    """One request as the stand-in read it: the raw target, lower-case headers and body."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes = b""

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.target).query, keep_blank_values=True))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeS3

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timeout test) is expected: stay quiet."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""

    def setup(self) -> None:
        super().setup()
        with self.server.fake.lock:
            self.server.fake.connections += 1

    def do_GET(self) -> None:
        self._answer()

    def do_HEAD(self) -> None:
        self._answer()

    def do_PUT(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_DELETE(self) -> None:
        self._answer()

    def _answer(self) -> None:
        fake = self.server.fake
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        received = Received(
            self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
        )
        with fake.lock:
            fake.received.append(received)
        answer = fake.respond(received)
        if answer.stall and answer.cut_after is None:
            time.sleep(answer.stall)
        self.send_response(answer.status)
        headers = {"Content-Length": str(len(answer.body)), **answer.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        if answer.cut_after is None:
            self.wfile.write(answer.body)
            return
        self.wfile.write(answer.body[: answer.cut_after])
        self.wfile.flush()
        time.sleep(answer.stall)
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class FakeS3:
    """A loopback HTTP server that answers from a script and records every request."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.connections = 0
        self.lock = threading.Lock()
        self.script: deque[Answer] = deque()
        self.default: Callable[[Received], Answer] | None = None
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(self, *answers: Answer) -> None:
        """Send these answers, in order, to the next requests."""
        self.script.extend(answers)

    def respond(self, received: Received) -> Answer:
        with self.lock:
            if self.script:
                return self.script.popleft()
        if self.default is not None:
            return self.default(received)
        return Answer(404, error_xml("NoSuchKey"), {"Content-Type": "application/xml"})

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def error_xml(code: str, **fields: str) -> bytes:
    """An S3 error document, as S3 and R2 send it."""
    extra = "".join(f"<{name}>{value}</{name}>" for name, value in fields.items())
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        f"<Message>Something about {code}.</Message>{extra}<RequestId>r</RequestId></Error>"
    ).encode()


def object_answer(body: bytes, **headers: str) -> Answer:
    """A GetObject answer for *body*."""
    return Answer(
        200,
        body,
        {
            "ETag": _ETAG,
            "Last-Modified": _LAST_MODIFIED,
            "Content-Type": "application/octet-stream",
            **headers,
        },
    )


@pytest.fixture
def fake() -> Iterator[FakeS3]:
    """The scripted S3 stand-in."""
    server = FakeS3()
    yield server
    server.close()


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Retries without waiting; the list collects each retry's attempt number."""
    attempts: list[int] = []

    def backoff(attempt: int) -> float:
        attempts.append(attempt)
        return 0.0

    monkeypatch.setattr(_retries, "_backoff", backoff)
    return attempts


@pytest.fixture
def make_store(fake: FakeS3) -> Iterator[Callable[..., R2Store]]:
    """``make_store(**config)``: stores on the stand-in, closed after the test."""
    made: list[R2Store] = []

    def make(**overrides: Any) -> R2Store:
        settings: dict[str, Any] = {
            "endpoint_url": fake.endpoint,
            "bucket": BUCKET,
            "access_key_id": ACCESS_KEY_ID,
            "secret_access_key": SECRET_ACCESS_KEY,
        }
        config = R2Config(**{**settings, **overrides})
        store = R2Store(config)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


@pytest.fixture
def store(make_store: Callable[..., R2Store]) -> R2Store:
    """A store on the stand-in, with default settings."""
    return make_store()


def botocore_authorization(received: Received, endpoint: str) -> str:
    """botocore's Authorization header for the request as received, at its own X-Amz-Date."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    authorization = received.headers["authorization"]
    signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    own = ("host", "x-amz-date", "x-amz-content-sha256")
    headers = {k: v for k, v in received.headers.items() if k in signed and k not in own}
    request = AWSRequest(method=received.method, url=endpoint + received.target, headers=headers)
    when = datetime.datetime.strptime(received.headers["x-amz-date"], "%Y%m%dT%H%M%SZ")
    auth = S3SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), "s3", "auto")
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        auth.add_auth(request)
    result: str = request.headers["Authorization"]
    return result


# -- what goes on the wire ----------------------------------------------------------


def test_requests_are_signed_as_botocore_signs_them(fake: FakeS3, store: R2Store) -> None:
    """GetObject (with Range), HeadObject and ListObjectsV2 carry botocore's own signature."""
    fake.answer(
        object_answer(b"abc", **{"Content-Range": "bytes 0-2/10"}),
        object_answer(b""),
        Answer(200, listing([("a b/ü&<.txt", 1)])),
    )
    with store.open("a b/ü&<.txt", range="bytes=0-2") as reader:
        assert reader.read() == b"abc"
    store.stat("a b/ü&<.txt")
    list(store.list("a b/"))
    get, head, lister = fake.received
    assert get.path == f"/{BUCKET}/a%20b/%C3%BC%26%3C.txt"
    assert get.headers["range"] == "bytes=0-2"
    assert head.method == "HEAD"
    assert lister.query == {
        "list-type": "2",
        "encoding-type": "url",
        "max-keys": "1000",
        "prefix": "a b/",
    }
    for received in fake.received:
        assert received.headers["x-amz-content-sha256"] == EMPTY_SHA256
        assert received.headers["host"] == fake.endpoint.split("//")[1]
        assert received.headers["authorization"] == botocore_authorization(received, fake.endpoint)
    assert "range" in get.headers["authorization"].split("SignedHeaders=")[1]


def test_conditions_are_sent_as_http_headers(fake: FakeS3, store: R2Store) -> None:
    """If-Match, If-None-Match and the dates go out as headers; dates as IMF-fixdate in GMT."""
    fake.answer(object_answer(b"x"))
    cest = datetime.timezone(datetime.timedelta(hours=2))
    with store.open(
        "k",
        if_match='"a"',
        if_none_match='"b"',
        if_modified_since=datetime.datetime(2026, 11, 3, 12, 0, 0, tzinfo=cest),
        if_unmodified_since=datetime.datetime(2026, 11, 4, 10, 0, 0),
    ) as reader:
        reader.read()
    headers = fake.received[0].headers
    assert headers["if-match"] == '"a"'
    assert headers["if-none-match"] == '"b"'
    assert headers["if-modified-since"] == "Tue, 03 Nov 2026 10:00:00 GMT"
    assert headers["if-unmodified-since"] == "Wed, 04 Nov 2026 10:00:00 GMT"
    assert fake.received[0].headers["authorization"] == botocore_authorization(
        fake.received[0], fake.endpoint
    )


def test_the_body_comes_as_stored(fake: FakeS3, store: R2Store) -> None:
    """A gzip-encoded object is read as its stored bytes, never decompressed on the way."""
    stored = b"\x1f\x8b\x08\x00not really gzip"
    fake.answer(object_answer(stored, **{"Content-Encoding": "gzip"}))
    with store.open("page.html.gz") as reader:
        assert reader.stat.content_encoding == "gzip"
        assert reader.read() == stored


def test_the_stat_comes_from_the_headers(fake: FakeS3, store: R2Store) -> None:
    """HeadObject's headers become an ObjectStat: size, ETag, date, types and metadata."""
    fake.answer(
        Answer(
            200,
            b"",
            {
                "Content-Length": "1234",
                "ETag": _ETAG,
                "Last-Modified": _LAST_MODIFIED,
                "Content-Type": "image/png",
                "Cache-Control": "max-age=60",
                "Content-Disposition": "inline",
                "X-Amz-Meta-Owner": "42",
            },
        )
    )
    stat = store.stat("p.png")
    assert (stat.key, stat.size, stat.etag) == ("p.png", 1234, _ETAG)
    assert stat.last_modified == datetime.datetime(2026, 11, 3, 10, tzinfo=datetime.timezone.utc)
    assert (stat.content_type, stat.cache_control, stat.content_disposition) == (
        "image/png",
        "max-age=60",
        "inline",
    )
    assert stat.metadata == {"owner": "42"}


# -- errors -------------------------------------------------------------------------


def test_404_no_such_key(fake: FakeS3, store: R2Store) -> None:
    """A NoSuchKey answer is ObjectNotFoundError, for a GET and for a HEAD without a body."""
    fake.answer(Answer(404, error_xml("NoSuchKey")), Answer(404))
    with pytest.raises(ObjectNotFoundError, match=r"'gone\.txt'"):
        store.read("gone.txt")
    assert not store.exists("gone.txt")
    cause: Any = None
    try:
        store.stat("gone.txt")
    except ObjectNotFoundError as error:
        cause = error.__cause__
    assert cause.response["Error"]["Code"] == "404"


def test_403_access_denied(fake: FakeS3, store: R2Store) -> None:
    """An AccessDenied answer is AccessDeniedError, a PermissionError."""
    fake.answer(Answer(403, error_xml("AccessDenied")))
    with pytest.raises(AccessDeniedError) as info:
        store.read("private.txt")
    assert isinstance(info.value, PermissionError)


def test_412_precondition_failed(fake: FakeS3, store: R2Store) -> None:
    """A failed If-Match is PreconditionFailedError."""
    fake.answer(Answer(412, error_xml("PreconditionFailed", Condition="If-Match")))
    with pytest.raises(PreconditionFailedError):
        store.open("k", if_match='"other"')


def test_304_without_a_body(fake: FakeS3, store: R2Store) -> None:
    """A 304 (no body) is NotModifiedError with the validators and Cache-Control sent."""
    fake.answer(
        Answer(
            304,
            b"",
            {
                "Content-Length": "0",
                "ETag": _ETAG,
                "Last-Modified": _LAST_MODIFIED,
                "Cache-Control": "max-age=5",
            },
        )
    )
    with pytest.raises(NotModifiedError) as info:
        store.open("k", if_none_match=_ETAG)
    assert info.value.etag == _ETAG
    assert info.value.cache_control == "max-age=5"
    assert info.value.last_modified == datetime.datetime(
        2026, 11, 3, 10, tzinfo=datetime.timezone.utc
    )


def test_416_carries_the_actual_size(fake: FakeS3, store: R2Store) -> None:
    """An InvalidRange answer is RangeNotSatisfiableError with S3's ActualObjectSize."""
    fake.answer(
        Answer(416, error_xml("InvalidRange", RangeRequested="bytes=99-", ActualObjectSize="10"))
    )
    with pytest.raises(RangeNotSatisfiableError) as info:
        store.open("k", range="bytes=99-")
    assert info.value.size == 10


def test_a_500_is_retried_then_succeeds(
    fake: FakeS3, store: R2Store, no_backoff: list[int]
) -> None:
    """A 500 then a 200 reads the object; the hook saw both attempts."""
    sent: list[str] = []
    store.request_hooks.append(lambda method, url: sent.append(method))
    fake.answer(Answer(500, error_xml("InternalError")), object_answer(b"second time"))
    assert store.read("k") == b"second time"
    assert sent == ["GET", "GET"]
    assert no_backoff == [1]
    # Signed again for the retry, as botocore does.
    assert all(
        r.headers["authorization"] == botocore_authorization(r, fake.endpoint)
        for r in fake.received
    )


@pytest.mark.parametrize(
    "answer",
    [
        Answer(503, error_xml("SlowDown")),
        Answer(502),
        Answer(504),
        Answer(429),
        Answer(400, error_xml("RequestTimeout")),
    ],
    ids=["503-slowdown", "502", "504", "429", "400-request-timeout"],
)
def test_transient_answers_are_retried(
    fake: FakeS3, store: R2Store, no_backoff: list[int], answer: Answer
) -> None:
    """Throttling and transient answers are retried like botocore's standard mode does."""
    fake.answer(answer, object_answer(b"ok"))
    assert store.read("k") == b"ok"
    assert len(fake.received) == 2


def test_retries_stop_after_the_configured_attempts(
    fake: FakeS3, make_store: Callable[..., R2Store], no_backoff: list[int]
) -> None:
    """Five attempts by default (botocore's max_attempts=4), or what client_config says."""
    fake.default = lambda _: Answer(503, error_xml("ServiceUnavailable"))
    with pytest.raises(UpstreamError, match="ServiceUnavailable 503"):
        make_store().read("k")
    assert len(fake.received) == 5
    assert no_backoff == [1, 2, 3, 4]
    fake.received.clear()
    limited = make_store(client_config=Config(retries={"total_max_attempts": 2}))
    with pytest.raises(UpstreamError):
        limited.stat("k")
    assert len(fake.received) == 2


def test_client_errors_are_not_retried(fake: FakeS3, store: R2Store, no_backoff: list[int]) -> None:
    """A 404 is an answer, not a failure: one request."""
    with pytest.raises(ObjectNotFoundError):
        store.read("k")
    assert len(fake.received) == 1
    assert no_backoff == []


def test_backoff_is_jittered_exponential_and_capped() -> None:
    """The n-th retry waits random() * min(2 ** (n - 1), 20) seconds, as botocore's does."""
    with mock.patch("random.random", return_value=0.5):
        assert [_retries._backoff(n) for n in (1, 2, 3, 5, 6, 9)] == [
            0.5,
            1.0,
            2.0,
            8.0,
            10.0,
            10.0,
        ]


def test_a_short_body_mid_stream_is_an_upstream_error(
    fake: FakeS3, store: R2Store, no_backoff: list[int]
) -> None:
    """A body cut short of its Content-Length raises UpstreamError, and is not retried."""
    fake.answer(Answer(200, b"x" * 100_000, {"ETag": _ETAG}, cut_after=10_000))
    received = 0
    with store.open("k") as reader, pytest.raises(UpstreamError) as info:  # noqa: PT012
        while chunk := reader.read(5_000):
            received += len(chunk)
    assert received == 10_000
    assert type(info.value.__cause__).__name__ == "ProtocolError"
    assert len(fake.received) == 1


def test_a_short_body_read_whole_is_an_upstream_error(fake: FakeS3, store: R2Store) -> None:
    """read() of the whole body also notices it came up short."""
    fake.answer(Answer(200, b"y" * 50_000, cut_after=1_000))
    with pytest.raises(UpstreamError):
        store.read("k")


def test_no_answer_is_an_upstream_timeout(
    fake: FakeS3, make_store: Callable[..., R2Store], no_backoff: list[int]
) -> None:
    """No status line within read_timeout is UpstreamTimeoutError, retried like botocore."""
    fake.default = lambda _: Answer(200, b"late", stall=0.6)
    store = make_store(read_timeout=0.2, client_config=Config(retries={"max_attempts": 1}))
    with pytest.raises(UpstreamTimeoutError) as info:
        store.read("k")
    assert isinstance(info.value, TimeoutError)
    assert type(info.value.__cause__).__name__ == "ReadTimeoutError"
    assert len(fake.received) == 2


def test_a_stall_mid_body_is_an_upstream_timeout(
    fake: FakeS3, make_store: Callable[..., R2Store]
) -> None:
    """A body that stops arriving for longer than read_timeout raises UpstreamTimeoutError."""
    fake.answer(Answer(200, b"z" * 100_000, cut_after=1_000, stall=0.6))
    store = make_store(read_timeout=0.2)
    with store.open("k") as reader, pytest.raises(UpstreamTimeoutError):
        reader.read()


def test_a_body_under_a_deadline_waits_by_the_read_timeout(
    fake: FakeS3, make_store: Callable[..., R2Store]
) -> None:
    """The proxy's deadline bounds the wait for the headers, not the pauses of the body after."""
    fake.answer(Answer(200, b"z" * 100_000, cut_after=1_000, stall=0.6))
    store = make_store(read_timeout=5.0)
    with _budget.limited(attempts=1, seconds=0.3, max_backoff=0.0):
        reader = store.open("k")
    # Cut off after its pause of 0.6 s: a break, where a 0.3 s timeout would have fired.
    with reader, pytest.raises(UpstreamError) as info:
        reader.read()
    assert type(info.value) is UpstreamError


def test_a_closed_port_is_an_upstream_error(
    make_store: Callable[..., R2Store], no_backoff: list[int]
) -> None:
    """Nothing listening is UpstreamError after the retries, never a urllib3 exception."""
    from .conftest import free_port

    store = make_store(endpoint_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(UpstreamError) as info:
        store.stat("k")
    assert type(info.value) is UpstreamError
    assert type(info.value.__cause__).__module__.startswith("urllib3")
    assert no_backoff == [1, 2, 3, 4]


# -- connections --------------------------------------------------------------------


def test_a_read_body_gives_its_connection_back(fake: FakeS3, store: R2Store) -> None:
    """Bodies read to the end leave the connection in the pool: three reads, one connection."""
    fake.default = lambda _: object_answer(b"reuse me")
    for _ in range(3):
        assert store.read("k") == b"reuse me"
    assert fake.connections == 1


def test_closing_early_drops_the_connection(fake: FakeS3, store: R2Store) -> None:
    """Closing a reader with bytes unread drops its connection; the pool keeps working."""
    fake.default = lambda _: object_answer(b"q" * 1_000_000)
    for _ in range(3):
        with store.open("k") as reader:
            assert reader.read(10) == b"q" * 10
    assert fake.connections == 3


def test_early_closes_give_pool_slots_back(
    fake: FakeS3, make_store: Callable[..., R2Store], caplog: pytest.LogCaptureFixture
) -> None:
    """A pool of one serves many early closes and then a full read, with no pool warning."""
    fake.default = lambda _: object_answer(b"q" * 1_000_000)
    store = make_store(max_pool_connections=1)
    with caplog.at_level(logging.WARNING, logger="urllib3"):
        for _ in range(5):
            with store.open("k") as reader:
                reader.read(1)
        assert len(store.read("k")) == 1_000_000
    pool = store.transport._http.connection_from_url(store.config.endpoint)
    assert pool.pool is not None
    assert pool.pool.qsize() == 1
    assert "Connection pool is full" not in caplog.text


def test_seek_reopens_with_a_range_and_if_match(fake: FakeS3, store: R2Store) -> None:
    """A backwards seek sends one ranged GET pinned to the first answer's ETag."""
    data = bytes(range(256)) * 2048
    rest = object_answer(data[1:], **{"Content-Range": f"bytes 1-{len(data) - 1}/{len(data)}"})
    rest.status = 206
    fake.answer(object_answer(data), rest)
    with store.open("k") as reader:
        reader.read(300_000)
        reader.seek(1)
        assert reader.read(3) == data[1:4]
    assert fake.received[1].headers["range"] == "bytes=1-"
    assert fake.received[1].headers["if-match"] == _ETAG


def test_seek_refuses_a_whole_object_for_a_range(fake: FakeS3, store: R2Store) -> None:
    """A server that ignores the seek's Range (200, from byte 0) fails the seek, never splices."""
    data = bytes(range(256)) * 2048
    fake.answer(object_answer(data), object_answer(data))
    with store.open("k") as reader:
        reader.read(300_000)
        with pytest.raises(UpstreamError, match="ignored the Range"):
            reader.seek(1)


# -- listing ------------------------------------------------------------------------

_ODD_KEYS = [
    "a b/c d.txt",
    "plus+sign.txt",
    "ampersand&lt.txt",
    "less<than>.txt",
    "ünïcødé/日本/😀.png",
    "percent%20.txt",
    "control\x01char.txt",
]


S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"


def listing(
    items: list[tuple[str, int]],
    *,
    prefixes: tuple[str, ...] = (),
    token: str | None = None,
    encoded: bool = True,
    namespace: str = S3_NAMESPACE,
) -> bytes:
    """A ListObjectsV2 answer in XML *namespace* (none if empty); with *encoded*, keys
    encoded as S3 does (a space as '+')."""

    def enc(text: str) -> str:
        return escape(quote_plus(text, safe="/") if encoded else text)

    contents = "".join(
        f"<Contents><Key>{enc(key)}</Key><LastModified>2026-11-03T10:00:00.000Z</LastModified>"
        f"<ETag>&quot;e{size}&quot;</ETag><Size>{size}</Size>"
        "<StorageClass>STANDARD</StorageClass></Contents>"
        for key, size in items
    )
    common = "".join(
        f"<CommonPrefixes><Prefix>{enc(p)}</Prefix></CommonPrefixes>" for p in prefixes
    )
    more = f"<NextContinuationToken>{escape(token)}</NextContinuationToken>" if token else ""
    xmlns = f' xmlns="{namespace}"' if namespace else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult{xmlns}><Name>{BUCKET}</Name>'
        f"<KeyCount>{len(items)}</KeyCount><MaxKeys>1000</MaxKeys>"
        f"<IsTruncated>{'true' if token else 'false'}</IsTruncated>{contents}{common}{more}"
        f"{'<EncodingType>url</EncodingType>' if encoded else ''}</ListBucketResult>"
    ).encode()


def test_listing_decodes_odd_keys(fake: FakeS3, store: R2Store) -> None:
    """Keys asked for with encoding-type=url come back decoded: spaces, '+', '&', '<', unicode."""
    fake.answer(Answer(200, listing([(key, n) for n, key in enumerate(_ODD_KEYS)])))
    listed = list(store.list())
    assert [stat.key for stat in listed] == _ODD_KEYS
    assert listed[1].size == 1
    assert listed[1].etag == '"e1"'
    assert listed[1].last_modified == datetime.datetime(
        2026, 11, 3, 10, tzinfo=datetime.timezone.utc
    )
    assert fake.received[0].query["encoding-type"] == "url"


@pytest.mark.parametrize("namespace", [S3_NAMESPACE, ""])
def test_listing_takes_keys_as_they_are_when_not_encoded(
    fake: FakeS3, store: R2Store, namespace: str
) -> None:
    """A server that ignores encoding-type sends keys plainly; they are not decoded again."""
    keys = ["a b.txt", "plus+sign.txt", "pct%41.txt", "amp&.txt"]
    fake.answer(Answer(200, listing([(k, 1) for k in keys], encoded=False, namespace=namespace)))
    assert [stat.key for stat in store.list()] == keys


@pytest.mark.parametrize(
    "namespace",
    ["", "http://doc.s3.amazonaws.com/2006-03-01", "urn:example:other"],
    ids=["none", "s3rver", "other"],
)
def test_a_listing_in_any_namespace_is_read(fake: FakeS3, store: R2Store, namespace: str) -> None:
    """A listing without S3's XML namespace, or in another one, lists its keys (moto
    always answers in S3's, so the stand-in serves these)."""
    fake.answer(Answer(200, listing([("a b.txt", 1), ("c.txt", 2)], namespace=namespace)))
    assert [(stat.key, stat.size) for stat in store.list()] == [("a b.txt", 1), ("c.txt", 2)]


@pytest.mark.parametrize(
    "body",
    [
        b"<html><body>Sign in to the Wi-Fi</body></html>",
        b'<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>',
    ],
    ids=["html", "other-result"],
)
def test_a_listing_of_another_kind_is_an_upstream_error(
    fake: FakeS3, store: R2Store, body: bytes
) -> None:
    """A 200 whose XML is not a ListBucketResult is UpstreamError, not an empty listing."""
    fake.answer(Answer(200, body))
    with pytest.raises(UpstreamError, match="listing"):
        list(store.list())


def test_listing_follows_continuation_tokens(fake: FakeS3, store: R2Store) -> None:
    """Truncated pages are followed with their token until the last page, in order."""
    token = "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="
    fake.answer(
        Answer(200, listing([("p/1", 1), ("p/2", 2)], token=token)),
        Answer(200, listing([("p/3", 3)], token="second&token")),
        Answer(200, listing([("p/4", 4)])),
    )
    assert [stat.key for stat in store.list("p/", page_size=2)] == ["p/1", "p/2", "p/3", "p/4"]
    tokens = [r.query.get("continuation-token") for r in fake.received]
    assert tokens == [None, token, "second&token"]
    assert {r.query["max-keys"] for r in fake.received} == {"2"}
    assert all(
        r.headers["authorization"] == botocore_authorization(r, fake.endpoint)
        for r in fake.received
    )


def test_listdir_reads_common_prefixes_across_pages(fake: FakeS3, store: R2Store) -> None:
    """listdir asks with delimiter=/ and splits prefixes from files, over every page."""
    fake.answer(
        Answer(200, listing([("d/top file.txt", 1)], prefixes=("d/sub dir/",), token="t")),
        Answer(200, listing([], prefixes=("d/ü&</",))),
    )
    assert store.listdir("d") == (["sub dir", "ü&<"], ["top file.txt"])
    assert fake.received[0].query["delimiter"] == "/"
    assert fake.received[0].query["prefix"] == "d/"


def test_a_truncated_page_without_a_token_is_an_error(fake: FakeS3, store: R2Store) -> None:
    """IsTruncated with no continuation token fails rather than listing from the start again."""
    body = listing([("a", 1)], token="x").replace(
        b"<NextContinuationToken>x</NextContinuationToken>", b""
    )
    fake.answer(Answer(200, body))
    with pytest.raises(R2StoreError, match="without a continuation token"):
        list(store.list())


@pytest.mark.parametrize(
    "body",
    [b"<ListBucketResult><Contents>", b"not xml", listing([("a", 1)]).replace(b">1<", b">x<")],
    ids=["cut-short", "not-xml", "bad-size"],
)
def test_a_garbled_listing_is_an_upstream_error(fake: FakeS3, store: R2Store, body: bytes) -> None:
    """A 200 whose listing cannot be read is UpstreamError, not a parser's exception."""
    fake.answer(Answer(200, body))
    with pytest.raises(UpstreamError, match="listing"):
        list(store.list())


def test_an_unreadable_listing_keeps_the_parsers_error_as_cause(
    fake: FakeS3, store: R2Store
) -> None:
    """The UpstreamError for an unreadable listing has the parser's error as __cause__,
    not itself."""
    fake.answer(Answer(200, b"not xml"))
    with pytest.raises(UpstreamError) as info:
        list(store.list())
    assert isinstance(info.value.__cause__, ElementTree.ParseError)


def test_a_refused_seek_is_not_its_own_cause(fake: FakeS3, store: R2Store) -> None:
    """The UpstreamError of a seek whose Range was ignored is never its own __cause__."""
    data = bytes(range(256)) * 2048
    fake.answer(object_answer(data), object_answer(data))
    with store.open("k") as reader, pytest.raises(UpstreamError) as info:
        reader.seek(300_000)
    assert info.value.__cause__ is not info.value


def test_a_listing_error_maps(fake: FakeS3, store: R2Store) -> None:
    """A listing of a bucket that does not exist is ObjectNotFoundError, as before."""
    fake.answer(Answer(404, error_xml("NoSuchBucket")))
    with pytest.raises(ObjectNotFoundError, match="bucket does not exist"):
        list(store.list())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-03T10:00:00.000Z", datetime.datetime(2026, 11, 3, 10)),
        ("2026-11-03T10:00:00Z", datetime.datetime(2026, 11, 3, 10)),
        ("2026-11-03T10:00:00.5Z", datetime.datetime(2026, 11, 3, 10, 0, 0, 500_000)),
        ("2026-11-03T12:00:00+02:00", datetime.datetime(2026, 11, 3, 10)),
        ("2026-11-03T10:00:00.123456789Z", datetime.datetime(2026, 11, 3, 10)),
        ("yesterday", None),
        ("", None),
    ],
)
def test_listing_timestamps(text: str, expected: datetime.datetime | None) -> None:
    """LastModified parses to an aware UTC datetime, whatever fraction it carries."""
    parsed = _s3xml._parse_timestamp(text)
    if expected is None:
        assert parsed is None
    else:
        assert parsed is not None
        assert parsed.replace(microsecond=0) == expected.replace(
            tzinfo=datetime.timezone.utc, microsecond=0
        )
        assert parsed.tzinfo is not None


# -- settings -----------------------------------------------------------------------


def test_client_config_settings_apply_to_reads(config_for_settings: R2Config) -> None:
    """Timeouts, pool size and retries set in client_config apply to the read path too."""
    transport = R2Store(config_for_settings).transport
    try:
        pool = transport._http.connection_from_url(config_for_settings.endpoint)
        assert pool.timeout.connect_timeout == 1.5
        assert pool.timeout.read_timeout == 7
        assert pool.pool is not None
        assert pool.pool.maxsize == 3
        assert transport._max_attempts == 3
    finally:
        transport.close()


@pytest.fixture
def config_for_settings(fake: FakeS3) -> R2Config:
    """A configuration whose client_config sets the read path's settings."""
    return R2Config(
        endpoint_url=fake.endpoint,
        bucket=BUCKET,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
        connect_timeout=1.5,
        client_config=Config(
            read_timeout=7, max_pool_connections=3, retries={"mode": "standard", "max_attempts": 2}
        ),
    )


def test_the_environments_proxy_is_used(
    fake: FakeS3, make_store: Callable[..., R2Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY carries the requests, as botocore's would be; NO_PROXY bypasses it."""
    monkeypatch.setenv("HTTP_PROXY", fake.endpoint)
    fake.answer(object_answer(b"via proxy"))
    store = make_store(endpoint_url="http://r2.invalid:9000")
    assert store.read("k") == b"via proxy"
    assert fake.received[0].target == f"http://r2.invalid:9000/{BUCKET}/k"
    assert fake.received[0].headers["host"] == "r2.invalid:9000"
    monkeypatch.setenv("NO_PROXY", "r2.invalid")
    bypassing = make_store(endpoint_url="http://r2.invalid:9000")
    assert isinstance(store.transport._http, urllib3.ProxyManager)
    assert not isinstance(bypassing.transport._http, urllib3.ProxyManager)


def test_https_verifies_certificates(make_store: Callable[..., R2Store]) -> None:
    """An https endpoint gets a TLS context that checks the certificate and the host name."""
    import ssl

    store = make_store(endpoint_url="https://0123456789abcdef.r2.cloudflarestorage.com")
    pool = store.transport._http.connection_from_url(store.config.endpoint)
    context: ssl.SSLContext = pool.conn_kw["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


def test_client_config_proxies_carry_reads(
    fake: FakeS3, make_store: Callable[..., R2Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    """client_config's proxies (as django-storages' AWS_S3_PROXIES map to) carry reads too."""
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    fake.answer(object_answer(b"via configured proxy"))
    store = make_store(
        endpoint_url="http://r2.invalid:9000",
        client_config=Config(proxies={"http": fake.endpoint}),
    )
    assert store.read("k") == b"via configured proxy"
    assert fake.received[0].target == f"http://r2.invalid:9000/{BUCKET}/k"
