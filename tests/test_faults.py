"""Faults between the store and S3: error answers, resets and stalls, from the relay in
``tests/faults.py`` in front of moto.

Transient faults (fewer than the retry budget) must be retried, and the call succeed;
persistent ones must end in an :class:`R2StoreError` subclass, never a botocore, urllib3
or http.client exception; an interrupted upload must leave no object, no incomplete
multipart upload and no local temporary file behind.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import botocore.exceptions
import botocore.retries.standard
import pytest
import urllib3.exceptions
from botocore.config import Config

from r2store import (
    ObjectExistsError,
    R2Store,
    R2StoreError,
    UpstreamBusyError,
    UpstreamError,
    UpstreamTimeoutError,
    _retries,
    _transport,
)
from r2store.cli import main
from r2store.store import _MAX_RETRIES

from . import faults
from .faults import (
    ALWAYS,
    READ_TIMEOUT,
    Fault,
    Relay,
    direct_client,
)

# The relay's fixtures, used here by name.
relay = faults.relay
relay_bucket = faults.relay_bucket
relay_store = faults.relay_store

MiB = 1024 * 1024
#: Every call's attempts: the first and ``_MAX_RETRIES`` retries, on both paths.
ATTEMPTS = _MAX_RETRIES + 1
KEY = "faults/object.bin"
DATA = b"the object's bytes\n" * 64
#: Far longer than any wait of the client's (botocore waits up to 1 s for "100 Continue"
#: before it sends a body, then the read timeout): a stalled request always times out. The
#: stall costs nothing beyond that: the relay ends it when it closes.
STALL = 10.0
#: Exception types that must never be what a public call raises (they may be __cause__).
FOREIGN = (
    botocore.exceptions.BotoCoreError,
    botocore.exceptions.ClientError,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    _transport.S3ResponseError,
)

#: ``queue(relay, method, path, times)``: a fault, by name.
Queue = Callable[[Relay, str, str, int], Fault]
FAULTS: dict[str, Queue] = {
    "500": lambda r, m, p, n: r.fail(500, "InternalError", method=m, path=p, times=n),
    "503": lambda r, m, p, n: r.fail(503, "SlowDown", method=m, path=p, times=n),
    "429": lambda r, m, p, n: r.fail(429, "SlowDown", method=m, path=p, times=n),
    "reset": lambda r, m, p, n: r.reset(method=m, path=p, times=n),
    # Forwarded, answered, then cut inside the status line: the request did happen.
    "reset-mid-head": lambda r, m, p, n: r.reset(after=12, method=m, path=p, times=n),
    "stall": lambda r, m, p, n: r.stall(STALL, method=m, path=p, times=n),
}
#: What a persistent fault of each kind ends in.
RAISES: dict[str, type[R2StoreError]] = {
    "500": UpstreamError,
    "503": UpstreamBusyError,
    "429": UpstreamBusyError,
    "reset": UpstreamError,
    "reset-mid-head": UpstreamError,
    "stall": UpstreamTimeoutError,
}


@attrs.define
class Backoffs:
    """The backoff each retry asked for, by attempt number: the store's own transport's
    (reads, PutObject, UploadPart), and botocore's (the other writes)."""

    transport: list[int] = attrs.Factory(list)
    botocore: list[int] = attrs.Factory(list)


@pytest.fixture(autouse=True)
def backoffs(monkeypatch: pytest.MonkeyPatch) -> Backoffs:
    """Retries that wait for nothing, recording each backoff they asked for.

    The real waits are jittered exponential backoff, up to 1 + 2 + 4 + 8 s for a call that
    fails every attempt: this file would take minutes. Only the length of each wait is
    replaced; whether, when and how often each client retries is left as it is.
    """
    recorded = Backoffs()

    def transport_backoff(attempt: int) -> float:
        recorded.transport.append(attempt)
        return 0.0

    def botocore_backoff(self: Any, context: Any) -> float:
        recorded.botocore.append(context.attempt_number)
        return 0.0

    monkeypatch.setattr(_retries, "_backoff", transport_backoff)
    monkeypatch.setattr(
        botocore.retries.standard.ExponentialBackoff, "delay_amount", botocore_backoff
    )
    return recorded


