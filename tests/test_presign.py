"""The SigV4 query signer, checked byte for byte against botocore's own presigner."""

from __future__ import annotations

import ast
import datetime
import hashlib
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import quote

import botocore.config
import botocore.session
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from r2store import R2Store, _presign
from r2store._presign import MAX_EXPIRES_IN, QuerySigner

# A "/" and a "+" make sure the access key is quoted inside X-Amz-Credential.
ACCESS_KEY_ID = "test/access+key-id"
SECRET_ACCESS_KEY = "test-SECRET-presign-do-not-leak-0123456789"
BUCKET = "my-bucket"
LOCAL = "http://127.0.0.1:9000"
R2 = "https://0123456789abcdef.r2.cloudflarestorage.com"
WHEN = datetime.datetime(2025, 3, 4, 5, 6, 7)

_OPERATIONS = {
    "GET": "get_object",
    "HEAD": "head_object",
    "PUT": "put_object",
    "DELETE": "delete_object",
}
# How botocore's Params for these operations appear in the request it signs.
_QUERY_PARAMS = {
    "ResponseContentDisposition": "response-content-disposition",
    "ResponseContentType": "response-content-type",
}
_HEADER_PARAMS = {"ContentType": "content-type"}


class Botocore:
    """botocore presigners with a frozen clock: one client per (endpoint, region), made lazily."""

    def __init__(self) -> None:
        self.clients: dict[tuple[str, str], Any] = {}

    def url(
        self,
        endpoint: str,
        region: str,
        method: str,
        key: str,
        *,
        expires_in: int,
        when: datetime.datetime,
        params: Mapping[str, str] | None = None,
    ) -> str:
        """botocore's presigned URL for *method* on *key* in BUCKET, signed at *when*."""
        client = self.clients.get((endpoint, region))
        if client is None:
            client = botocore.session.get_session().create_client(
                "s3",
                endpoint_url=endpoint,
                region_name=region,
                aws_access_key_id=ACCESS_KEY_ID,
                aws_secret_access_key=SECRET_ACCESS_KEY,
                config=botocore.config.Config(
                    signature_version="s3v4",
                    s3={"addressing_style": "path"},
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                ),
            )
            self.clients[endpoint, region] = client
        # botocore.auth reads the time through this name; naive UTC, as botocore returns it.
        with mock.patch("botocore.auth.get_current_datetime", return_value=when):
            url: str = client.generate_presigned_url(
                _OPERATIONS[method],
                Params={"Bucket": BUCKET, "Key": key, **(params or {})},
                ExpiresIn=expires_in,
                HttpMethod=method,
            )
        return url


@pytest.fixture(scope="module")
def botocore_presigner() -> Iterator[Botocore]:
    """botocore's presigner, the reference the signer must match."""
    reference = Botocore()
    yield reference
    for client in reference.clients.values():
        client.close()


def make_signer(endpoint: str = LOCAL, region: str = "auto") -> QuerySigner:
    """A signer with the test credentials."""
    return QuerySigner(
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
        region=region,
        endpoint_url=endpoint,
    )


def signer_url(
    signer: QuerySigner,
    method: str,
    key: str,
    *,
    expires_in: int,
    when: datetime.datetime | None,
    params: Mapping[str, str] | None = None,
) -> str:
    """The signer's URL for the same request as ``Botocore.url`` with the same arguments."""
    params = params or {}
    headers = {_HEADER_PARAMS[k]: v for k, v in params.items() if k in _HEADER_PARAMS}
    query = {_QUERY_PARAMS[k]: v for k, v in params.items() if k in _QUERY_PARAMS}
    return signer.presign(
        method,
        f"/{BUCKET}/{quote(key, safe='/')}",
        expires_in=expires_in,
        headers=headers or None,
        query=query or None,
        now=when,
    )


