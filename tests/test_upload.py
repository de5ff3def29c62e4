"""The write path: PutObject and UploadPart over the store's own transport.

The wire is checked against the scripted stand-in of ``tests/test_transport.py`` (which
records what it was sent and answers what a test scripts); what is stored, against moto.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import pytest

from r2store import ObjectExistsError, R2Config, R2Store, R2StoreError, UpstreamError, _budget
from r2store.objects import write_headers

from . import test_transport
from .conftest import RequestLog
from .test_transport import BUCKET, Answer, FakeS3, Received, error_xml

# The stand-in's fixtures, used here by name.
fake = test_transport.fake
make_store = test_transport.make_store
store = test_transport.store
no_backoff = test_transport.no_backoff
MiB = 1024 * 1024
DATA = b"\x00the object's bytes\n" * 512  # 10 KiB


def ok(etag: str = '"0123456789abcdef0123456789abcdef"') -> Answer:
    """A PutObject's or UploadPart's answer."""
    return Answer(200, b"", {"ETag": etag})


def botocore_sent(store: R2Store, received: Received, operation: str, **params: Any) -> Any:
    """The request r2store's botocore client would send for *operation* at the moment
    *received* was signed (captured before it goes out)."""
    captured: list[Any] = []

    class CapturedError(Exception):
        pass

    def stop(request: Any, **_: Any) -> None:
        captured.append(request)
        raise CapturedError

    when = datetime.datetime.strptime(received.headers["x-amz-date"], "%Y%m%dT%H%M%SZ")
    client = store.client
    client.meta.events.register_first("before-send.s3", stop)
    try:
        with (
            mock.patch("botocore.auth.get_current_datetime", return_value=when),
            pytest.raises(CapturedError),
        ):
            getattr(client, operation)(Bucket=BUCKET, **params)
    finally:
        client.meta.events.unregister("before-send.s3", stop)
    return captured[0]


def header(request: Any, name: str) -> str:
    value = request.headers[name]
    return value.decode() if isinstance(value, bytes) else str(value)


# -- what goes on the wire ------------------------------------------------------------


def test_a_save_is_signed_as_botocore_signs_it(fake: FakeS3, store: R2Store) -> None:
    """A save's PutObject carries the headers, payload hash and signature r2store's botocore
    client would send for the same request, byte for byte."""
    fake.answer(ok())
    options: dict[str, Any] = {
        "content_type": "text/plain; charset=utf-8",
        "metadata": {"Owner": "42", "note": "two  spaces"},
        "cache_control": "public, max-age=60",
        "content_disposition": 'attachment; filename="a b.txt"',
        "content_encoding": "gzip",
    }
    store.save("a b/ü.txt", DATA, **options)

    (put,) = fake.received
    params = write_headers(
        "a b/ü.txt",
        content_type=options["content_type"],
        metadata=options["metadata"],
        cache_control=options["cache_control"],
        content_disposition=options["content_disposition"],
        content_encoding=options["content_encoding"],
    )
    theirs = botocore_sent(
        store, put, "put_object", Key="a b/ü.txt", Body=DATA, IfNoneMatch="*", **params
    )
    assert put.method == "PUT"
    assert put.target == urlsplit(theirs.url).path
    assert put.body == DATA
    assert put.headers["x-amz-content-sha256"] == hashlib.sha256(DATA).hexdigest()
    assert put.headers["authorization"] == header(theirs, "Authorization")
    signed = header(theirs, "Authorization").split("SignedHeaders=")[1].split(",")[0]
    assert signed.split(";") == [
        "cache-control",
        "content-disposition",
        "content-encoding",
        "content-type",
        "host",
        "if-none-match",
        "x-amz-content-sha256",
        "x-amz-date",
        "x-amz-meta-note",
        "x-amz-meta-owner",
    ]
    # botocore's request gets its Host from urllib3, after signing (the signature covers it).
    for name in [n for n in signed.split(";") if n != "host"]:
        assert put.headers[name] == header(theirs, name), name


def test_an_upload_part_is_signed_as_botocore_signs_it(
    fake: FakeS3, make_store: Callable[..., R2Store]
) -> None:
    """An UploadPart carries the signature botocore's would, with the part's own hash."""
    store = make_store()
    fake.answer(ok())
    etag = store.transport.upload_part("big.bin", "up/id+=", 7, DATA)

    (part,) = fake.received
    theirs = botocore_sent(
        store, part, "upload_part", Key="big.bin", UploadId="up/id+=", PartNumber=7, Body=DATA
    )
    assert etag == '"0123456789abcdef0123456789abcdef"'
    assert part.query == {"partNumber": "7", "uploadId": "up/id+="}
    assert part.body == DATA
    assert part.headers["authorization"] == header(theirs, "Authorization")


def test_a_file_is_sent_from_where_it_stands(fake: FakeS3, store: R2Store) -> None:
    """A file is hashed and sent from its position, with its length, never chunked."""
    fake.answer(ok())
    file = io.BytesIO(b"skip|" + DATA)
    file.seek(5)
    store.save("f.bin", file)

    (put,) = fake.received
    assert put.body == DATA
    assert put.headers["content-length"] == str(len(DATA))
    assert "transfer-encoding" not in put.headers
    assert put.headers["x-amz-content-sha256"] == hashlib.sha256(DATA).hexdigest()


def test_a_stream_shorter_than_its_size_sends_nothing(fake: FakeS3, store: R2Store) -> None:
    """A stream that ends before the size it was given raises, before anything is sent."""
    with pytest.raises(R2StoreError, match="2 bytes short"):
        store.transport.put_object("k", io.BytesIO(b"abc"), {}, size=5)
    assert fake.received == []


def test_no_acl_header_is_sent(fake: FakeS3, store: R2Store) -> None:
    """Uploads never carry an ACL (R2 rejects or ignores them)."""
    fake.answer(ok())
    store.save("acl.txt", b"x")
    (put,) = fake.received
    assert not [h for h in put.headers if h.startswith(("x-amz-acl", "x-amz-grant"))]


def test_headers_and_metadata_round_trip(config: R2Config) -> None:
    """What a save sends as headers, a stat of the object (on moto) reads back."""
    with R2Store(config) as on_moto:
        on_moto.save(
            "docs/report.csv.gz",
            DATA,
            content_type="text/csv",
            metadata={"Owner": "42", "source": "upload form"},
            cache_control="private, max-age=600",
            content_disposition='attachment; filename="report.csv.gz"',
            content_encoding="gzip",
        )
        stat = on_moto.stat("docs/report.csv.gz")
        assert on_moto.read("docs/report.csv.gz") == DATA
    assert stat.size == len(DATA)
    assert stat.etag == f'"{hashlib.md5(DATA, usedforsecurity=False).hexdigest()}"'
    assert stat.content_type == "text/csv"
    assert stat.metadata == {"owner": "42", "source": "upload form"}
    assert stat.cache_control == "private, max-age=600"
    assert stat.content_disposition == 'attachment; filename="report.csv.gz"'
    assert stat.content_encoding == "gzip"


_SAVING_SCRIPT = """
import io, sys
from r2store import R2Store

