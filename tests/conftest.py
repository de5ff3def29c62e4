"""Shared fixtures: a real S3-compatible server on loopback, moto's server mode by default
or SeaweedFS (which checks signatures) with ``R2STORE_TEST_S3=seaweedfs``.

Every store in the tests talks HTTP to this server; nothing about boto3 is mocked.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, settings

# Real R2 settings are kept aside for the `live` tests only (see test_live.py).
LIVE_ENV = {k: v for k, v in os.environ.items() if k.startswith(("R2_", "USE_R2"))}
LIVE = os.environ.get("R2STORE_LIVE_TEST") == "1"

#: The S3 server the tests run against: "moto" (the default) or "seaweedfs".
S3_KIND = os.environ.get("R2STORE_TEST_S3", "moto")
S3_KINDS = ("moto", "seaweedfs")

# The machine's own AWS settings must not leak into the tests (a profile's
# region or endpoint, say). Set before botocore is imported anywhere.
os.environ["AWS_CONFIG_FILE"] = str(Path(__file__).parent / "no-such-aws-config")
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(Path(__file__).parent / "no-such-aws-credentials")
for _name in [n for n in os.environ if n.startswith(("AWS_", "R2_", "USE_R2"))]:
    if _name not in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        del os.environ[_name]
# moto's server answers every origin's CORS preflight unless this is set when moto is
# imported; R2 answers only what the bucket's CORS rules allow. Strict like R2, so a
# browser test fails on a missing or wrong rule. Processes the tests start (run.py --s3,
# say) inherit it with the environment.
os.environ["MOTO_DISABLE_GLOBAL_CORS"] = "true"

from r2store import R2Config, R2Store  # noqa: E402

if TYPE_CHECKING:
    from playwright.sync_api import Browser

# Shared, noisy machines: no per-example deadlines or speed health checks (a
# slow draw says nothing about correctness). R2STORE_HYPOTHESIS_PROFILE=fuzz
# runs 10,000 examples per property.
settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "fuzz", deadline=None, suppress_health_check=list(HealthCheck), max_examples=10_000
)
settings.load_profile(os.environ.get("R2STORE_HYPOTHESIS_PROFILE", "default"))

CHROMIUM = Path("/usr/bin/chromium")
# Headless Chromium that stays on loopback: no updates, syncing or QUIC probes.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
#: Playwright's waits, in milliseconds.
BROWSER_DEADLINE = 20_000

ACCESS_KEY_ID = "testing-access-key-id"
SECRET_ACCESS_KEY = "testing-SECRET-do-not-leak-0123456789"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pytest_configure(config: pytest.Config) -> None:
    """Refuse an S3 server the tests do not know, rather than quietly run on moto."""
    if S3_KIND not in S3_KINDS:
        raise pytest.UsageError(f"R2STORE_TEST_S3 must be one of {S3_KINDS}, not {S3_KIND!r}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip `live` tests unless R2STORE_LIVE_TEST=1, `moto_only` tests on other S3 servers,
    and `checks_signatures` tests on moto."""
    skip = pytest.mark.skip(reason="needs R2STORE_LIVE_TEST=1 and real R2_* variables")
    skip_moto_only = pytest.mark.skip(reason=f"needs moto's request log or quirks, not {S3_KIND}")
    skip_unsigned = pytest.mark.skip(reason="moto checks no signatures")
    for item in items:
        if "live" in item.keywords and not LIVE:
            item.add_marker(skip)
        if "moto_only" in item.keywords and S3_KIND != "moto":
            item.add_marker(skip_moto_only)
        if "checks_signatures" in item.keywords and S3_KIND == "moto":
            item.add_marker(skip_unsigned)


def transport_operation(method: str, url: str) -> str:
    """The S3 operation a request of the store's own transport is."""
    if method == "HEAD":
        return "HeadObject"
    query = urlsplit(url).query.split("&")
    if method == "PUT":
        return "UploadPart" if any(p.startswith("partNumber=") for p in query) else "PutObject"
    return "ListObjectsV2" if "list-type=2" in query else "GetObject"