@pytest.mark.parametrize(
    ("endpoint", "region", "method", "key", "params", "expires_in"),
    [
        (LOCAL, "auto", "GET", "a.jpg", {}, 3600),
        (LOCAL, "auto", "GET", "profile_images/a b.jpg", {}, 3600),
        (LOCAL, "auto", "GET", "ünïcødé/日本/😀.png", {}, 3600),
        (LOCAL, "auto", "GET", "~user/+plus=equals&amp?q#frag%20", {}, 3600),
        (LOCAL, "auto", "GET", "!$'()*,;:@[]{}|^`<>\"", {}, 3600),
        (LOCAL, "auto", "GET", "dir with space/  lead and trail  ", {}, 3600),
        (LOCAL, "auto", "HEAD", "a b.jpg", {}, 60),
        (LOCAL, "auto", "DELETE", "a b.jpg", {}, 60),
        (LOCAL, "auto", "PUT", "uploads/a b.png", {}, 900),
        (LOCAL, "auto", "PUT", "uploads/a b.png", {"ContentType": "image/png"}, 900),
        (LOCAL, "auto", "PUT", "a.txt", {"ContentType": "  text/plain;   charset=utf-8 "}, 900),
        (
            LOCAL,
            "auto",
            "GET",
            "reports/q1 2025.pdf",
            {
                "ResponseContentDisposition": 'attachment; filename="q1 2025.pdf"',
                "ResponseContentType": "application/pdf",
            },
            300,
        ),
        (
            LOCAL,
            "auto",
            "GET",
            "a.pdf",
            {"ResponseContentType": "text/plain", "ResponseContentDisposition": "inline"},
            300,
        ),
        (
            LOCAL,
            "auto",
            "GET",
            "日本.txt",
            {"ResponseContentDisposition": "attachment; filename*=UTF-8''%E6%97%A5.txt"},
            300,
        ),
        (LOCAL, "auto", "GET", "a.jpg", {"ResponseContentType": ""}, 300),
        (LOCAL, "auto", "GET", "a.jpg", {}, 1),
        (LOCAL, "auto", "GET", "a.jpg", {}, MAX_EXPIRES_IN),
        (R2, "auto", "GET", "a b.jpg", {}, 3600),
        (R2, "us-east-1", "GET", "a b.jpg", {}, 3600),
        (R2, "us-east-1", "PUT", "a b.jpg", {"ContentType": "image/jpeg"}, 3600),
        (R2 + ":443", "auto", "GET", "a.jpg", {}, 3600),
        (R2.upper().replace("HTTPS", "https"), "auto", "GET", "a.jpg", {}, 3600),
        ("http://localhost:80", "auto", "GET", "a.jpg", {}, 3600),
        ("http://localhost", "us-east-1", "GET", "a.jpg", {}, 3600),
        ("http://[::1]:9000", "auto", "GET", "a.jpg", {}, 3600),
    ],
)
def test_matches_botocore(
    botocore_presigner: Botocore,
    endpoint: str,
    region: str,
    method: str,
    key: str,
    params: dict[str, str],
    expires_in: int,
) -> None:
    """The URL is byte-identical to botocore's for the same request and clock."""
    expected = botocore_presigner.url(
        endpoint, region, method, key, expires_in=expires_in, when=WHEN, params=params
    )
    actual = signer_url(
        make_signer(endpoint, region),
        method,
        key,
        expires_in=expires_in,
        when=WHEN,
        params=params,
    )
    assert actual == expected


# Segments a key may hold: any text without "/" "\\" or control characters, other than "." and "..".
_SEGMENT = st.text(
    st.characters(exclude_categories=("Cc", "Cs"), exclude_characters="/\\"),
    min_size=1,
    max_size=20,
).filter(lambda s: s not in (".", ".."))
_KEYS = st.lists(_SEGMENT, min_size=1, max_size=6).map("/".join)
_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)