@pytest.fixture(scope="module")
def direct(s3_endpoint: str) -> Iterator[Any]:
    """A boto3 client on moto itself, around the relay: what is really stored."""
    client = direct_client(s3_endpoint)
    yield client
    client.close()


@pytest.fixture(scope="module")
def bucket(relay_bucket: str) -> str:
    """The relay's bucket, for the fixtures of conftest that build on ``bucket``."""
    return relay_bucket


@pytest.fixture(autouse=True)
def fresh(relay: Relay, direct: Any, bucket: str) -> None:
    """Each test starts with no fault queued, nothing seen, and an empty bucket."""
    relay.forget()
    for upload in direct.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        direct.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    listed = direct.list_objects_v2(Bucket=bucket).get("Contents", [])
    if listed:
        objects = [{"Key": item["Key"]} for item in listed]
        direct.delete_objects(Bucket=bucket, Delete={"Objects": objects})


@pytest.fixture
def faulty(relay_store: R2Store, direct: Any, bucket: str) -> R2Store:
    """The store behind the relay, with DATA stored under KEY (put there around the relay)."""
    direct.put_object(Bucket=bucket, Key=KEY, Body=DATA)
    return relay_store


@pytest.fixture
def store_with(relay_store: R2Store) -> Iterator[Callable[..., R2Store]]:
    """``store_with(**changes)``: more stores behind the relay, closed after the test."""
    made: list[R2Store] = []

    def make(**changes: Any) -> R2Store:
        made.append(R2Store(attrs.evolve(relay_store.config, **changes)))
        return made[-1]

    yield make
    for each in made:
        each.close()


#: A read timeout for the tests that count attempts but do not stall (see counted_store).
STEADY_READ_TIMEOUT = 5.0
#: Changes for a store that tries once: a persistent stall then costs one timeout, not five.
#: (That timeouts are retried is shown by the transient stall tests.)
ONE_ATTEMPT = {"client_config": Config(retries={"mode": "standard", "total_max_attempts": 1})}


def assert_ours(error: BaseException, expected: type[R2StoreError]) -> None:
    """*error* is exactly *expected*, from r2store's own hierarchy, and nothing foreign."""
    assert type(error) is expected
    assert not isinstance(error, FOREIGN)


def stored(direct: Any, bucket: str, key: str) -> bytes | None:
    """The object's bytes as moto holds them, or None."""
    try:
        body: bytes = direct.get_object(Bucket=bucket, Key=key)["Body"].read()
    except direct.exceptions.NoSuchKey:
        return None
    return body


def in_progress(direct: Any, bucket: str) -> list[Any]:
    """Multipart uploads started and neither completed nor aborted."""
    uploads: list[Any] = direct.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return uploads


# -- reads: GetObject, HeadObject, ListObjectsV2 over the store's own transport ---------------


@attrs.frozen
class Op:
    """A store call, the request it sends (method, and a substring of its target), a
    check of its result, and the client that sends it (``transport`` or ``botocore``)."""

    call: Callable[[R2Store], Any]
    method: str
    path: str
    check: Callable[[Any], bool] = lambda result: True
    client: str = "transport"


READS = {
    "read": Op(lambda s: s.read(KEY), "GET", KEY, lambda data: data == DATA),
    "stat": Op(lambda s: s.stat(KEY), "HEAD", KEY, lambda stat: stat.size == len(DATA)),
    "exists": Op(lambda s: s.exists(KEY), "HEAD", KEY, lambda found: found is True),
    "list": Op(lambda s: [o.key for o in s.list()], "GET", "list-type=2", lambda ks: ks == [KEY]),
}


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("name", list(READS))
def test_a_transient_read_fault_is_retried(
    faulty: R2Store,
    relay: Relay,
    backoffs: Backoffs,
    store_with: Callable[..., R2Store],
    name: str,
    fault: str,
) -> None:
    """A read that fails fewer times than the retry budget succeeds, after backoffs."""
    op = READS[name]
    times = 1 if fault == "stall" else 2
    queued = FAULTS[fault](relay, op.method, op.path, times)

    assert op.check(op.call(counted_store(fault, faulty, store_with)))
    assert queued.fired == times
    assert relay.count(op.method, op.path) == times + 1
    assert backoffs.transport == list(range(1, times + 1))


