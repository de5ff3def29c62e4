"""The one place botocore's errors become r2store's."""

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
    UpstreamError,
    UpstreamTimeoutError,
)
from r2store.errors import map_error


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
        ("NoSuchBucket", 404, ObjectNotFoundError),
        ("AccessDenied", 403, AccessDeniedError),
        ("SignatureDoesNotMatch", 403, AccessDeniedError),
        ("InvalidAccessKeyId", 401, AccessDeniedError),
        ("PreconditionFailed", 412, PreconditionFailedError),
        ("304", 304, NotModifiedError),
        ("InvalidRange", 416, RangeNotSatisfiableError),
        ("InternalError", 500, UpstreamError),
        ("SlowDown", 503, UpstreamError),
        ("TooManyRequests", 429, UpstreamError),
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
    store.client.close()


def test_error_chains_the_cause(store: R2Store) -> None:
    """A mapped error keeps botocore's exception as its __cause__."""
    with pytest.raises(ObjectNotFoundError) as info:
        store.stat("missing")
    cause: Any = info.value.__cause__
    assert type(cause).__name__ == "ClientError"


def test_import_loads_no_boto3_and_no_framework() -> None:
    """import r2store imports neither boto3, botocore nor any web framework."""
    code = (
        "import sys, r2store\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('boto3', 'botocore', 's3transfer', 'django', 'starlette', 'flask', 'dotenv')]\n"
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
