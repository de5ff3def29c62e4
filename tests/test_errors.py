"""The one place botocore's and urllib3's errors, and S3's error answers, become r2store's."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ParamValidationError

from r2store import (
    AccessDeniedError,
    NotModifiedError,
    ObjectExistsError,
    ObjectNotFoundError,
    PreconditionFailedError,
    R2Config,
    R2Store,
    R2StoreError,
    RangeNotSatisfiableError,
    UpstreamBusyError,
    UpstreamError,
    UpstreamTimeoutError,
)
from r2store.errors import BucketNotFoundError, map_error


def client_error(code: str, status: int) -> ClientError:
    """A ClientError shaped as botocore builds it from an S3 error response."""
    return ClientError(
        {"Error": {"Code": code, "Message": "..."}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "GetObject",
    )


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("NoSuchKey", 404, ObjectNotFoundError),
        ("404", 404, ObjectNotFoundError),
        ("NoSuchBucket", 404, BucketNotFoundError),
        ("NoSuchUpload", 404, UpstreamError),
        ("AccessDenied", 403, AccessDeniedError),
        ("SignatureDoesNotMatch", 403, AccessDeniedError),
        ("InvalidAccessKeyId", 401, AccessDeniedError),
        ("PreconditionFailed", 412, PreconditionFailedError),
        ("304", 304, NotModifiedError),
        ("InvalidRange", 416, RangeNotSatisfiableError),
        ("InternalError", 500, UpstreamError),
        ("SlowDown", 503, UpstreamBusyError),
        ("TooManyRequests", 429, UpstreamBusyError),
    ],
)
def test_client_errors_map_by_code_and_status(code: str, status: int, expected: type) -> None:
    """Each S3 error code maps to the matching R2StoreError subclass."""
    mapped = map_error(client_error(code, status), key="k")
    assert type(mapped) is expected
    assert "'k'" in str(mapped)


@pytest.mark.parametrize(
    ("code", "status"), [("PreconditionFailed", 412), ("ConditionalRequestConflict", 409)]
)
def test_failed_create_means_the_object_exists(code: str, status: int) -> None:
    """For an If-None-Match: * write, 412 and R2's 409 conflict both mean 'already exists'."""
    assert type(map_error(client_error(code, status), creating=True)) is ObjectExistsError


def test_builtin_bases() -> None:
    """Each error is also the builtin a caller would catch."""
    assert issubclass(ObjectNotFoundError, FileNotFoundError)
    assert issubclass(ObjectExistsError, FileExistsError)
    assert issubclass(AccessDeniedError, PermissionError)
    assert issubclass(UpstreamTimeoutError, TimeoutError)
    assert issubclass(UpstreamError, OSError)
    assert all(
        issubclass(e, R2StoreError)
        for e in (ObjectNotFoundError, AccessDeniedError, UpstreamTimeoutError)
    )


def test_transport_errors_become_upstream_errors() -> None:
    """botocore's connection errors map to UpstreamError."""
    error = EndpointConnectionError(endpoint_url="https://x.r2.cloudflarestorage.com")
    assert type(map_error(error)) is UpstreamError


def test_parameter_errors_become_r2store_errors() -> None:
    """A request botocore refuses to send is still an R2StoreError, never a botocore one."""
    assert type(map_error(ParamValidationError(report="bad"))) is R2StoreError


def test_unrelated_errors_pass_through() -> None:
    """Errors that are not the client's (a caller's own OSError, say) are left alone."""
    error = KeyError("x")
    assert map_error(error) is error


@pytest.fixture
def silent_server() -> Iterator[str]:
    """An HTTP endpoint on loopback that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    sock.close()


def test_a_stalled_server_is_an_upstream_timeout(config: R2Config, silent_server: str) -> None:
    """A server that never answers gives UpstreamTimeoutError after read_timeout."""
    from botocore.config import Config

    store = R2Store(
        attrs.evolve(
            config,
            endpoint_url=silent_server,
            read_timeout=0.3,
            client_config=Config(retries={"mode": "standard", "max_attempts": 1}),
        )
    )
    with pytest.raises(UpstreamTimeoutError) as info:
        store.read("a.txt")
    assert isinstance(info.value, TimeoutError)
    store.close()


def test_a_read_error_chains_the_s3_answer(store: R2Store) -> None:
    """A mapped read error keeps the transport's S3ResponseError, with its status, as __cause__."""
    from r2store._transport import S3ResponseError

    with pytest.raises(ObjectNotFoundError) as info:
        store.stat("missing")
    cause = info.value.__cause__
    assert isinstance(cause, S3ResponseError)
    assert cause.status == 404


def test_a_save_error_chains_the_transports_exception(store: R2Store) -> None:
    """A refused save keeps the transport's S3ResponseError (412) as its __cause__."""
    store.save("taken.txt", b"x")
    with pytest.raises(ObjectExistsError) as info:
        store.save("taken.txt", b"y")
    cause: Any = info.value.__cause__
    assert type(cause).__name__ == "S3ResponseError"
    assert cause.status == 412


def test_a_botocore_write_error_chains_botocores_exception(store: R2Store) -> None:
    """A mapped error of a write botocore sends (a copy) keeps its ClientError as __cause__."""
    with pytest.raises(ObjectNotFoundError) as info:
        store.copy("missing.txt", "copy.txt")
    from botocore.exceptions import ClientError

    assert isinstance(info.value.__cause__, ClientError)


