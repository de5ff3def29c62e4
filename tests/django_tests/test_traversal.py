"""Path traversal through the Django proxy view, by the test client and through gunicorn.

The storage serves ``location="media"``; ``secret.txt`` sits at the bucket's root (and
``media2/secret.txt`` beside the location), so a traversal that worked would show SECRET.
The corpus is the one the gunicorn/uvicorn adapters face (tests/integrations/test_paths.py).
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest
from django.core.files.storage import storages
from django.test import Client

from r2store import R2Config, R2Store
from r2store.django import R2Storage
from tests.conftest import ACCESS_KEY_ID, SECRET_ACCESS_KEY, free_port, new_bucket
from tests.integrations.helpers import SECRET, raw_request
from tests.integrations.test_paths import TRAVERSALS
from tests.servers import ROOT, server_process

from .conftest import use_r2

HELLO = b"hello from inside the location\n"

# Django closes connections when a response ends (request_finished): allow the DB.
pytestmark = pytest.mark.django_db


def _seed(config: R2Config) -> None:
    """SECRET outside the location, HELLO inside it."""
    root = R2Store(attrs.evolve(config, location=""))
    media = R2Store(attrs.evolve(config, location="media"))
    try:
        root.save("secret.txt", SECRET)
        root.save("media2/secret.txt", SECRET)
        media.save("hello.txt", HELLO)
    finally:
        root.close()
        media.close()


# -- what reaches S3 ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_requests() -> Iterator[list[tuple[str, str, str]]]:
    """Every (bucket, method, key) moto's object handler receives while the module runs:
    recorded where requests arrive (moto runs in this process), whatever client sent them."""
    from moto.s3.responses import S3Response

    seen: list[tuple[str, str, str]] = []
    original: Callable[..., Any] = S3Response._key_response

    def recording(self: Any, request: Any, full_url: str) -> Any:
        bucket = self.parse_bucket_name_from_url(request, full_url)
        seen.append((bucket, request.method, self.parse_key_name()))
        return original(self, request, full_url)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(S3Response, "_key_response", recording)
        yield seen


def keys_read(requests: list[tuple[str, str, str]], bucket: str) -> list[str]:
    """The keys of *bucket* that GET or HEAD requests in *requests* asked for."""
    return [key for b, method, key in requests if b == bucket and method in ("GET", "HEAD")]


def outside_the_location(keys: list[str]) -> list[str]:
    """The keys that are not plainly under ``media/``: elsewhere, or with dot or empty
    segments an upstream might resolve (``media/../secret.txt``)."""
    return [
        key for key in keys if not key.startswith("media/") or {"", ".", ".."} & set(key.split("/"))
    ]


# -- the test client -------------------------------------------------------------------------


@pytest.fixture
def media_storage(settings: Any, config: R2Config) -> R2Storage:
    """STORAGES['default'] is R2Storage with location "media" on a seeded bucket."""
    _seed(config)
    use_r2(settings, config, location="media")
    storage = storages["default"]
    assert isinstance(storage, R2Storage)
    return storage


def _content(response: Any) -> bytes:
    body: bytes = b"".join(response.streaming_content) if response.streaming else response.content
    response.close()
    return body


@pytest.mark.parametrize("target", TRAVERSALS)
def test_a_traversal_through_the_test_client_answers_4xx(
    media_storage: R2Storage, client: Client, target: str
) -> None:
    """A traversal attempt through the Django view answers 4xx and never shows SECRET."""
    response = client.get(f"/media-proxy/{target}")

    assert 400 <= response.status_code < 500
    assert SECRET not in _content(response)


@pytest.mark.parametrize("target", TRAVERSALS)
def test_a_traversal_never_asks_s3_for_a_key_outside_the_location(
    media_storage: R2Storage,
    moto_requests: list[tuple[str, str, str]],
    client: Client,
    target: str,
) -> None:
    """A traversal attempt sends S3 no read, or one for a key under ``media/``."""
    _content(client.get(f"/media-proxy/{target}"))

    read = keys_read(moto_requests, media_storage.store.config.bucket)
    assert outside_the_location(read) == []


def test_the_test_client_serves_the_location(
    media_storage: R2Storage, moto_requests: list[tuple[str, str, str]], client: Client
) -> None:
    """The view serves a key inside the location, and the recorder sees that read."""
    response = client.get("/media-proxy/hello.txt")

    assert response.status_code == 200
    assert _content(response) == HELLO
    assert keys_read(moto_requests, media_storage.store.config.bucket) == ["media/hello.txt"]


# -- a real server -------------------------------------------------------------------------


@attrs.frozen
class DjangoServer:
    """gunicorn serving the test project with R2Storage(location="media"), and every
    (bucket, method, key) the moto server was sent while it ran."""

    base: str
    bucket: str
    s3_requests: list[tuple[str, str, str]]


_SETTINGS = textwrap.dedent(
    """
    from tests.django_project.settings import *  # noqa: F403

    STORAGES = {
        "default": {"BACKEND": "r2store.django.R2Storage", "OPTIONS": {"location": "media"}},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    """
)


@pytest.fixture(scope="module")
def django_server(
    s3_endpoint: str,
    moto_requests: list[tuple[str, str, str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DjangoServer]:
    """gunicorn (threaded worker) serving Django's WSGI app for the test project, its
    default storage R2Storage(location="media") on a seeded bucket."""
    bucket = new_bucket(s3_endpoint, "traversal")
    env = {
        "R2_ENDPOINT_URL": s3_endpoint,
        "R2_BUCKET_NAME": bucket,
        "R2_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "R2_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
    }
    config = R2Config.from_env(env)
    _seed(config)

    # A settings module for this server only: the test project's, with R2 as the default
    # storage (its R2_* settings come from the environment).
    tmp = tmp_path_factory.mktemp("django-server")
    (tmp / "traversal_settings.py").write_text(_SETTINGS, encoding="utf-8")
    python_path = os.pathsep.join(filter(None, [str(ROOT), str(tmp), os.environ.get("PYTHONPATH")]))
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--threads",
        "4",
        "--graceful-timeout",
        "3",
        "django.core.wsgi:get_wsgi_application()",
    ]
    server_env = {
        **os.environ,
        **env,
        "PYTHONPATH": python_path,
        "DJANGO_SETTINGS_MODULE": "traversal_settings",
        "PYTHONWARNINGS": "always::ResourceWarning",
    }
    # Warnings of any kind fail the test: ResourceWarning is always shown, and Django's own
    # (a misconfiguration) would make the answers mean nothing.
    with server_process(
        argv,
        port=port,
        env=server_env,
        log=tmp / "gunicorn.log",
        ready_path="/media-proxy/hello.txt",
        fail_on="Warning",
    ):
        yield DjangoServer(f"http://127.0.0.1:{port}", bucket, moto_requests)


@pytest.mark.parametrize("target", TRAVERSALS)
def test_a_traversal_through_gunicorn_answers_4xx(django_server: DjangoServer, target: str) -> None:
    """A traversal attempt sent byte for byte to gunicorn + Django answers 4xx, never SECRET."""
    response = raw_request(django_server.base, "/media-proxy/" + target)

    assert 400 <= response.status < 500
    assert SECRET not in response.body
    assert b"TOP SECRET" not in response.body


def test_gunicorn_never_asked_s3_for_a_key_outside_the_location(
    django_server: DjangoServer,
) -> None:
    """After every traversal attempt, the server has asked S3 only for keys under ``media/``."""
    for target in TRAVERSALS:
        raw_request(django_server.base, "/media-proxy/" + target)
    reads = keys_read(django_server.s3_requests, django_server.bucket)

    assert "media/hello.txt" in reads
    assert outside_the_location(reads) == []


def test_gunicorn_serves_the_location(django_server: DjangoServer) -> None:
    """The same server serves a key inside the location (so the 4xx above are refusals)."""
    response = raw_request(django_server.base, "/media-proxy/hello.txt")

    assert response.status == 200
    assert response.body == HELLO