@settings(max_examples=200, deadline=None)
@given(
    key=_KEYS,
    method=st.sampled_from(sorted(_OPERATIONS)),
    expires_in=st.integers(1, MAX_EXPIRES_IN),
    when=st.datetimes(datetime.datetime(2000, 1, 1), datetime.datetime(2099, 12, 31)),
    endpoint=st.sampled_from([LOCAL, R2]),
    region=st.sampled_from(["auto", "us-east-1"]),
    extra=_TEXT,
)
def test_matches_botocore_for_any_key(
    botocore_presigner: Botocore,
    key: str,
    method: str,
    expires_in: int,
    when: datetime.datetime,
    endpoint: str,
    region: str,
    extra: str,
) -> None:
    """Any valid key, expiry, time and free-text header or query value signs as botocore does."""
    params = {"GET": {"ResponseContentDisposition": extra}, "PUT": {"ContentType": extra}}.get(
        method, {}
    )
    expected = botocore_presigner.url(
        endpoint, region, method, key, expires_in=expires_in, when=when, params=params
    )
    actual = signer_url(
        make_signer(endpoint, region),
        method,
        key,
        expires_in=expires_in,
        when=when,
        params=params,
    )
    assert actual == expected


def test_signing_key_is_derived_once_per_day(botocore_presigner: Botocore) -> None:
    """Calls on the same day reuse the day's signing key; a new day derives a new one."""
    signer = make_signer()
    later_that_day = WHEN + datetime.timedelta(hours=18, minutes=53)
    next_day = WHEN + datetime.timedelta(days=1)
    derive = mock.patch.object(
        QuerySigner, "_signing_day", autospec=True, side_effect=QuerySigner._signing_day
    )
    with derive as spy:
        first = signer_url(signer, "GET", "a.jpg", expires_in=60, when=WHEN)
        second = signer_url(signer, "GET", "a.jpg", expires_in=60, when=later_that_day)
        assert spy.call_count == 1
        third = signer_url(signer, "GET", "a.jpg", expires_in=60, when=next_day)
        assert spy.call_count == 2
    for url, when in [(first, WHEN), (second, later_that_day), (third, next_day)]:
        assert url == botocore_presigner.url(
            LOCAL, "auto", "GET", "a.jpg", expires_in=60, when=when
        )


def test_one_signer_signs_across_days(botocore_presigner: Botocore) -> None:
    """A signer moving back and forth between days signs each with that day's key."""
    signer = make_signer()
    days = [WHEN, WHEN + datetime.timedelta(days=1), WHEN, WHEN + datetime.timedelta(days=400)]
    for when in days:
        expected = botocore_presigner.url(LOCAL, "auto", "GET", "a.jpg", expires_in=60, when=when)
        assert signer_url(signer, "GET", "a.jpg", expires_in=60, when=when) == expected


def test_default_clock_is_current_utc_time(botocore_presigner: Botocore) -> None:
    """Without ``now`` the signer uses the current time, in UTC."""
    epoch = WHEN.replace(tzinfo=datetime.timezone.utc).timestamp() + 0.75
    with mock.patch("time.time", return_value=epoch):
        actual = signer_url(make_signer(), "GET", "a.jpg", expires_in=60, when=None)
    expected = botocore_presigner.url(LOCAL, "auto", "GET", "a.jpg", expires_in=60, when=WHEN)
    assert actual == expected


def test_aware_now_is_converted_to_utc() -> None:
    """An aware ``now`` in another time zone signs as the same instant in UTC."""
    signer = make_signer()
    cest = datetime.timezone(datetime.timedelta(hours=2))
    aware = WHEN.replace(tzinfo=datetime.timezone.utc).astimezone(cest)
    assert signer.presign("GET", "/b/k", expires_in=60, now=aware) == signer.presign(
        "GET", "/b/k", expires_in=60, now=WHEN
    )


@pytest.mark.parametrize("expires_in", [0, -1, MAX_EXPIRES_IN + 1, True, 1.5, "60", None])
def test_invalid_expiry_is_refused(expires_in: Any) -> None:
    """An expiry that is not an int from 1 s to 7 days raises ValueError."""
    with pytest.raises(ValueError, match="expires_in must be an int from 1 to 604800"):
        make_signer().presign("GET", "/b/k", expires_in=expires_in)