def counted_store(fault: str, faulty: R2Store, store_with: Callable[..., R2Store]) -> R2Store:
    """The store for a test that counts attempts: the relay's short read timeout is for
    stalls; for any other fault, one long enough that moto answering slowly on a busy
    machine is not a timeout -- retried, it would be one attempt more than the faults."""
    return faulty if fault == "stall" else store_with(read_timeout=STEADY_READ_TIMEOUT)


def fail_every_attempt(
    op: Op, fault: str, relay: Relay, faulty: R2Store, store_with: Callable[..., R2Store]
) -> None:
    """Make every attempt of *op* meet *fault*, call it, and check that it raised the
    matching R2StoreError after all its attempts (a stall: after its one attempt)."""
    store = store_with(**ONE_ATTEMPT) if fault == "stall" else faulty
    FAULTS[fault](relay, op.method, op.path, ALWAYS)

    with pytest.raises(R2StoreError) as raised:
        op.call(store)

    assert_ours(raised.value, RAISES[fault])
    assert relay.count(op.method, op.path) == (1 if fault == "stall" else ATTEMPTS)


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("name", list(READS))
def test_a_persistent_read_fault_raises_an_upstream_error(
    faulty: R2Store,
    relay: Relay,
    store_with: Callable[..., R2Store],
    name: str,
    fault: str,
) -> None:
    """A read that fails every attempt raises UpstreamError (a timeout, UpstreamTimeoutError)."""
    op = READS[name]
    fail_every_attempt(op, fault, relay, faulty, store_with)


BIG = bytes(range(256)) * 1024


