"""The SigV4 query signer, checked byte for byte against botocore's own presigner."""

from __future__ import annotations

import ast
import datetime
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

from r2store import _presign
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