store = R2Store.from_env()
store.save("small/a.txt", b"bytes", metadata={"owner": "42"})
store.save("small/b.txt", io.BytesIO(b"a file"), overwrite=True)
with store.open_write("small/c.txt") as writer:
    writer.write(b"written")
assert store.read("small/c.txt") == b"written"
store.close()
print(sorted({m.split(".")[0] for m in sys.modules} & {"boto3", "botocore", "s3transfer"}))
"""


def test_a_process_saving_small_objects_never_imports_botocore(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Saves below the multipart threshold need neither boto3 nor botocore."""
    out = subprocess.run(
        [sys.executable, "-c", _SAVING_SCRIPT],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        timeout=60,
    ).stdout
    assert out.strip() == "[]"


# -- answers --------------------------------------------------------------------------------


def test_a_refused_create_is_object_exists(fake: FakeS3, store: R2Store) -> None:
    """A create's 412 raises ObjectExistsError after one request, If-None-Match signed."""
    fake.answer(Answer(412, error_xml("PreconditionFailed")))
    with pytest.raises(ObjectExistsError):
        store.save("taken.txt", DATA)
    (put,) = fake.received
    assert put.headers["if-none-match"] == "*"
    assert "if-none-match" in put.headers["authorization"].split("SignedHeaders=")[1]


def test_an_overwrite_is_unconditional(fake: FakeS3, store: R2Store) -> None:
    """overwrite=True sends no If-None-Match."""
    fake.answer(ok())
    store.save("over.txt", DATA, overwrite=True)
    assert "if-none-match" not in fake.received[0].headers