@pytest.mark.parametrize(
    ("fault", "expected"),
    [("reset", UpstreamError), ("stall", UpstreamTimeoutError)],
)
def test_a_read_broken_off_mid_body_raises_and_does_not_restart(
    relay_store: R2Store, direct: Any, bucket: str, relay: Relay, fault: str, expected: type
) -> None:
    """A body that breaks off or stalls mid-way raises; the read is not silently started again."""
    direct.put_object(Bucket=bucket, Key=KEY, Body=BIG)
    if fault == "reset":
        relay.reset(after=len(BIG) // 3, method="GET")
    else:
        relay.stall(STALL, after=len(BIG) // 3, method="GET")

    with relay_store.open(KEY) as reader, pytest.raises(R2StoreError) as raised:
        reader.read()

    assert_ours(raised.value, expected)
    assert relay.count("GET") == 1


# -- writes: PutObject over the transport; DeleteObject, DeleteObjects, CopyObject through botocore

COPY = "faults/copy.bin"
WRITES = {
    "save": Op(lambda s: s.save("faults/new.bin", DATA), "PUT", "faults/new.bin"),
    "delete": Op(lambda s: s.delete(KEY), "DELETE", KEY, client="botocore"),
    "delete_many": Op(
        lambda s: s.delete_many([KEY, "faults/other.bin"]), "POST", "?delete", client="botocore"
    ),
    "copy": Op(lambda s: s.copy(KEY, COPY), "PUT", COPY, client="botocore"),
}
#: What each write leaves in the bucket when it succeeded: key -> bytes (None: no object).
WRITTEN: dict[str, dict[str, bytes | None]] = {
    "save": {"faults/new.bin": DATA, KEY: DATA},
    "delete": {KEY: None},
    "delete_many": {KEY: None},
    "copy": {COPY: DATA, KEY: DATA},
}
#: ... and what it leaves when it failed.
UNWRITTEN: dict[str, dict[str, bytes | None]] = {
    "save": {"faults/new.bin": None, KEY: DATA},
    "delete": {KEY: DATA},
    "delete_many": {KEY: DATA},
    "copy": {COPY: None, KEY: DATA},
}


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("name", list(WRITES))
def test_a_transient_write_fault_is_retried(
    faulty: R2Store,
    relay: Relay,
    store_with: Callable[..., R2Store],
    direct: Any,
    bucket: str,
    backoffs: Backoffs,
    name: str,
    fault: str,
) -> None:
    """A write that fails fewer times than the retry budget succeeds, after backoffs."""
    op = WRITES[name]
    times = 1 if fault == "stall" else 2
    queued = FAULTS[fault](relay, op.method, op.path, times)

    op.call(counted_store(fault, faulty, store_with))

    assert queued.fired == times
    assert relay.count(op.method, op.path) == times + 1
    assert getattr(backoffs, op.client) == list(range(1, times + 1))
    assert {key: stored(direct, bucket, key) for key in WRITTEN[name]} == WRITTEN[name]


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("name", list(WRITES))
def test_a_persistent_write_fault_raises_an_upstream_error(
    faulty: R2Store,
    relay: Relay,
    store_with: Callable[..., R2Store],
    direct: Any,
    bucket: str,
    name: str,
    fault: str,
) -> None:
    """A write that fails every attempt raises UpstreamError (a timeout, UpstreamTimeoutError)."""
    op = WRITES[name]
    fail_every_attempt(op, fault, relay, faulty, store_with)
    if fault != "reset-mid-head":  # that one reached the server every time
        assert {key: stored(direct, bucket, key) for key in UNWRITTEN[name]} == UNWRITTEN[name]


# -- uploads interrupted -----------------------------------------------------------------


@pytest.fixture
def upload(tmp_path: Path) -> Path:
    """A local file to upload: 2 MiB, not one repeated byte."""
    path = tmp_path / "upload.bin"
    path.write_bytes(bytes(range(256)) * (8 * 1024))
    return path


def test_an_upload_cut_mid_body_is_sent_again_whole(
    relay_store: R2Store, relay: Relay, direct: Any, bucket: str, upload: Path
) -> None:
    """A PutObject whose body is cut off is retried from the file's start: the object is whole."""
    data = upload.read_bytes()
    relay.cut_upload(len(data) // 2, method="PUT", times=2)

    with upload.open("rb") as file:
        relay_store.save(KEY, file)

    assert stored(direct, bucket, KEY) == data
    assert relay.count("PUT") == 3


def test_an_upload_cut_every_time_stores_nothing(
    relay_store: R2Store, relay: Relay, direct: Any, bucket: str, upload: Path
) -> None:
    """A PutObject cut off at every attempt raises UpstreamError and leaves no object and the
    file as it was."""
    data = upload.read_bytes()
    relay.cut_upload(len(data) // 2, method="PUT", times=ALWAYS)

    with upload.open("rb") as file, pytest.raises(R2StoreError) as raised:
        relay_store.save(KEY, file)

    assert_ours(raised.value, UpstreamError)
    assert relay.count("PUT") == ATTEMPTS
    assert stored(direct, bucket, KEY) is None
    assert upload.read_bytes() == data


def test_a_failed_object_writer_stores_nothing(
    relay_store: R2Store, relay: Relay, direct: Any, bucket: str
) -> None:
    """An open_write() whose PutObject fails every attempt raises on close and stores nothing."""
    relay.fail(503, method="PUT", times=ALWAYS)
    writer = relay_store.open_write(KEY)
    writer.write(DATA)

    with pytest.raises(R2StoreError) as raised:
        writer.close()

    assert_ours(raised.value, UpstreamBusyError)
    assert stored(direct, bucket, KEY) is None


#: 2 parts of 5 MiB and a short last one.
MULTIPART = bytes(range(256)) * (4 * 1024 * 10) + b"tail"
#: Each step of a multipart upload: (method, substring of its target).
STEPS = {
    "create": ("POST", "?uploads"),
    "part": ("PUT", "partNumber=2"),
    "complete": ("POST", "?uploadId="),
}


@pytest.fixture
def multipart(store_with: Callable[..., R2Store], tmp_path: Path) -> tuple[R2Store, Path]:
    """A store that goes multipart above 5 MiB in 5 MiB parts (R2's smallest), and a
    file of MULTIPART to upload."""
    path = tmp_path / "multipart.bin"
    path.write_bytes(MULTIPART)
    # Parts of megabytes take moto longer than the small requests the short timeout is for.
    store = store_with(
        multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, read_timeout=10 * READ_TIMEOUT
    )
    return store, path


@pytest.mark.parametrize("step", list(STEPS))
def test_a_transient_fault_in_a_multipart_upload_is_retried(
    multipart: tuple[R2Store, Path], relay: Relay, direct: Any, bucket: str, step: str
) -> None:
    """A multipart upload with a step that fails twice completes, whole, with nothing left over."""
    store, path = multipart
    method, target = STEPS[step]
    queued = relay.fail(503, method=method, path=target, times=2)

    with path.open("rb") as file:
        store.save(KEY, file)

    assert queued.fired == 2
    assert stored(direct, bucket, KEY) == MULTIPART
    assert in_progress(direct, bucket) == []


@pytest.mark.parametrize("fault", ["503", "reset"])
@pytest.mark.parametrize("step", list(STEPS))
def test_a_multipart_upload_interrupted_at_any_step_leaves_nothing(
    multipart: tuple[R2Store, Path],
    relay: Relay,
    direct: Any,
    bucket: str,
    step: str,
    fault: str,
) -> None:
    """A multipart upload whose step fails every attempt raises UpstreamError, and leaves no
    object, no incomplete upload (it was aborted), and the file as it was."""
    store, path = multipart
    method, target = STEPS[step]
    FAULTS[fault](relay, method, target, ALWAYS)

    with path.open("rb") as file, pytest.raises(R2StoreError) as raised:
        store.save(KEY, file)

    assert_ours(raised.value, RAISES[fault])
    assert relay.count(method, target) == ATTEMPTS
    assert stored(direct, bucket, KEY) is None
    assert in_progress(direct, bucket) == []
    assert relay.count("DELETE", "?uploadId=") == (0 if step == "create" else 1)
    assert path.read_bytes() == MULTIPART


# -- a create whose answer was lost: If-None-Match: * meets its own first attempt ---------------
#
# A create-only write (overwrite=False) is sent with If-None-Match: *. When its first attempt
# reaches the server but the answer is lost, the retry finds the object the first attempt
# stored and gets 412. Reporting ObjectExistsError then would be false: the object is the
# caller's own, whole. When the retry's 412 meets an object with other content, it is a
# real conflict. Either way the object is absent or complete, never partial.


@pytest.mark.parametrize("fault", ["reset", "stall"])
def test_a_create_whose_answer_was_lost_succeeds(
    relay_store: R2Store, relay: Relay, direct: Any, bucket: str, fault: str
) -> None:
    """A create that landed but whose answer was lost succeeds on its retry's 412."""
    if fault == "reset":
        relay.reset(after=0, method="PUT")
    else:
        relay.stall(STALL, after=0, method="PUT")

    assert relay_store.save(KEY, DATA) == KEY

    assert relay.count("PUT") == 2
    assert stored(direct, bucket, KEY) == DATA


def test_a_create_whose_answer_was_lost_still_refuses_another_object(
    faulty: R2Store, relay: Relay, direct: Any, bucket: str
) -> None:
    """A create refused (412) by an object with other content raises ObjectExistsError, even
    when its first answer was lost; the object stays as it was."""
    relay.reset(after=0, method="PUT")

    with pytest.raises(ObjectExistsError):
        faulty.save(KEY, b"other bytes")

    assert stored(direct, bucket, KEY) == DATA


@pytest.mark.parametrize(("status", "code"), [(412, "PreconditionFailed"), (404, "NoSuchUpload")])
def test_a_multipart_create_whose_completion_answer_was_lost_succeeds(
    multipart: tuple[R2Store, Path],
    relay: Relay,
    direct: Any,
    bucket: str,
    status: int,
    code: str,
) -> None:
    """A multipart create whose completion landed, with its answer lost, succeeds when the
    retried completion is refused (412 as the object now exists, or NoSuchUpload)."""
    store, path = multipart
    relay.reset(after=0, method="POST", path="?uploadId=")
    relay.fail(status, code, method="POST", path="?uploadId=")

    with path.open("rb") as file:
        store.save(KEY, file)

    assert stored(direct, bucket, KEY) == MULTIPART
    assert in_progress(direct, bucket) == []


# -- the command line: local files ---------------------------------------------------------


@pytest.fixture
def cli_env(
    env: dict[str, str], relay: Relay, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Path:
    """The ``r2store`` command configured for the relay, in an empty folder (returned)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("R2_ENDPOINT_URL", relay.endpoint)
    monkeypatch.setenv("R2_READ_TIMEOUT", str(READ_TIMEOUT))
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def test_an_interrupted_download_leaves_no_file(
    cli_env: Path,
    relay: Relay,
    direct: Any,
    bucket: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``r2store get`` cut off mid-body fails, leaving neither the file nor its temporary file."""
    direct.put_object(Bucket=bucket, Key=KEY, Body=BIG)
    relay.reset(after=len(BIG) // 2, method="GET")

    code = main(["get", KEY, "object.bin"])

    assert code != 0
    assert "error" in capsys.readouterr().err
    assert list(cli_env.iterdir()) == []


def test_an_interrupted_cli_upload_leaves_the_file_and_no_object(
    cli_env: Path,
    relay: Relay,
    direct: Any,
    bucket: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``r2store put`` whose upload fails every attempt leaves the local file and no object."""
    source = cli_env / "source.bin"
    source.write_bytes(BIG)
    relay.cut_upload(len(BIG) // 2, method="PUT", times=ALWAYS)

    code = main(["put", str(source), KEY])

    assert code != 0
    assert "error" in capsys.readouterr().err
    assert source.read_bytes() == BIG
    assert [p.name for p in cli_env.iterdir()] == ["source.bin"]
    assert stored(direct, bucket, KEY) is None


def test_the_relay_passes_requests_through_untouched(
    relay_store: R2Store, relay: Relay, direct: Any, bucket: str
) -> None:
    """With no fault queued, every call works through the relay, on kept-alive connections."""
    relay_store.save(KEY, DATA)
    relay_store.copy(KEY, COPY)

    assert relay_store.read(COPY) == DATA
    assert [stat.key for stat in relay_store.list("faults/")] == [COPY, KEY]
    relay_store.delete_many([KEY, COPY])
    assert not relay_store.exists(KEY)
    assert all(seen.fault is None for seen in relay.seen)
    assert relay.connections < len(relay.seen)


# -- the pool and the proxy's budget -------------------------------------------------------


def test_reads_beyond_the_pool_wait_for_a_free_connection(
    s3_endpoint: str, relay_store: R2Store, direct: Any, bucket: str
) -> None:
    """A read beyond ``max_pool_connections`` waits for a connection, never opens one more."""
    direct.put_object(Bucket=bucket, Key=KEY, Body=DATA)
    read: list[bytes] = []
    # A relay of its own counts this store's connections only.
    with Relay(s3_endpoint) as own:
        config = attrs.evolve(relay_store.config, endpoint_url=own.endpoint, max_pool_connections=2)
        # Two open readers hold both pooled connections until they are read to the end.
        with R2Store(config) as store, store.open(KEY) as first, store.open(KEY):
            third = threading.Thread(target=lambda: read.append(store.read(KEY)))
            third.start()
            # Read to its end, the first gives its connection back whole, to the third.
            assert first.read() == DATA
            third.join(timeout=10)

    assert read == [DATA]
    assert own.peak == 2


def test_a_read_that_finds_no_free_connection_in_time_raises_busy(
    store_with: Callable[..., R2Store], direct: Any, bucket: str
) -> None:
    """A read that waits read_timeout for a pooled connection in vain raises UpstreamBusyError."""
    direct.put_object(Bucket=bucket, Key=KEY, Body=DATA)
    store = store_with(max_pool_connections=1)
    with store.open(KEY), pytest.raises(R2StoreError) as raised:
        store.read(KEY)

    assert_ours(raised.value, UpstreamBusyError)