@pytest.mark.parametrize("method", ["get", "POST", "PATCH", "OPTIONS", ""])
def test_unsupported_method_is_refused(method: str) -> None:
    """Methods other than upper-case GET, HEAD, PUT and DELETE raise ValueError."""
    with pytest.raises(ValueError, match="method must be one of"):
        make_signer().presign(method, "/b/k", expires_in=60)


@pytest.mark.parametrize("path", ["b/k", "", "/b/k?x-id=1", "/b/k#top"])
def test_unencoded_or_relative_path_is_refused(path: str) -> None:
    """A path that is not absolute or still holds '?' or '#' raises ValueError."""
    with pytest.raises(ValueError, match="path must start with '/'"):
        make_signer().presign("GET", path, expires_in=60)


@pytest.mark.parametrize("name", ["X-Amz-Date", "x-amz-signature", "X-Amz-Security-Token"])
def test_query_cannot_set_auth_parameters(name: str) -> None:
    """Extra query parameters may not set the X-Amz-* parameters the signer owns."""
    with pytest.raises(ValueError, match="the signer sets X-Amz-"):
        make_signer().presign("GET", "/b/k", expires_in=60, query={name: "x"})


def test_headers_cannot_set_host() -> None:
    """The Host header comes from the endpoint, not from the caller."""
    with pytest.raises(ValueError, match="must not include 'host'"):
        make_signer().presign("GET", "/b/k", expires_in=60, headers={"Host": "evil.example"})


def test_repr_shows_endpoint_and_region_but_not_secret() -> None:
    """repr() names the endpoint and region and never shows the credentials."""
    text = repr(make_signer(R2, "auto"))
    assert text == f"QuerySigner(endpoint_url={R2!r}, region='auto')"
    assert SECRET_ACCESS_KEY not in text
    assert ACCESS_KEY_ID not in text


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"endpoint_url": "ftp://example.com"}, "endpoint_url must look like"),
        ({"endpoint_url": "https://example.com/bucket"}, "endpoint_url must look like"),
        ({"endpoint_url": "https://user@example.com"}, "endpoint_url must look like"),
        ({"region": ""}, "region must be a non-empty str"),
        ({"access_key_id": ""}, "access_key_id must be a non-empty str"),
        ({"secret_access_key": ""}, "secret_access_key must be a non-empty str"),
        ({"secret_access_key": SECRET_ACCESS_KEY + "é"}, "secret_access_key must be ASCII"),
    ],
)
def test_bad_settings_are_refused_without_showing_secret(
    overrides: dict[str, str], message: str
) -> None:
    """Invalid constructor arguments raise ValueError whose message leaves out the secret."""
    arguments = {
        "access_key_id": ACCESS_KEY_ID,
        "secret_access_key": SECRET_ACCESS_KEY,
        "region": "auto",
        "endpoint_url": R2,
        **overrides,
    }
    with pytest.raises(ValueError, match=message) as caught:
        QuerySigner(**arguments)
    assert SECRET_ACCESS_KEY not in str(caught.value)