def test_a_retried_put_is_logged_per_attempt(
    fake: FakeS3, store: R2Store, no_backoff: list[int]
) -> None:
    """RequestLog counts each attempt of a PutObject sent by the transport."""
    log = RequestLog(store)
    fake.answer(Answer(500, error_xml("InternalError")), ok())
    store.save("again.txt", DATA)
    assert log.operations == ["PutObject", "PutObject"]
    assert [p["Headers"]["if-none-match"] for p in log.params] == ["*"]
    assert [r.body for r in fake.received] == [DATA, DATA]


def test_a_write_inside_the_proxys_budget_keeps_its_retries(
    fake: FakeS3, store: R2Store, no_backoff: list[int]
) -> None:
    """The media proxy's budget limits reads only: a save made inside it tries five times."""
    fake.default = lambda _: Answer(503, error_xml("ServiceUnavailable"))
    with (
        _budget.limited(attempts=1, seconds=30, max_backoff=0.1),
        pytest.raises(UpstreamError),
    ):
        store.save("k", DATA)
    assert len(fake.received) == 5


# -- the multipart window -------------------------------------------------------------------


class Uploads:
    """The stand-in's answers for a multipart upload, holding part 1 back until the last
    part arrives (or *hold* seconds pass), and counting the parts it is handling at once."""

    def __init__(self, parts: int, hold: float) -> None:
        self.parts = parts
        self.hold = hold
        self.in_flight = 0
        self.most_in_flight = 0
        self.last_arrived = threading.Event()
        self.released_by_last = False
        self._lock = threading.Lock()

    def __call__(self, received: Received) -> Answer:
        query = received.query
        if received.method == "HEAD":
            return Answer(404)
        if received.method == "POST" and "uploads" in query:
            return Answer(200, _xml("InitiateMultipartUploadResult", "<UploadId>u1</UploadId>"))
        if received.method == "POST":
            return Answer(200, _xml("CompleteMultipartUploadResult", '<ETag>"e-3"</ETag>'))
        if received.method == "DELETE":
            return Answer(204)
        number = int(query["partNumber"])
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if number == 1:
                self.released_by_last = self.last_arrived.wait(self.hold)
            elif number == self.parts:
                self.last_arrived.set()
            else:
                time.sleep(0.1)  # long enough for the parts sent together to overlap here
        finally:
            with self._lock:
                self.in_flight -= 1
        digest = hashlib.md5(received.body, usedforsecurity=False).hexdigest()
        return Answer(200, b"", {"ETag": f'"{digest}"'})


def _xml(root: str, inner: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<{root} xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"<Bucket>{BUCKET}</Bucket><Key>big.bin</Key>{inner}</{root}>"
    ).encode()


def test_the_multipart_window_stays_full(fake: FakeS3, make_store: Callable[..., R2Store]) -> None:
    """While one part is held up, the others keep going, max_concurrency at a time: the
    last part goes up before the first is answered, and never more are in flight."""
    store = make_store(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=3)
    uploads = Uploads(parts=6, hold=5.0)
    fake.default = uploads
    store.save("big.bin", bytes(6 * 5 * MiB))

    assert uploads.released_by_last
    assert uploads.most_in_flight == 3
    parts = [r for r in fake.received if r.method == "PUT"]
    assert sorted(int(r.query["partNumber"]) for r in parts) == [1, 2, 3, 4, 5, 6]


def test_the_multipart_window_is_at_most_the_pool(
    fake: FakeS3, make_store: Callable[..., R2Store]
) -> None:
    """With fewer pooled connections than max_concurrency, the pool sets how many parts go
    up at once, so no part waits for a connection while the others go up (a wait that
    times out at read_timeout, on a slow link a whole upload's failure)."""
    store = make_store(
        multipart_threshold=5 * MiB,
        multipart_chunksize=5 * MiB,
        max_concurrency=6,
        max_pool_connections=1,
        read_timeout=1.0,
    )
    # Part 1 takes 0.8 s, the others 0.1 s: one at a time, none waits a second for the
    # connection; six at once, the sixth would wait 1.2 s.
    uploads = Uploads(parts=6, hold=0.8)
    fake.default = uploads
    store.save("big.bin", bytes(6 * 5 * MiB))

    assert uploads.most_in_flight == 1
