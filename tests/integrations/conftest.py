"""Real servers for the integration tests: gunicorn (WSGI) and uvicorn (ASGI) on loopback.

Each server is one process, started once per session, that serves every
proxy variant of its kind (see ``apps/``) from a bucket on the shared moto
server, plus three misbehaving upstreams from ``upstreams.py``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import attrs
import httpx
import pytest

from r2store import LocalConfig, LocalStore, R2Config, R2Store, Store
from tests.conftest import ACCESS_KEY_ID, SECRET_ACCESS_KEY, free_port, new_bucket, put_raw
from tests.integrations.helpers import CONTROL_HEADERS, LOCATION, OBJECTS, SECRET, SIGNING_KEY
from tests.integrations.upstreams import FakeS3, StalledServer
from tests.servers import ROOT, server_process


@attrs.frozen
class Bucket:
    """The session's bucket, seeded with OBJECTS and ``control.txt`` (CONTROL_HEADERS) under
    LOCATION, and SECRET at its root."""

    name: str
    env: dict[str, str]
    store: R2Store


@attrs.frozen
class Server:
    """One running server: where it listens, and what its store sent to S3."""

    kind: str
    base: str
    log: Path
    operation_log: Path

    def url(self, path: str) -> str:
        """The absolute URL of *path* on this server."""
        return self.base + path

    def operations(self) -> list[str]:
        """``METHOD /bucket/key`` for every request the main store has sent to S3 so far."""
        if not self.operation_log.exists():
            return []
        return self.operation_log.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="session")
def seeded_bucket(s3_endpoint: str) -> Iterator[Bucket]:
    """A bucket on the moto server holding the test objects."""
    name = new_bucket(s3_endpoint, "integration")
    env = {
        "USE_R2": "true",
        "R2_ENDPOINT_URL": s3_endpoint,
        "R2_BUCKET_NAME": name,
        "R2_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "R2_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "R2_LOCATION": LOCATION,
    }
    config = R2Config.from_env(env)
    store = R2Store(config)
    root = R2Store(R2Config.from_env({**env, "R2_LOCATION": ""}))
    try:
        for key, item in OBJECTS.items():
            store.save(
                key, item.body, content_type=item.content_type, cache_control=item.cache_control
            )
        root.save("secret.txt", SECRET)
        put_raw(store, "control.txt", b"control\n", CONTROL_HEADERS)
        yield Bucket(name=name, env=env, store=store)
    finally:
        for each in (store, root):
            if each._client is not None:
                each._client.close()


@pytest.fixture(scope="session")
def seeded_local(tmp_path_factory: pytest.TempPathFactory) -> LocalStore:
    """A LocalStore holding the test objects under LOCATION and SECRET at its root."""
    root = tmp_path_factory.mktemp("local-root")
    store = LocalStore(LocalConfig(root=root, location=LOCATION))
    for key, item in OBJECTS.items():
        store.save(key, item.body, content_type=item.content_type, cache_control=item.cache_control)
    LocalStore(LocalConfig(root=root)).save("secret.txt", SECRET)
    return store


@pytest.fixture(scope="session")
def fake_s3() -> Iterator[FakeS3]:
    """The misbehaving S3 stand-in the ``/fake-proxy/`` variants read from."""
    fake = FakeS3()
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture(scope="session")
def stalled_upstream() -> Iterator[StalledServer]:
    """A server that accepts connections and never answers."""
    stalled = StalledServer()
    try:
        yield stalled
    finally:
        stalled.close()


@pytest.fixture(scope="session")
def server_env(
    seeded_bucket: Bucket,
    seeded_local: LocalStore,
    fake_s3: FakeS3,
    stalled_upstream: StalledServer,
) -> dict[str, str]:
    """The environment both server processes start with (see ``apps/common.py``)."""
    python_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {
        **os.environ,
        **seeded_bucket.env,
        "PYTHONPATH": python_path,
        "PYTHONWARNINGS": "always::ResourceWarning",
        "R2STORE_TEST_SIGNING_KEY": SIGNING_KEY,
        "R2STORE_TEST_CLOSED_ENDPOINT": f"http://127.0.0.1:{free_port()}",
        "R2STORE_TEST_STALLED_ENDPOINT": stalled_upstream.endpoint,
        "R2STORE_TEST_FAKE_ENDPOINT": fake_s3.endpoint,
        "R2STORE_TEST_LOCAL_ROOT": seeded_local.root,
    }


def serve(
    kind: str, argv: list[str], port: int, env: dict[str, str], tmp: Path
) -> Iterator[Server]:
    """Run ``python ARGV...`` (a gunicorn or uvicorn on *port*) for a fixture, yielding it
    as a :class:`Server` once it answers ``/ready``; a ResourceWarning in its log fails."""
    log = tmp / f"{kind}.log"
    operation_log = tmp / f"{kind}-operations.log"
    env = {**env, "R2STORE_TEST_OPERATION_LOG": str(operation_log)}
    # The servers run with ResourceWarning always shown: an unclosed upstream
    # connection or file in the adapters would be printed to the log.
    with server_process(
        [sys.executable, *argv],
        port=port,
        env=env,
        log=log,
        ready_path="/ready",
        fail_on="ResourceWarning",
    ):
        yield Server(kind, f"http://127.0.0.1:{port}", log, operation_log)


@pytest.fixture(scope="session")
def wsgi_server(
    server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """gunicorn (threaded worker) serving ``apps/wsgi_app.py``."""
    port = free_port()
    argv = [
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--threads",
        "8",
        "--graceful-timeout",
        "3",
        "tests.integrations.apps.wsgi_app:app",
    ]
    yield from serve("wsgi", argv, port, server_env, tmp_path_factory.mktemp("wsgi"))


@pytest.fixture(scope="session")
def asgi_server(
    server_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """uvicorn serving ``apps/asgi_app.py``."""
    port = free_port()
    argv = [
        "-m",
        "uvicorn",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--timeout-graceful-shutdown",
        "3",
        "tests.integrations.apps.asgi_app:app",
    ]
    yield from serve("asgi", argv, port, server_env, tmp_path_factory.mktemp("asgi"))


@pytest.fixture(params=["wsgi", "asgi"])
def server(request: pytest.FixtureRequest) -> Server:
    """Each server in turn: gunicorn, then uvicorn."""
    found: Server = request.getfixturevalue(f"{request.param}_server")
    return found


@pytest.fixture
def proxy_url_base(server: Server) -> str:
    """The main proxy's base URL on each server (WSGI middleware; ASGI app mounted in Starlette)."""
    return server.url("/media-proxy/")