def test_imports_only_the_standard_library() -> None:
    """The signer module imports nothing outside the standard library (no botocore)."""
    tree = ast.parse(Path(_presign.__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name.partition(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").partition(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert imported
    assert imported <= sys.stdlib_module_names


# -- header signing (the read path's Authorization header) ------------------------------


def botocore_headers(
    endpoint: str,
    region: str,
    method: str,
    path: str,
    *,
    query: Mapping[str, str] | None,
    headers: Mapping[str, str] | None,
    when: datetime.datetime,
) -> dict[str, str]:
    """The headers botocore's S3SigV4Auth adds to the same request, names in lower case.

    The query goes in as ``params``, so botocore encodes and sorts it itself.
    """
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(
        method=method, url=endpoint + path, params=dict(query or {}), headers=dict(headers or {})
    )
    auth = S3SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), "s3", region)
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        auth.add_auth(request)
    return {name.lower(): value for name, value in request.headers.items()}


def assert_signed_alike(
    endpoint: str,
    region: str,
    method: str,
    path: str,
    *,
    query: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    when: datetime.datetime = WHEN,
) -> dict[str, str]:
    """sign_headers gives botocore's Authorization, X-Amz-Date and X-Amz-Content-SHA256."""
    ours = make_signer(endpoint, region).sign_headers(
        method, path, query=query, headers=headers, now=when
    )
    theirs = botocore_headers(
        endpoint, region, method, path, query=query, headers=headers, when=when
    )
    for name in ("authorization", "x-amz-date", "x-amz-content-sha256"):
        assert ours[name] == theirs[name], name
    return ours


_ODD = "a b/ü日本😀 &<>\"'=+%2F?#~!$()*,;:@[]{}|^`\t"


@pytest.mark.parametrize(
    ("endpoint", "region", "method", "path", "query", "headers"),
    [
        (LOCAL, "auto", "GET", "/b/a.jpg", None, None),
        (LOCAL, "auto", "HEAD", "/b/a%20b.jpg", None, None),
        (R2, "auto", "GET", "/b/%E6%97%A5.txt", None, None),
        (R2 + ":443", "us-east-1", "GET", "/b/a.jpg", None, None),
        ("http://[::1]:9000", "auto", "GET", "/b/a.jpg", None, None),
        (LOCAL, "auto", "GET", "/b/a.jpg", None, {"Range": "bytes=0-99"}),
        (LOCAL, "auto", "GET", "/b/a.jpg", None, {"range": "bytes=-1", "If-None-Match": '"e"'}),
        (
            LOCAL,
            "auto",
            "GET",
            "/b/a.jpg",
            None,
            {
                "if-match": '"a", "b"',
                "if-modified-since": "Tue, 03 Nov 2026 10:00:00 GMT",
                "If-Unmodified-Since": "  Tue,  03 Nov 2026   10:00:00 GMT ",
            },
        ),
        # Passed through unsigned, as botocore leaves them out of the signature.
        (LOCAL, "auto", "GET", "/b/a.jpg", None, {"User-Agent": "x/1", "Range": "bytes=1-"}),
        (LOCAL, "auto", "GET", "/b", {"list-type": "2"}, None),
        (
            R2,
            "auto",
            "GET",
            "/b",
            {
                "list-type": "2",
                "encoding-type": "url",
                "max-keys": "1000",
                "prefix": "media/photos 2024/",
                "delimiter": "/",
                "continuation-token": "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=",
            },
            None,
        ),
        (LOCAL, "auto", "GET", "/b", {"list-type": "2", "prefix": _ODD, "delimiter": _ODD}, None),
        # Names that sort differently whole than by name ("max-keys" vs "max-keys2").
        (LOCAL, "auto", "GET", "/b", {"max-keys2": "1", "max-keys": "2", "a": ""}, None),
    ],
)
def test_header_signing_matches_botocore(
    endpoint: str,
    region: str,
    method: str,
    path: str,
    query: dict[str, str] | None,
    headers: dict[str, str] | None,
) -> None:
    """The Authorization header is byte-identical to botocore's S3SigV4Auth for the same request."""
    assert_signed_alike(endpoint, region, method, path, query=query, headers=headers)


@settings(max_examples=200, deadline=None)
@given(
    key=_KEYS,
    method=st.sampled_from(["GET", "HEAD"]),
    when=st.datetimes(datetime.datetime(2000, 1, 1), datetime.datetime(2099, 12, 31)),
    endpoint=st.sampled_from([LOCAL, R2]),
    prefix=_TEXT,
    token=_TEXT,
    value=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40),
)
def test_header_signing_matches_botocore_for_any_input(
    key: str,
    method: str,
    when: datetime.datetime,
    endpoint: str,
    prefix: str,
    token: str,
    value: str,
) -> None:
    """Any key, time, query text and header value signs as botocore signs it."""
    path = f"/{BUCKET}/{quote(key, safe='/')}"
    assert_signed_alike(endpoint, "auto", method, path, headers={"range": value}, when=when)
    query = {"list-type": "2", "prefix": prefix, "continuation-token": token}
    assert_signed_alike(endpoint, "auto", "GET", f"/{BUCKET}", query=query, when=when)


