"""The secret access key and the proxy signing key never show: not in a repr, a message,
a log record at any level, an HTTP answer, a URL or the command line's output.

Every error path that can be reached is driven with distinctive secrets, and every text
it produces is searched for them and for their base64, hex and percent-encoded forms.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http.server
import logging
import threading
import traceback
import types
import wsgiref.util
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

import attrs
import httpx
import pytest
from botocore.config import Config
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.mail import EmailMultiAlternatives
from django.test import Client
from django.utils.log import AdminEmailHandler
from django.views.debug import ExceptionReporter

from r2store import ConfigError, R2Config, R2Store, R2StoreError, urls
from r2store.asgi import R2ProxyApp as AsgiProxyApp
from r2store.asgi import R2ProxyMiddleware as AsgiProxyMiddleware
from r2store.cli import main
from r2store.django import R2Storage, storages_from_env
from r2store.proxy import MediaProxy
from r2store.urls import URLBuilder
from r2store.wsgi import R2ProxyApp, R2ProxyMiddleware
from tests.conftest import free_port
from tests.django_tests.conftest import use_r2
from tests.integrations.upstreams import StalledServer
from tests.test_cli import serving

SECRET = "SECRET-abc123-r2store-secret-access-key-9f8e7d6c5b4a"
SIGNING_KEY = "SIGNKEY-xyz789-r2store-proxy-signing-key-0a1b2c3d4e"
#: Public by design: presigned URLs carry it.
KEY_ID = "KEYID-r2store-visible-0123"
#: A signing key too short to accept: still a secret when refused.
SHORT_SIGNING_KEY = "SHORTKEY-r2s-42"

# One attempt and short timeouts: the failure paths are the point, not botocore's retries.
_ONE_ATTEMPT = Config(retries={"mode": "standard", "total_max_attempts": 1})


# -- what counts as a leak ------------------------------------------------------------


def _base64_forms(secret: bytes) -> set[str]:
    """*secret* in base64 (standard and URL-safe) at each of the three alignments it can
    have inside a longer encoded text, without the characters its neighbours decide."""
    forms = set()
    for pad in (b"", b"\0", b"\0\0"):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(pad + secret).decode()
            forms.add(encoded[4 if pad else 0 : -4])
    return forms


def leak_forms(secret: str) -> tuple[frozenset[str], frozenset[str]]:
    """Spellings of *secret* that must never appear in output: (case-sensitive, caseless)."""
    raw = secret.encode()
    caseless = {secret, raw.hex(), quote(secret, safe=""), quote_plus(secret)}
    return frozenset(_base64_forms(raw)), frozenset(form.lower() for form in caseless)


FORMS = {
    name: leak_forms(value)
    for name, value in {
        "secret": SECRET,
        "signing": SIGNING_KEY,
        "short": SHORT_SIGNING_KEY,
    }.items()
}


def leaks(texts: Iterable[str]) -> list[tuple[str, str]]:
    """(which secret, the start of the text) for every text that shows a secret in any form."""
    found = []
    for text in texts:
        folded = text.lower()
        for name, (exact, caseless) in FORMS.items():
            if any(form in text for form in exact) or any(form in folded for form in caseless):
                found.append((name, text[:300]))
    return found


def error_texts(exc: BaseException) -> list[str]:
    """str and repr of *exc* and of every exception in its cause/context chain, and the
    formatted traceback."""
    texts = ["".join(traceback.format_exception(exc))]
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts += [str(current), repr(current), repr(current.args)]
        current = current.__cause__ or current.__context__
    return texts


def log_texts(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every captured record: formatted (with its traceback) and its raw attributes."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    texts = [caplog.text]
    for record in caplog.records:
        texts += [formatter.format(record), repr(vars(record))]
    return texts


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every log record, at every level, from every logger (botocore and urllib3 too)."""
    caplog.set_level(logging.DEBUG)
    for name in ("botocore", "urllib3", "r2store", "django"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def attempt(operation: Callable[[R2Store], object], store: R2Store) -> list[str]:
    """Run *operation* on *store*; the texts of the R2StoreError it must raise."""
    with pytest.raises(R2StoreError) as info:
        operation(store)
    return error_texts(info.value)


# -- upstreams ----------------------------------------------------------------------------

#: The misbehaving S3 server's answers, chosen by the bucket name in the path.
ANSWERS: dict[str, tuple[int, str]] = {
    "answer-denied": (403, "AccessDenied"),
    "answer-badsig": (403, "SignatureDoesNotMatch"),
    "answer-badkeyid": (403, "InvalidAccessKeyId"),
    "answer-unauthorized": (401, "Unauthorized"),
    "answer-nobucket": (404, "NoSuchBucket"),
    "answer-invalid": (400, "InvalidArgument"),
    "answer-conflict": (409, "ConditionalRequestConflict"),
    "answer-slowdown": (503, "SlowDown"),
    "answer-broken": (500, "InternalError"),
}


class _ErrorHandler(http.server.BaseHTTPRequestHandler):
    """Answers every request with the S3 error its bucket name asks for, echoing the
    request's signature material as real S3's SignatureDoesNotMatch does."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        bucket = self.path.lstrip("/").split("/", 1)[0].split("?", 1)[0]
        status, code = ANSWERS.get(bucket, (403, "AccessDenied"))
        authorization = self.headers.get("Authorization", "")
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>refused: {code}</Message><AWSAccessKeyId>{KEY_ID}</AWSAccessKeyId>"
            f"<StringToSign>{self.command} {self.path}</StringToSign>"
            f"<SignatureProvided>{authorization}</SignatureProvided></Error>"
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

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


@pytest.fixture(scope="module")
def error_endpoint() -> Iterator[str]:
    """An S3 stand-in on loopback that refuses everything (see ANSWERS)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ErrorHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def stalled_endpoint() -> Iterator[str]:
    """An endpoint that accepts connections and never answers."""
    stalled = StalledServer()
    try:
        yield stalled.endpoint
    finally:
        stalled.close()


def secret_config(endpoint: str, bucket: str, **changes: Any) -> R2Config:
    """A configuration holding the distinctive secrets, for *bucket* at *endpoint*."""
    fields: dict[str, Any] = {
        "endpoint_url": endpoint,
        "bucket": bucket,
        "access_key_id": KEY_ID,
        "secret_access_key": SECRET,
        "proxy_signing_key": SIGNING_KEY,
        "location": "media",
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
        "client_config": _ONE_ATTEMPT,
    }
    return R2Config(**{**fields, **changes})


@pytest.fixture
def moto_store(s3_endpoint: str, bucket: str) -> Iterator[R2Store]:
    """A store with the secrets on the moto bucket, holding ``media/there.txt``."""
    store = R2Store(secret_config(s3_endpoint, bucket))
    store.save("there.txt", b"hello\n")
    yield store
    store.close()


@contextlib.contextmanager
def failing_store(
    endpoint: str, bucket: str = "answer-denied", **changes: Any
) -> Iterator[R2Store]:
    """A store with the secrets on *endpoint*, closed afterwards."""
    store = R2Store(secret_config(endpoint, bucket, **changes))
    try:
        yield store
    finally:
        store.close()


#: Every store operation that talks to R2, by name.
OPERATIONS: dict[str, Callable[[R2Store], object]] = {
    "save": lambda s: s.save("new.txt", b"data"),
    "save_overwrite": lambda s: s.save("new.txt", b"data", overwrite=True),
    "open_write": lambda s: s.open_write("w.txt").close(),
    "read": lambda s: s.read("there.txt"),
    "open_range": lambda s: s.open("there.txt", range="bytes=0-1"),
    "stat": lambda s: s.stat("there.txt"),
    "list": lambda s: list(s.list()),
    "listdir": lambda s: s.listdir(""),
    "delete": lambda s: s.delete("there.txt"),
    "delete_many": lambda s: s.delete_many(["there.txt", "other.txt"]),
    "copy": lambda s: s.copy("there.txt", "copy.txt"),
}


# -- repr and str ---------------------------------------------------------------------------


async def _no_app(scope: Any, receive: Any, send: Any) -> None:
    """An ASGI app for the middleware to wrap; never called here."""


def _objects_holding_secrets() -> dict[str, object]:
    config = secret_config("http://127.0.0.1:9", "some-bucket")
    store = R2Store(config)
    builder = URLBuilder(config)
    builder.presigned("a.txt")  # makes its QuerySigner
    return {
        "config": config,
        "store": store,
        "url_builder": builder,
        "query_signer": builder._query_signer(),
        "media_proxy": MediaProxy(store=store),
        "wsgi_app": R2ProxyApp(store),
        "wsgi_middleware": R2ProxyMiddleware(lambda e, s: [], store),
        "asgi_app": AsgiProxyApp(store),
        "asgi_middleware": AsgiProxyMiddleware(_no_app, store),
    }


@pytest.mark.parametrize("name", list(_objects_holding_secrets()))
def test_repr_and_str_hide_the_secrets(name: str) -> None:
    """repr() and str() of every r2store object that holds the secrets show neither."""
    thing = _objects_holding_secrets()[name]
    assert leaks([repr(thing), str(thing)]) == []


def test_the_django_storage_hides_the_secrets(s3_endpoint: str) -> None:
    """R2Storage's repr, str and migration form show neither secret."""
    storage = R2Storage(
        endpoint_url=s3_endpoint,
        bucket="some-bucket",
        access_key_id=KEY_ID,
        secret_access_key=SECRET,
        proxy_signing_key=SIGNING_KEY,
    )
    assert leaks([repr(storage), str(storage), repr(storage.deconstruct())]) == []


# -- bad configuration ----------------------------------------------------------------------

_GOOD_ENV = {
    "R2_ENDPOINT_URL": "https://example.com",
    "R2_BUCKET_NAME": "media",
    "R2_ACCESS_KEY_ID": KEY_ID,
    "R2_SECRET_ACCESS_KEY": SECRET,
    "R2_PROXY_SIGNING_KEY": SIGNING_KEY,
}

#: One bad setting of every kind, on an otherwise good environment holding the secrets.
BAD_ENVS: dict[str, dict[str, str]] = {
    "account_id": {"R2_ACCOUNT_ID": "not-hex", "R2_ENDPOINT_URL": ""},
    "no_account_no_endpoint": {"R2_ENDPOINT_URL": ""},
    "bucket": {"R2_BUCKET_NAME": "Not_A_Bucket"},
    "missing_bucket": {"R2_BUCKET_NAME": ""},
    "missing_key_id": {"R2_ACCESS_KEY_ID": ""},
    "missing_secret": {"R2_SECRET_ACCESS_KEY": ""},
    "secret_with_space": {"R2_SECRET_ACCESS_KEY": SECRET[:20] + " " + SECRET[20:]},
    "secret_with_newline": {"R2_SECRET_ACCESS_KEY": SECRET[:20] + "\x07" + SECRET[20:]},
    "key_id_is_the_secret_with_space": {"R2_ACCESS_KEY_ID": SECRET + " x"},
    "endpoint_with_path": {"R2_ENDPOINT_URL": "https://example.com/media"},
    "endpoint_not_a_url": {"R2_ENDPOINT_URL": "ftp://example.com"},
    "endpoint_bad_port": {"R2_ENDPOINT_URL": "https://example.com:99999"},
    "endpoint_with_the_secret_as_password": {
        "R2_ENDPOINT_URL": f"https://{KEY_ID}:{SECRET}@example.com"
    },
    "public_url_with_the_secret_as_password": {
        "R2_PUBLIC_URL": f"https://user:{SECRET}@cdn.example.com"
    },
    "public_domain_with_path": {"R2_PUBLIC_DOMAIN": "cdn.example.com/x"},
    "public_domain_and_url_disagree": {
        "R2_PUBLIC_DOMAIN": "a.example.com",
        "R2_PUBLIC_URL": "https://b.example.com",
    },
    "region": {"R2_REGION_NAME": "Not A Region"},
    "jurisdiction": {"R2_JURISDICTION": "mars"},
    "location": {"R2_LOCATION": "a/../b"},
    "proxy_path": {"R2_MEDIA_PROXY_PATH": "/a b/"},
    "short_signing_key": {"R2_PROXY_SIGNING_KEY": SHORT_SIGNING_KEY},
    "media_proxy": {"USE_R2_MEDIA_PROXY": "perhaps"},
    "url_expires_in": {"R2_URL_EXPIRES_IN": "forever"},
    "url_expires_in_range": {"R2_URL_EXPIRES_IN": "0"},
    "connect_timeout": {"R2_CONNECT_TIMEOUT": "inf"},
    "read_timeout": {"R2_READ_TIMEOUT": "-1"},
    "max_pool_connections": {"R2_MAX_POOL_CONNECTIONS": "0"},
    "multipart_threshold": {"R2_MULTIPART_THRESHOLD": "1"},
    "multipart_chunksize": {"R2_MULTIPART_CHUNKSIZE": "x"},
    "max_concurrency": {"R2_MAX_CONCURRENCY": "1.5"},
    "everything_at_once": {
        "R2_ENDPOINT_URL": f"https://u:{SECRET}@example.com/path",
        "R2_BUCKET_NAME": "",
        "R2_PROXY_SIGNING_KEY": SHORT_SIGNING_KEY,
        "R2_JURISDICTION": "mars",
        "R2_URL_EXPIRES_IN": "x",
    },
}


def _config_error(env: dict[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        R2Config.from_env(env)
    return info.value


@pytest.mark.parametrize("kind", list(BAD_ENVS))
def test_config_errors_never_show_a_secret(kind: str, debug_logs: pytest.LogCaptureFixture) -> None:
    """A ConfigError from the environment, of any kind, names the problem but no secret."""
    error = _config_error({**_GOOD_ENV, **BAD_ENVS[kind]})
    texts = error_texts(error) + [str(p) for p in error.problems] + log_texts(debug_logs)
    assert leaks(texts) == []


def test_direct_construction_errors_never_show_a_secret() -> None:
    """A ConfigError from R2Config(...) with every field wrong shows no secret."""
    with pytest.raises(ConfigError) as info:
        R2Config(
            endpoint_url=f"https://u:{SECRET}@example.com/x",
            bucket="",
            access_key_id=SECRET + " ",
            secret_access_key=SECRET + " \n",
            proxy_signing_key=SHORT_SIGNING_KEY,
            public_url=f"https://u:{SIGNING_KEY}@x",
            url_expires_in=0,
        )
    assert len(info.value.problems) >= 5
    assert leaks(error_texts(info.value)) == []


@pytest.mark.parametrize("kind", ["short_signing_key", "secret_with_space", "everything_at_once"])
def test_django_configuration_errors_never_show_a_secret(
    kind: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """ImproperlyConfigured from R2Storage and storages_from_env shows no secret."""
    monkeypatch.chdir(tmp_path)
    env = {**_GOOD_ENV, **BAD_ENVS[kind], "USE_R2": "true"}
    with pytest.raises(ImproperlyConfigured) as from_env:
        storages_from_env(env)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured) as from_storage:
        R2Storage()
    assert leaks(error_texts(from_env.value) + error_texts(from_storage.value)) == []


# -- store operations that fail ----------------------------------------------------------------


@pytest.mark.parametrize("operation", ["read", "open_range", "stat", "copy"])
def test_a_missing_object_shows_no_secret(
    s3_endpoint: str, bucket: str, operation: str, debug_logs: pytest.LogCaptureFixture
) -> None:
    """ObjectNotFoundError, its cause chain and the debug logs show no secret."""
    with failing_store(s3_endpoint, bucket) as store:
        texts = attempt(OPERATIONS[operation], store)
    assert "there.txt" in texts[0]
    assert leaks(texts + log_texts(debug_logs)) == []


_INVALID_KEY_OPERATIONS: dict[str, Callable[[R2Store], object]] = {
    "save": lambda s: s.save("../escape.txt", b"x"),
    "read": lambda s: s.read("a/../../b"),
    "stat": lambda s: s.stat("/abs"),
    "url": lambda s: s.url("a\x00b"),
    "presigned_url": lambda s: s.presigned_url("a//b"),
    "proxy_url": lambda s: s.proxy_url(".."),
    "delete": lambda s: s.delete("a\\b"),
    "list": lambda s: list(s.list("../")),
}


@pytest.mark.parametrize("operation", list(_INVALID_KEY_OPERATIONS))
def test_an_invalid_key_shows_no_secret(moto_store: R2Store, operation: str) -> None:
    """InvalidKeyError names the key and shows no secret."""
    texts = attempt(_INVALID_KEY_OPERATIONS[operation], moto_store)
    assert leaks(texts) == []


_PRECONDITIONS: dict[str, Callable[[R2Store], object]] = {
    "exists": lambda s: s.save("there.txt", b"again"),
    "exists_open_write": lambda s: s.open_write("there.txt").close(),
    "if_match": lambda s: s.open("there.txt", if_match='"nope"'),
    "if_none_match": lambda s: s.open("there.txt", if_none_match=s.stat("there.txt").etag),
    "range": lambda s: s.open("there.txt", range="bytes=100-"),
}


@pytest.mark.parametrize("condition", list(_PRECONDITIONS))
def test_a_failed_precondition_shows_no_secret(
    moto_store: R2Store, condition: str, debug_logs: pytest.LogCaptureFixture
) -> None:
    """ObjectExistsError, PreconditionFailed, NotModified and RangeNotSatisfiable show no secret."""
    texts = attempt(_PRECONDITIONS[condition], moto_store)
    assert leaks(texts + log_texts(debug_logs)) == []


@pytest.mark.parametrize("answer", list(ANSWERS))
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_an_upstream_refusal_shows_no_secret(
    error_endpoint: str, answer: str, operation: str, debug_logs: pytest.LogCaptureFixture
) -> None:
    """R2 answering 4xx/5xx to any operation raises an error that shows no secret."""
    with failing_store(error_endpoint, answer) as store:
        texts = attempt(OPERATIONS[operation], store)
        assert leaks(texts + log_texts(debug_logs)) == []


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_an_unreachable_endpoint_shows_no_secret(
    operation: str, debug_logs: pytest.LogCaptureFixture
) -> None:
    """A refused connection raises UpstreamError that shows no secret."""
    with failing_store(f"http://127.0.0.1:{free_port()}") as store:
        texts = attempt(OPERATIONS[operation], store)
        assert "could not talk to R2" in texts[0] or "did not answer" in texts[0]
        assert leaks(texts + log_texts(debug_logs)) == []


@pytest.mark.parametrize("operation", ["save", "read", "list"])
def test_a_timeout_shows_no_secret(
    stalled_endpoint: str, operation: str, debug_logs: pytest.LogCaptureFixture
) -> None:
    """An upstream that never answers raises UpstreamTimeoutError that shows no secret."""
    with failing_store(stalled_endpoint, read_timeout=0.3) as store:
        texts = attempt(OPERATIONS[operation], store)
        assert "did not answer in time" in texts[0]
        assert leaks(texts + log_texts(debug_logs)) == []


def test_successful_operations_log_no_secret(
    moto_store: R2Store, debug_logs: pytest.LogCaptureFixture
) -> None:
    """A run of successful operations, at DEBUG, logs no secret (requests are signed, not keyed)."""
    moto_store.save("ok.txt", b"ok", overwrite=True)
    moto_store.read("ok.txt")
    list(moto_store.list())
    moto_store.delete("ok.txt")
    assert any(r.name.startswith("botocore") for r in debug_logs.records)
    assert leaks(log_texts(debug_logs)) == []


# -- URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE"])
def test_presigned_urls_carry_the_key_id_and_not_the_secret(
    moto_store: R2Store, method: str
) -> None:
    """A presigned URL names the access key id and shows no secret."""
    url = moto_store.presigned_url(
        "a b/ü.txt",
        method=method,
        content_type="text/plain",
        content_disposition='attachment; filename="x"',
    )
    credential = parse_qs(urlsplit(url).query)["X-Amz-Credential"][0]
    assert credential.startswith(f"{KEY_ID}/")
    assert leaks([url]) == []


def test_signed_proxy_urls_show_no_secret(moto_store: R2Store) -> None:
    """A signed proxy URL carries an HMAC of the signing key, never the key itself."""
    urls_built = [moto_store.proxy_url("a.txt"), moto_store.url("ü b.txt")]
    urls_built += [moto_store.proxy_url("x.png", expires_in=n) for n in (1, 60, 604800)]
    assert all("signature=" in url for url in urls_built)
    assert leaks(urls_built) == []


# -- the proxy's answers ---------------------------------------------------------------------


@attrs.frozen
class Answer:
    """What a proxy sent back, and every text in it."""

    status: int
    texts: list[str]


def _call_wsgi(store: R2Store, path: str, method: str = "GET", **environ: str) -> Answer:
    env: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path, **environ}
    wsgiref.util.setup_testing_defaults(env)
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started.append((status, headers))
        return lambda data: None

    body_iter = R2ProxyApp(store)(env, start_response)
    try:
        body = b"".join(body_iter)
    finally:
        close = getattr(body_iter, "close", None)
        if close is not None:
            close()
    status, headers = started[0]
    texts = [status, repr(headers), body.decode("latin-1")]
    return Answer(int(status.split()[0]), texts)


def _call_asgi(store: R2Store, path: str, method: str = "GET", **environ: str) -> Answer:
    """The same request as :func:`_call_wsgi`, through the ASGI app on an event loop:
    CGI-style ``HTTP_*`` names become headers, ``QUERY_STRING`` the query string."""
    headers = [
        (name[5:].replace("_", "-").lower().encode(), value.encode("latin-1"))
        for name, value in environ.items()
        if name.startswith("HTTP_")
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape"),
        "root_path": "",
        "query_string": environ.get("QUERY_STRING", "").encode("latin-1"),
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    sent: list[MutableMapping[str, Any]] = []

    async def run() -> None:
        done = asyncio.Event()
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await done.wait()  # the client stays until the whole answer has arrived
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                done.set()

        await AsgiProxyApp(store)(scope, receive, send)
        done.set()

    asyncio.run(run())
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    texts = [repr(start), body.decode("latin-1")]
    return Answer(start["status"], texts)


#: The proxy adapters, each called in-process: the same request gives the same answer.
ADAPTERS: dict[str, Callable[..., Answer]] = {"wsgi": _call_wsgi, "asgi": _call_asgi}


def _expired_query(store: R2Store, key: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The query of a signed proxy URL for *key* that expired long ago."""
    with monkeypatch.context() as patch:
        patch.setattr(urls, "time", types.SimpleNamespace(time=lambda: 1_000_000.0))
        url = store.proxy_url(key, expires_in=60)
    return urlsplit(url).query


def _signed_query(store: R2Store, key: str) -> str:
    return urlsplit(store.proxy_url(key)).query


#: (path, method, extra environ, query maker) -> expected status, for the moto store.
PROXY_CASES: dict[str, tuple[str, str, dict[str, str], str, int]] = {
    "ok": ("/there.txt", "GET", {}, "signed", 200),
    "head": ("/there.txt", "HEAD", {}, "signed", 200),
    "unsigned": ("/there.txt", "GET", {}, "none", 403),
    "bad_signature": ("/there.txt", "GET", {}, "forged", 403),
    "signature_of_another_key": ("/there.txt", "GET", {}, "other", 403),
    "expired": ("/there.txt", "GET", {}, "expired", 403),
    "missing": ("/missing.txt", "GET", {}, "signed", 404),
    "invalid_key": ("/../secret.txt", "GET", {}, "signed", 404),
    "not_utf8": ("/\xc0\xae.txt", "GET", {}, "none", 404),
    "post": ("/there.txt", "POST", {}, "signed", 405),
    "if_match": ("/there.txt", "GET", {"HTTP_IF_MATCH": '"nope"'}, "signed", 412),
    "range": ("/there.txt", "GET", {"HTTP_RANGE": "bytes=100-"}, "signed", 416),
    "if_none_match": ("/there.txt", "GET", {"HTTP_IF_NONE_MATCH": "*"}, "signed", 304),
}


def _query(store: R2Store, kind: str, path: str, monkeypatch: pytest.MonkeyPatch) -> str:
    key = path.lstrip("/")
    if kind == "none":
        return ""
    if kind == "forged":
        return _signed_query(store, key).rsplit("=", 1)[0] + "=" + "A" * 43
    if kind == "other":
        return _signed_query(store, "other.txt")
    if kind == "expired":
        return _expired_query(store, key, monkeypatch)
    return _signed_query(store, key) if not key.startswith("..") else "expires=1&signature=x"


@pytest.mark.parametrize(
    ("case", "adapter"),
    [
        (case, adapter)
        for case in PROXY_CASES
        for adapter in ADAPTERS
        # An ASGI server hands the app a decoded str path: undecodable bytes never reach it.
        if not (case == "not_utf8" and adapter == "asgi")
    ],
)
def test_proxy_answers_show_no_secret(
    moto_store: R2Store,
    case: str,
    adapter: str,
    debug_logs: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every 2xx/3xx/4xx answer of the proxies (signed URLs on) shows no secret."""
    path, method, environ, kind, expected = PROXY_CASES[case]
    query = _query(moto_store, kind, path, monkeypatch)
    answer = ADAPTERS[adapter](moto_store, path, method, QUERY_STRING=query, **environ)
    assert answer.status == expected
    assert leaks(answer.texts + log_texts(debug_logs)) == []


@pytest.mark.parametrize("adapter", list(ADAPTERS))
@pytest.mark.parametrize("answer_name", list(ANSWERS))
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_proxy_upstream_failures_show_no_secret(
    error_endpoint: str,
    answer_name: str,
    method: str,
    adapter: str,
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    """A refused, broken or missing upstream gives 4xx/5xx from the proxies, and no secret."""
    with failing_store(error_endpoint, answer_name) as store:
        answer = ADAPTERS[adapter](
            store, "/a.txt", method, QUERY_STRING=_signed_query(store, "a.txt")
        )
        assert answer.status in (404, 502, 503)
        assert leaks(answer.texts + log_texts(debug_logs)) == []


@pytest.mark.parametrize("adapter", list(ADAPTERS))
@pytest.mark.parametrize("where", ["closed", "stalled"])
def test_proxy_unreachable_upstream_shows_no_secret(
    stalled_endpoint: str, where: str, adapter: str, debug_logs: pytest.LogCaptureFixture
) -> None:
    """An unreachable or silent upstream gives 502/504 and no secret in answer or logs."""
    endpoint = stalled_endpoint if where == "stalled" else f"http://127.0.0.1:{free_port()}"
    with failing_store(endpoint, "media", read_timeout=0.3) as store:
        answer = ADAPTERS[adapter](store, "/a.txt", QUERY_STRING=_signed_query(store, "a.txt"))
        assert answer.status == (504 if where == "stalled" else 502)
        assert any(r.exc_info for r in debug_logs.records if r.name == "r2store.proxy")
        assert leaks(answer.texts + log_texts(debug_logs)) == []


# -- through Django ------------------------------------------------------------------------


@pytest.fixture
def django_secrets(settings: Any, s3_endpoint: str, bucket: str) -> Iterator[R2Store]:
    """STORAGES['default'] is R2Storage with the secrets on the moto bucket; a store on it."""
    config = secret_config(s3_endpoint, bucket)
    use_r2(
        settings,
        config,
        proxy_signing_key=SIGNING_KEY,
        location="media",
        client_config=_ONE_ATTEMPT,
    )
    store = R2Store(config)
    store.save("there.txt", b"hello\n")
    yield store
    store.close()


def _django_texts(response: Any) -> list[str]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    response.close()
    return [repr(response.status_code), repr(sorted(response.items())), body.decode("latin-1")]


# Django closes connections when a response ends (request_finished): allow the DB.
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "method", "signed", "expected"),
    [
        ("there.txt", "get", True, 200),
        ("there.txt", "get", False, 403),
        ("missing.txt", "get", True, 404),
        ("a/%2e%2e/there.txt", "get", False, 404),
        ("there.txt", "post", True, 405),
    ],
)
def test_django_proxy_answers_show_no_secret(
    django_secrets: R2Store,
    client: Client,
    path: str,
    method: str,
    signed: bool,
    expected: int,
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    """The Django proxy view's answers and logs show no secret."""
    query = _signed_query(django_secrets, path) if signed else ""
    response = getattr(client, method)(f"/media-proxy/{path}?{query}")
    assert response.status_code == expected
    assert leaks(_django_texts(response) + log_texts(debug_logs)) == []


# Django closes connections when a response ends (request_finished): allow the DB.
@pytest.mark.django_db
def test_django_proxy_upstream_failure_shows_no_secret(
    settings: Any, error_endpoint: str, client: Client, debug_logs: pytest.LogCaptureFixture
) -> None:
    """A refusing upstream gives a 502 from the Django view, and no secret in it or the logs."""
    config = secret_config(error_endpoint, "answer-denied")
    use_r2(settings, config, client_config=_ONE_ATTEMPT)
    store = R2Store(config)
    response = client.get(f"/media-proxy/a.txt?{_signed_query(store, 'a.txt')}")
    assert response.status_code == 502
    assert leaks(_django_texts(response) + log_texts(debug_logs)) == []


# -- Django's error page and error mails ----------------------------------------------------
#
# Django's technical 500 page (DEBUG=True) and AdminEmailHandler's mails (DEBUG=False) show
# the local variables of every frame of the exception and of its __cause__/__context__ chain.
# Each failure is raised inside ``_raise_and_catch``, whose own frame holds no secret, so any
# secret found came from the frames r2store put there.

ExcInfo = tuple[type[BaseException], BaseException, types.TracebackType]


def _raise_and_catch(call: Callable[[], object]) -> ExcInfo:
    """The exc_info of what *call* raises."""
    with pytest.raises(Exception) as info:  # noqa: PT011 -- any error: each is reported
        call()
    return info.type, info.value, info.tb


def _storage_on(endpoint: str, bucket: str) -> R2Storage:
    """An R2Storage given the secrets as OPTIONS."""
    return R2Storage(
        endpoint_url=endpoint,
        bucket=bucket,
        access_key_id=KEY_ID,
        secret_access_key=SECRET,
        proxy_signing_key=SIGNING_KEY,
        client_config=_ONE_ATTEMPT,
        connect_timeout=2.0,
        read_timeout=2.0,
    )


#: What raises, given the refusing endpoint; the environment holds the secrets and USE_R2=true.
DJANGO_FAILURES: dict[str, Callable[[str], object]] = {
    "storages_from_env_reading_os_environ": lambda _: storages_from_env(),
    "storages_from_env_given_environ": lambda _: storages_from_env(
        {**_GOOD_ENV, "R2_BUCKET_NAME": "Not_A_Bucket", "USE_R2": "true"}
    ),
    "storages_from_env_given_options": lambda _: storages_from_env(
        options={"secret_access_key": SIGNING_KEY, "url_expires_in": 0}
    ),
    "r2storage_from_os_environ": lambda _: R2Storage(),
    "r2storage_given_options": lambda endpoint: _storage_on(endpoint, "Not_A_Bucket"),
    "r2storage_unknown_option": lambda _: R2Storage(secret_access_key=SECRET, nonsense=1),
    "endpoint_host_botocore_refuses": lambda _: _storage_on("http://moto_host:9100", "media").save(
        "a.txt", ContentFile(b"data")
    ),
    "save_refused": lambda endpoint: _storage_on(endpoint, "answer-denied").save(
        "a.txt", ContentFile(b"data")
    ),
    "size_refused": lambda endpoint: _storage_on(endpoint, "answer-badsig").size("a.txt"),
    "open_refused": lambda endpoint: _storage_on(endpoint, "answer-badkeyid").open("a.txt"),
    "exists_upstream_broken": lambda endpoint: _storage_on(endpoint, "answer-broken").exists(
        "a.txt"
    ),
}


@pytest.fixture
def secret_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """os.environ holds the secrets, USE_R2=true and a bad bucket name; no .env is read."""
    monkeypatch.chdir(tmp_path)
    for name, value in {**_GOOD_ENV, "R2_BUCKET_NAME": "Not_A_Bucket", "USE_R2": "true"}.items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("secret_environ")
@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("failure", list(DJANGO_FAILURES))
def test_django_error_reports_show_no_secret(
    settings: Any, error_endpoint: str, failure: str, debug: bool
) -> None:
    """Django's debug page (HTML and text) and its error mail (body and HTML) show no secret."""
    settings.DEBUG = debug
    settings.ADMINS = [("Admin", "admin@example.com")]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    exc_info = _raise_and_catch(lambda: DJANGO_FAILURES[failure](error_endpoint))
    reporter = ExceptionReporter(None, *exc_info)
    texts: list[str] = [reporter.get_traceback_html(), reporter.get_traceback_text()]
    mail.outbox = []
    record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "boom", (), exc_info)
    AdminEmailHandler(include_html=True).emit(record)
    [sent] = mail.outbox
    assert isinstance(sent, EmailMultiAlternatives)
    texts += [str(sent.subject), str(sent.body)] + [str(part[0]) for part in sent.alternatives]
    assert len(texts[-1]) > 1000  # the HTML report was attached
    assert leaks(texts) == []


# -- the command line -----------------------------------------------------------------------


@pytest.fixture
def cli_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, s3_endpoint: str, bucket: str
) -> dict[str, str]:
    """The R2_* variables, with the secrets, for the moto bucket; run from an empty folder."""
    monkeypatch.chdir(tmp_path)
    env = {
        "USE_R2": "true",
        "R2_ENDPOINT_URL": s3_endpoint,
        "R2_BUCKET_NAME": bucket,
        "R2_ACCESS_KEY_ID": KEY_ID,
        "R2_SECRET_ACCESS_KEY": SECRET,
        "R2_PROXY_SIGNING_KEY": SIGNING_KEY,
        "R2_CONNECT_TIMEOUT": "2",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    R2Store(secret_config(s3_endpoint, bucket, location="")).save("there.txt", b"x")
    (tmp_path / "upload.txt").write_bytes(b"upload")
    return env


#: argv -> the exit status expected, on the moto bucket.
CLI_RUNS: dict[str, tuple[list[str], int]] = {
    "get_missing": (["get", "missing.txt", "-"], 1),
    "stat_missing": (["stat", "missing.txt"], 1),
    "put_exists": (["put", "upload.txt", "there.txt"], 1),
    "put_unreadable": (["put", "no-such-file", "x.txt"], 1),
    "invalid_key": (["stat", "../x"], 2),
    "presign": (["presign", "there.txt", "--method", "put"], 0),
    "url": (["url", "there.txt"], 0),
    "ls": (["ls", "-l"], 0),
    "check": (["check"], 0),
    "bad_usage": (["presign", "x", "--expires", "0"], 2),
}


@pytest.mark.parametrize("verbosity", [[], ["-v"], ["-vv"]])
@pytest.mark.parametrize("run", list(CLI_RUNS))
def test_cli_output_shows_no_secret(
    cli_env: dict[str, str],
    run: str,
    verbosity: list[str],
    capsys: pytest.CaptureFixture[str],
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    """The command line's output, errors and (-v, -vv) tracebacks and logs show no secret."""
    argv, expected = CLI_RUNS[run]
    assert main([*verbosity, *argv]) == expected
    out, err = capsys.readouterr()
    assert leaks([out, err, *log_texts(debug_logs)]) == []


# The closed and silent endpoints cost botocore's retries (seconds): -vv only, which shows most.
@pytest.mark.parametrize(
    ("where", "argv", "verbosity"),
    [
        *[
            ("denied", argv, verbosity)
            for argv in (
                ["check"],
                ["ls"],
                ["get", "a.txt", "-"],
                ["put", "upload.txt", "a.txt", "--overwrite"],
                ["rm", "a.txt", "b.txt"],
            )
            for verbosity in ([], ["-vv"])
        ],
        ("closed", ["stat", "a.txt"], ["-vv"]),
        ("stalled", ["get", "a.txt", "-"], ["-vv"]),
    ],
)
def test_cli_upstream_failures_show_no_secret(
    cli_env: dict[str, str],
    error_endpoint: str,
    stalled_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
    argv: list[str],
    verbosity: list[str],
    capsys: pytest.CaptureFixture[str],
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    """The command line against a refusing, closed or silent endpoint fails with no secret shown."""
    endpoint = {
        "denied": error_endpoint,
        "closed": f"http://127.0.0.1:{free_port()}",
        "stalled": stalled_endpoint,
    }[where]
    monkeypatch.setenv("R2_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("R2_BUCKET_NAME", "answer-denied")
    monkeypatch.setenv("R2_READ_TIMEOUT", "0.3")
    assert main([*verbosity, *argv]) == 1
    out, err = capsys.readouterr()
    assert "error:" in err
    assert leaks([out, err, *log_texts(debug_logs)]) == []


#: Requests to ``r2store serve`` -> the statuses expected: (method, key, query kind).
SERVE_REQUESTS: list[tuple[str, str, str]] = [
    ("GET", "there.txt", "signed"),
    ("HEAD", "there.txt", "signed"),
    ("GET", "there.txt", "none"),
    ("GET", "there.txt", "forged"),
    ("GET", "missing.txt", "signed"),
    ("GET", "%2e%2e/there.txt", "none"),
    ("POST", "there.txt", "signed"),
]


@pytest.mark.parametrize(
    ("bucket_name", "expected"),
    [
        (None, [200, 200, 403, 403, 404, 404, 405]),
        ("answer-denied", [502, 502, 403, 403, 502, 404, 405]),
        ("answer-badsig", [502, 502, 403, 403, 502, 404, 405]),
    ],
)
def test_serve_shows_no_secret(
    cli_env: dict[str, str],
    error_endpoint: str,
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    bucket_name: str | None,
    expected: list[int],
) -> None:
    """``r2store -vv serve``: its answers, its request log and its -vv logs show no secret,
    over the moto bucket (None) and over an upstream that refuses the credentials."""
    env = dict(cli_env)
    if bucket_name is not None:
        env |= {"R2_ENDPOINT_URL": error_endpoint, "R2_BUCKET_NAME": bucket_name}
    signer = R2Store(secret_config(env["R2_ENDPOINT_URL"], env["R2_BUCKET_NAME"], location=""))
    texts: list[str] = []
    statuses: list[int] = []
    with serving(env, tmp_path, "-vv") as server:
        for method, key, kind in SERVE_REQUESTS:
            query = _query(signer, kind, "/" + key, monkeypatch)
            response = httpx.request(method, f"{server.url}{key}?{query}", timeout=30)
            statuses.append(response.status_code)
            texts += [str(response.status_code), repr(response.headers), response.text]
    assert statuses == expected
    assert any("GET" in line for line in server.output)  # the request log was captured
    assert leaks(texts + server.output) == []


@pytest.mark.parametrize("kind", ["short_signing_key", "secret_with_space", "everything_at_once"])
def test_cli_configuration_errors_show_no_secret(
    cli_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`r2store check` and other commands on a bad configuration exit 2 and show no secret."""
    for name, value in BAD_ENVS[kind].items():
        monkeypatch.setenv(name, value)
    assert main(["-v", "check"]) == 2
    assert main(["ls"]) == 2
    out, err = capsys.readouterr()
    assert "R2_" in err
    assert leaks([out, err]) == []


# -- the detector itself -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"x{SECRET}y",
        f"Authorization: {base64.b64encode(b'user:' + SECRET.encode()).decode()}",
        SIGNING_KEY.encode().hex().upper(),
        quote(SECRET, safe=""),
        base64.urlsafe_b64encode(b"ab" + SIGNING_KEY.encode()).decode(),
    ],
)
def test_the_leak_detector_finds_encoded_secrets(text: str) -> None:
    """The search finds the secrets raw, in base64 at any alignment, in hex and percent-encoded."""
    assert leaks([text]) != []