class RequestLog:
    """Records every HTTP request a store sends, by operation name, in order: those of its
    own transport (reads, PutObject, UploadPart) through the store's request hooks, the rest
    through botocore's ``before-send`` event.

    Both fire once per attempt, just before the request goes out, so retries would count.
    ``params`` holds the parameters of each write call, once per call: a botocore call's
    parameters, or what the store gave the transport's ``put_object`` (``Key``, ``Body``,
    ``Headers``) or ``upload_part`` (``Key``, ``UploadId``, ``PartNumber``, ``Body``).
    """

    def __init__(self, store: R2Store) -> None:
        self.operations: list[str] = []
        self.params: list[dict[str, Any]] = []
        self._lock = threading.Lock()  # uploads go up from worker threads
        store.request_hooks.append(self._transported)
        store.client.meta.events.register("before-send.s3", self._sent)
        store.client.meta.events.register("provide-client-params.s3", self._params)
        transport = store.transport
        put_object, upload_part = transport.put_object, transport.upload_part

        def spy_put(full_key: str, body: Any, headers: Mapping[str, str], **kwargs: Any) -> Any:
            self._params({"Key": full_key, "Body": body, "Headers": dict(headers)})
            return put_object(full_key, body, headers, **kwargs)

        def spy_part(full_key: str, upload_id: str, number: int, data: bytes) -> str:
            self._params(
                {"Key": full_key, "UploadId": upload_id, "PartNumber": number, "Body": data}
            )
            return upload_part(full_key, upload_id, number, data)

        # Instance attributes shadow the methods: the spies see each call, then make it.
        setattr(transport, "put_object", spy_put)  # noqa: B010
        setattr(transport, "upload_part", spy_part)  # noqa: B010

    def _transported(self, method: str, url: str) -> None:
        with self._lock:
            self.operations.append(transport_operation(method, url))

    def _sent(self, request: Any, **kwargs: Any) -> None:
        with self._lock:
            self.operations.append(kwargs["event_name"].rsplit(".", 1)[-1])

    def _params(self, params: dict[str, Any], **kwargs: Any) -> None:
        with self._lock:
            self.params.append(dict(params))


@pytest.fixture(scope="session")
def s3_kind() -> str:
    """Which S3 server the tests run against: "moto" or "seaweedfs" (R2STORE_TEST_S3).

    Tests whose expectation depends on the server branch on it, one branch per server.
    """
    return S3_KIND


@pytest.fixture(scope="session")
def s3_endpoint(s3_kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of the S3 server on loopback: moto in this process, or a SeaweedFS process
    (its data and log, weed.log, in a temporary folder) for the whole session."""
    if s3_kind == "seaweedfs":
        from tests.seaweedfs import seaweedfs_server

        with seaweedfs_server(tmp_path_factory.mktemp("seaweedfs")) as endpoint:
            yield endpoint
        return

    from moto import settings as moto_settings
    from moto.server import ThreadedMotoServer

    # moto reads the variable once, when first imported: something imported it earlier.
    assert moto_settings.DISABLE_GLOBAL_CORS, "moto was imported before conftest set CORS"
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium, driven by Playwright."""
    if not CHROMIUM.is_file():
        pytest.skip(f"needs Chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="needs Playwright for Python (pip install playwright)"
    )
    with sync_api.sync_playwright() as playwright:
        browser: Browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def put_raw(store: R2Store, key: str, body: bytes, headers: Mapping[str, str]) -> None:
    """Store *key* with *headers* exactly as given, through a presigned PUT.

    ``save()`` refuses header values that are not printable ASCII; anyone holding a
    presigned PUT URL can send them, and moto, like R2, stores what it is sent.
    """
    import http.client

    url = urlsplit(store.presigned_url(key, method="PUT"))
    assert url.hostname is not None
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        # putheader() refuses CR and LF only: every other control character goes out.
        connection.putrequest("PUT", f"{url.path}?{url.query}", skip_accept_encoding=True)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        response.read()
        assert response.status == 200, response.status
    finally:
        connection.close()


def s3_client(s3_endpoint: str, **options: Any) -> Any:
    """A plain boto3 client on the S3 server with the test credentials; *options* go to
    botocore's Config."""
    import boto3
    import botocore.config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="auto",
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        config=botocore.config.Config(**options),
    )


def new_bucket(s3_endpoint: str, prefix: str = "test") -> str:
    """Create an empty bucket named *prefix*-<random> on the S3 server; return its name."""
    name = f"{prefix}-{uuid.uuid4().hex[:20]}"
    client = s3_client(s3_endpoint)
    try:
        client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "auto"})
    finally:
        client.close()
    return name


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    """A new, empty bucket on the S3 server."""
    return new_bucket(s3_endpoint)


@pytest.fixture
def env(s3_endpoint: str, bucket: str) -> dict[str, str]:
    """Environment variables that point r2store at the test bucket."""
    return {
        "USE_R2": "true",
        "R2_ENDPOINT_URL": s3_endpoint,
        "R2_BUCKET_NAME": bucket,
        "R2_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "R2_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
    }


@pytest.fixture
def config(env: dict[str, str]) -> R2Config:
    """A configuration for the test bucket."""
    return R2Config.from_env(env)


@pytest.fixture
def store(config: R2Config) -> Iterator[R2Store]:
    """A store on the test bucket."""
    store = R2Store(config)
    yield store
    if store._client is not None:
        store._client.close()