class _CapturedError(Exception):
    """Stops a botocore call once its signed request is seen."""

    def __init__(self, request: Any) -> None:
        super().__init__("captured")
        self.request = request


def _capture(client: Any, operation: str, **params: Any) -> Any:
    """The request a botocore client would send for *operation*, signed at WHEN, unsent."""

    def stop(request: Any, **_: Any) -> None:
        raise _CapturedError(request)

    client.meta.events.register_first("before-send.s3", stop)
    try:
        with mock.patch("botocore.auth.get_current_datetime", return_value=WHEN):
            getattr(client, operation)(Bucket=BUCKET, **params)
    except _CapturedError as captured:
        return captured.request
    finally:
        client.meta.events.unregister("before-send.s3", stop)
    raise AssertionError("botocore sent nothing")


def _text(value: str | bytes) -> str:
    # botocore keeps some header values as bytes.
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _as_client_sent(
    request: Any, method: str, *, payload_hash: str | None = None
) -> tuple[str, str]:
    """botocore's Authorization header, and sign_headers' for the same request.

    Ours is given the headers botocore signed (it adds ``amz-sdk-*`` after signing), less
    those the signer makes itself.
    """
    from urllib.parse import parse_qsl, urlsplit

    theirs = _text(request.headers["Authorization"])
    signed = theirs.split("SignedHeaders=")[1].split(",")[0].split(";")
    own = {"x-amz-date", "x-amz-content-sha256", "host"}
    headers = {
        name: _text(value)
        for name, value in request.headers.items()
        if name.lower() in signed and name.lower() not in own
    }
    parts = urlsplit(request.url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    ours = make_signer(R2).sign_headers(
        method, parts.path, query=query, headers=headers, payload_hash=payload_hash, now=WHEN
    )
    return ours["authorization"], theirs


def test_header_signing_matches_a_botocore_client(botocore_presigner: Botocore) -> None:
    """GetObject, HeadObject and ListObjectsV2 as a botocore client sends them sign alike."""
    botocore_presigner.url(R2, "auto", "GET", "a", expires_in=1, when=WHEN)  # makes the client
    client = botocore_presigner.clients[R2, "auto"]
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "get_object", {"Key": "a b/ü.txt", "Range": "bytes=5-", "IfNoneMatch": '"x"'}),
        ("HEAD", "head_object", {"Key": "photos/&<odd>.png"}),
        (
            "GET",
            "list_objects_v2",
            {
                "Prefix": "media/ä b&c/",
                "Delimiter": "/",
                "MaxKeys": 1000,
                "ContinuationToken": "token+/=",
                "EncodingType": "url",
            },
        ),
    ]
    signed: dict[str, str] = {}
    for method, operation, params in calls:
        ours, theirs = _as_client_sent(_capture(client, operation, **params), method)
        assert ours == theirs, operation
        signed[operation] = theirs
    # botocore signs the Range and If-None-Match it sends, so the comparison covered them.
    assert "SignedHeaders=host;if-none-match;range;x-amz" in signed["get_object"]