#: Every way the proxy is mounted: (server, prefix).
MOUNTS = {
    "wsgi-middleware": ("wsgi", "/media-proxy/"),
    "wsgi-app": ("wsgi", "/app-proxy/"),
    "asgi-mount": ("asgi", "/media-proxy/"),
    "asgi-middleware": ("asgi", "/mw-proxy/"),
}


@pytest.fixture(params=list(MOUNTS))
def mount_base(request: pytest.FixtureRequest) -> str:
    """The main proxy's base URL for each adapter class: both WSGI and both ASGI mountings."""
    kind, prefix = MOUNTS[request.param]
    found: Server = request.getfixturevalue(f"{kind}_server")
    return found.url(prefix)


@pytest.fixture(scope="session")
def client() -> Iterator[httpx.Client]:
    """An HTTP client over loopback."""
    with httpx.Client(timeout=httpx.Timeout(10.0)) as http_client:
        yield http_client


#: The same mountings, serving the LocalStore (see ``apps/``).
LOCAL_MOUNTS = {
    "wsgi-middleware": ("wsgi", "/local-proxy/"),
    "wsgi-app": ("wsgi", "/local-app-proxy/"),
    "asgi-mount": ("asgi", "/local-proxy/"),
    "asgi-middleware": ("asgi", "/local-mw-proxy/"),
}


@pytest.fixture(params=["r2", "local"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each backend the proxies serve in turn: R2 (moto), then a LocalStore."""
    found: str = request.param
    return found


@pytest.fixture
def seeded_store(backend: str, request: pytest.FixtureRequest) -> Store:
    """The seeded store of the backend under test."""
    if backend == "r2":
        bucket: Bucket = request.getfixturevalue("seeded_bucket")
        return bucket.store
    local: LocalStore = request.getfixturevalue("seeded_local")
    return local


@pytest.fixture
def any_proxy_base(server: Server, backend: str) -> str:
    """The main proxy's base URL on each server, for each backend."""
    return server.url("/media-proxy/" if backend == "r2" else "/local-proxy/")


@pytest.fixture(params=list(MOUNTS))
def any_mount_base(request: pytest.FixtureRequest, backend: str) -> str:
    """The main proxy's base URL for each adapter class and each backend."""
    kind, prefix = (MOUNTS if backend == "r2" else LOCAL_MOUNTS)[request.param]
    found: Server = request.getfixturevalue(f"{kind}_server")
    return found.url(prefix)