def s3_error(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Exception:
    """The transport's exception for an S3 error answer."""
    from r2store._transport import S3ResponseError

    return S3ResponseError("GetObject", status, headers or {}, body, "Reason")


def error_xml(code: str, **fields: str) -> bytes:
    """An S3 error document."""
    extra = "".join(f"<{name}>{value}</{name}>" for name, value in fields.items())
    return f"<Error><Code>{code}</Code><Message>m</Message>{extra}</Error>".encode()


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (404, error_xml("NoSuchKey"), ObjectNotFoundError),
        (404, b"", ObjectNotFoundError),
        (404, error_xml("NoSuchBucket"), BucketNotFoundError),
        (403, error_xml("AccessDenied"), AccessDeniedError),
        (403, b"", AccessDeniedError),
        (412, error_xml("PreconditionFailed"), PreconditionFailedError),
        (304, b"", NotModifiedError),
        (416, error_xml("InvalidRange"), RangeNotSatisfiableError),
        (500, error_xml("InternalError"), UpstreamError),
        (503, b"<html>not xml", UpstreamBusyError),
        (429, b"", UpstreamBusyError),
    ],
)
def test_s3_answers_map_like_client_errors(status: int, body: bytes, expected: type) -> None:
    """The transport's error answers map to the same errors as botocore's ClientError."""
    assert type(map_error(s3_error(status, body), key="k")) is expected


def test_s3_answer_fields_are_kept() -> None:
    """Code, message and the XML's other fields land where botocore puts them."""
    error: Any = s3_error(416, error_xml("InvalidRange", ActualObjectSize="100"), {"ETag": '"e"'})
    assert error.response["Error"] == {
        "Code": "InvalidRange",
        "Message": "m",
        "ActualObjectSize": "100",
    }
    assert error.response["ResponseMetadata"] == {
        "HTTPStatusCode": 416,
        "HTTPHeaders": {"etag": '"e"'},
    }
    mapped = map_error(error)
    assert isinstance(mapped, RangeNotSatisfiableError)
    assert mapped.size == 100


def test_a_304_keeps_its_validators() -> None:
    """A bodiless 304 maps to NotModifiedError carrying the ETag, date and Cache-Control sent."""
    sent = {
        "ETag": '"abc"',
        "Last-Modified": "Tue, 03 Nov 2026 10:00:00 GMT",
        "Cache-Control": "max-age=9",
    }
    error = s3_error(304, b"", sent)
    mapped = map_error(error)
    assert isinstance(mapped, NotModifiedError)
    assert mapped.etag == '"abc"'
    assert mapped.cache_control == "max-age=9"
    assert mapped.last_modified is not None
    assert mapped.last_modified.isoformat() == "2026-11-03T10:00:00+00:00"


def test_urllib3_errors_map_by_kind() -> None:
    """urllib3's timeouts map to UpstreamTimeoutError, its other failures to UpstreamError."""
    from urllib3.exceptions import (
        ConnectTimeoutError,
        NewConnectionError,
        ProtocolError,
        ReadTimeoutError,
        SSLError,
    )

    # urllib3 names the pool or connection an error came from; none is needed here.
    no_pool: Any = None
    read_timeout = ReadTimeoutError(no_pool, "/b/k", "Read timed out.")
    assert type(map_error(read_timeout)) is UpstreamTimeoutError
    assert type(map_error(ConnectTimeoutError("slow"))) is UpstreamTimeoutError
    assert type(map_error(NewConnectionError(no_pool, "refused"))) is UpstreamError
    broken = ProtocolError("Connection broken: IncompleteRead(10 bytes read, 90 more expected)")
    assert type(map_error(broken)) is UpstreamError
    assert type(map_error(SSLError("bad certificate"))) is UpstreamError


def test_import_loads_no_boto3_and_no_framework() -> None:
    """import r2store imports neither boto3, botocore, urllib3 nor any web framework."""
    code = (
        "import sys, r2store\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('boto3', 'botocore', 's3transfer', 'urllib3', 'django', 'starlette', 'flask', "
        "'dotenv')]\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_range_errors_carry_the_size_s3_reports() -> None:
    """A 416 keeps S3's ActualObjectSize, so no HEAD is needed to answer it."""
    error = ClientError(
        {
            "Error": {"Code": "InvalidRange", "ActualObjectSize": "100"},
            "ResponseMetadata": {"HTTPStatusCode": 416},
        },
        "GetObject",
    )
    mapped = map_error(error)
    assert isinstance(mapped, RangeNotSatisfiableError)
    assert mapped.size == 100
    assert map_error(client_error("InvalidRange", 416)).size is None  # type: ignore[attr-defined]


@pytest.mark.parametrize("reported", ["\u00b2", "1\u0661", "-1", "1e3"])
def test_a_size_not_in_ascii_digits_is_no_size(reported: str) -> None:
    """A 416 whose ActualObjectSize is not ASCII digits (such as "\u00b2", which
    str.isdigit() takes and int() refuses) maps to a size of None, not a ValueError."""
    error = ClientError(
        {
            "Error": {"Code": "InvalidRange", "ActualObjectSize": reported},
            "ResponseMetadata": {"HTTPStatusCode": 416},
        },
        "GetObject",
    )
    mapped = map_error(error)
    assert isinstance(mapped, RangeNotSatisfiableError)
    assert mapped.size is None