def test_signed_headers_hold_what_to_send() -> None:
    """The result has host, the caller's headers, the date, the payload hash and the signature."""
    sent = make_signer(R2).sign_headers("GET", "/b/k", headers={"Range": "bytes=0-1"}, now=WHEN)
    assert sent["host"] == "0123456789abcdef.r2.cloudflarestorage.com"
    assert sent["range"] == "bytes=0-1"
    assert sent["x-amz-date"] == "20250304T050607Z"
    assert sent["x-amz-content-sha256"] == _presign.EMPTY_SHA256
    assert sent["authorization"].startswith(
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY_ID}/20250304/auto/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature="
    )


def test_header_signing_shares_the_days_key() -> None:
    """Presigning and header signing on one day derive the signing key once between them."""
    signer = make_signer()
    derive = mock.patch.object(
        QuerySigner, "_signing_day", autospec=True, side_effect=QuerySigner._signing_day
    )
    with derive as spy:
        signer.presign("GET", "/b/k", expires_in=60, now=WHEN)
        signer.sign_headers("GET", "/b/k", now=WHEN + datetime.timedelta(hours=1))
        assert spy.call_count == 1


@pytest.mark.parametrize("method", ["DELETE", "POST", "get"])
def test_header_signing_is_for_get_head_and_put(method: str) -> None:
    """Only GET, HEAD and PUT are signed in headers."""
    with pytest.raises(ValueError, match="method must be GET, HEAD or PUT"):
        make_signer().sign_headers(method, "/b/k")


def test_a_put_needs_its_payload_hash() -> None:
    """A PUT is signed with its body's hash, which the caller must give."""
    with pytest.raises(ValueError, match="payload_hash"):
        make_signer().sign_headers("PUT", "/b/k")


def test_a_get_has_no_payload_hash() -> None:
    """A GET or HEAD signs the empty payload's hash; another is refused."""
    with pytest.raises(ValueError, match="no payload"):
        make_signer().sign_headers("GET", "/b/k", payload_hash="0" * 64)


def test_put_signing_matches_r2stores_botocore_client() -> None:
    """PutObject and UploadPart as r2store's botocore client sends them over https sign
    alike: the same signed headers, and the body's SHA-256 as the payload hash (botocore
    sends UNSIGNED-PAYLOAD only with a checksum header, which r2store's settings leave out)."""
    from r2store import R2Config, R2Store

    store = R2Store(
        R2Config(
            endpoint_url=R2,
            bucket=BUCKET,
            access_key_id=ACCESS_KEY_ID,
            secret_access_key=SECRET_ACCESS_KEY,
        )
    )
    body = b"\x00payload " * 1000
    calls: list[tuple[str, dict[str, Any]]] = [
        (
            "put_object",
            {
                "Key": "a b/ü.txt",
                "Body": body,
                "IfNoneMatch": "*",
                "ContentType": "text/plain; charset=utf-8",
                "CacheControl": "public,  max-age=60",
                "ContentDisposition": 'attachment; filename="a b.txt"',
                "ContentEncoding": "gzip",
                "Metadata": {"Owner": "42", "note": " two  spaces "},
            },
        ),
        ("upload_part", {"Key": "big.bin", "Body": body, "UploadId": "up/id+=", "PartNumber": 7}),
    ]
    try:
        for operation, params in calls:
            request = _capture(store.client, operation, **params)
            payload_hash = _text(request.headers["X-Amz-Content-SHA256"])
            assert payload_hash == hashlib.sha256(body).hexdigest(), operation
            ours, theirs = _as_client_sent(request, "PUT", payload_hash=payload_hash)
            assert ours == theirs, operation
    finally:
        store.close()


@pytest.mark.parametrize("name", ["Host", "authorization", "X-Amz-Date", "x-amz-content-sha256"])
def test_header_signing_refuses_the_signers_own_headers(name: str) -> None:
    """A caller cannot set the headers the signature is made of."""
    with pytest.raises(ValueError, match="headers must not set"):
        make_signer().sign_headers("GET", "/b/k", headers={name: "x"})


def test_header_signing_refuses_a_header_twice() -> None:
    """Two spellings of one header name are refused, not signed one way and sent another."""
    with pytest.raises(ValueError, match="headers must not set 'range'"):
        make_signer().sign_headers("GET", "/b/k", headers={"Range": "bytes=0-", "range": "x"})


@pytest.mark.parametrize("path", ["b/k", "", "/b/k?x-id=1", "/b/k#top"])
def test_header_signing_refuses_a_raw_path(path: str) -> None:
    """The path must be absolute and percent-encoded, as for presigning."""
    with pytest.raises(ValueError, match="path must start with '/'"):
        make_signer().sign_headers("GET", path)


def test_encode_query_is_what_botocore_sends() -> None:
    """The query text sign_headers signs is a valid, sorted query string of the same pairs."""
    from urllib.parse import parse_qsl

    query = {"prefix": _ODD, "list-type": "2", "continuation-token": "a+b/c="}
    text = _presign.encode_query(query)
    assert dict(parse_qsl(text, keep_blank_values=True)) == query
    assert [pair.split("=")[0] for pair in text.split("&")] == [
        "continuation-token",
        "list-type",
        "prefix",
    ]
    assert "+" not in text
    assert " " not in text


# -- the URLs on the tests' S3 server (moto, or SeaweedFS, which checks signatures) ------

_SERVER_KEY = "pre signed/ü+&=?#%2F.txt"


def _send(url: str, method: str) -> tuple[int, dict[str, str], bytes]:
    """The status, headers (names in lower case) and body of *method* on *url*."""
    import urllib.request

    with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10) as answer:
        headers = {name.lower(): value for name, value in answer.headers.items()}
        return answer.status, headers, answer.read()


def test_the_server_takes_a_presigned_head(store: R2Store) -> None:
    """A presigned HEAD URL gets the object's headers from the server."""
    store.save(_SERVER_KEY, b"12345")

    status, headers, _ = _send(store.presigned_url(_SERVER_KEY, method="HEAD"), "HEAD")

    assert (status, headers["content-length"]) == (200, "5")


def test_the_server_takes_a_presigned_delete(store: R2Store) -> None:
    """A presigned DELETE URL deletes the object."""
    store.save(_SERVER_KEY, b"x")

    status, _, _ = _send(store.presigned_url(_SERVER_KEY, method="DELETE"), "DELETE")

    assert status == 204
    assert not store.exists(_SERVER_KEY)


def test_the_server_answers_with_the_signed_response_headers(store: R2Store) -> None:
    """A presigned GET's response-content-type and -disposition come back as the headers."""
    disposition = "attachment; filename=\"q1 2025.pdf\"; filename*=UTF-8''q1%202025%20%C3%BC.pdf"
    store.save(_SERVER_KEY, b"%PDF")
    url = store.presigned_url(
        _SERVER_KEY, content_type="application/pdf", content_disposition=disposition
    )

    _, headers, body = _send(url, "GET")

    assert body == b"%PDF"
    assert (headers["content-type"], headers["content-disposition"]) == (
        "application/pdf",
        disposition,
    )


@pytest.mark.checks_signatures
def test_the_server_refuses_an_expired_url(store: R2Store) -> None:
    """A presigned GET URL past its expiry gets 403."""
    import urllib.error

    from r2store.keys import quote_key
    from tests.conftest import ACCESS_KEY_ID as SERVER_KEY_ID
    from tests.conftest import SECRET_ACCESS_KEY as SERVER_SECRET

    store.save(_SERVER_KEY, b"x")
    signer = QuerySigner(
        access_key_id=SERVER_KEY_ID,
        secret_access_key=SERVER_SECRET,
        region=store.config.region,
        endpoint_url=store.config.endpoint,
    )
    an_hour_ago = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    path = f"/{store.config.bucket}/{quote_key(_SERVER_KEY)}"
    url = signer.presign("GET", path, expires_in=60, now=an_hour_ago)

    with pytest.raises(urllib.error.HTTPError) as caught:
        _send(url, "GET")

    assert caught.value.code == 403
    caught.value.close()
