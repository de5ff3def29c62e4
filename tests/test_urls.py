"""The URL builders: public, proxy and signed proxy URLs (no network)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from r2store import InvalidKeyError, InvalidMetadataError, R2Config
from r2store.keys import MAX_KEY_BYTES, is_plain_key, object_key, quote_key
from r2store.urls import URLBuilder, proxy_signature_valid

from .test_keys import VALID_KEYS

SIGNING_KEY = "s" * 40

CONFIG = R2Config(
    account_id="0" * 32,
    bucket="media",
    access_key_id="key-id",
    secret_access_key="secret-value-that-must-not-leak",
    public_url="https://cdn.example.com/base/",
    location="uploads",
)
SIGNED = attrs.evolve(CONFIG, proxy_signing_key=SIGNING_KEY)


def public_url(config: R2Config, key: str) -> str:
    """The public URL of *key* under *config*."""
    return URLBuilder(config).public(key)


def proxy_url(config: R2Config, key: str, *, expires_in: int | None = None) -> str:
    """The proxy URL of *key* under *config*."""
    return URLBuilder(config).proxy(key, expires_in=expires_in)


def short(key: str) -> bool:
    """Whether *key* under CONFIG's location fits R2's key limit."""
    return len(f"uploads/{key}".encode()) <= MAX_KEY_BYTES


@given(VALID_KEYS)
def test_public_url_path_unquotes_to_the_object_key(key: str) -> None:
    """Unquoting a public URL's path gives back base path, location and key."""
    if short(key):
        path = urlsplit(public_url(CONFIG, key)).path
        assert unquote(path) == f"/base/uploads/{key}"


@given(VALID_KEYS)
def test_proxy_url_path_unquotes_to_the_key(key: str) -> None:
    """Unquoting a proxy URL's path gives back the proxy path and the key."""
    if short(key):
        assert unquote(urlsplit(proxy_url(CONFIG, key)).path) == f"/media-proxy/{key}"


@given(VALID_KEYS)
def test_every_mode_spells_a_key_the_same_way(key: str) -> None:
    """Public and proxy URLs quote a key identically."""
    if short(key):
        quoted_public = public_url(CONFIG, key).removeprefix(
            "https://cdn.example.com/base/uploads/"
        )
        quoted_proxy = proxy_url(CONFIG, key).removeprefix("/media-proxy/")
        assert quoted_public == quoted_proxy


def test_bad_keys_are_refused_in_urls() -> None:
    """URL builders refuse what the key normaliser refuses."""
    for builder in (public_url, proxy_url):
        with pytest.raises(InvalidKeyError):
            builder(CONFIG, "../x")


def test_public_url_needs_a_public_url() -> None:
    """Without R2_PUBLIC_DOMAIN/URL, public_url says what to set."""
    with pytest.raises(ValueError, match="R2_PUBLIC_DOMAIN"):
        public_url(attrs.evolve(CONFIG, public_url=None), "a.png")


def test_unsigned_proxy_url_refuses_an_expiry() -> None:
    """An expiry without a signing key would be a lie: it is refused."""
    with pytest.raises(ValueError, match="R2_PROXY_SIGNING_KEY"):
        proxy_url(CONFIG, "a.png", expires_in=60)


def signed_parts(url: str) -> tuple[str, str, str]:
    """The key, expires and signature of a signed proxy URL."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    key = unquote(parts.path.removeprefix("/media-proxy/"))
    return key, query["expires"][0], query["signature"][0]


def test_signed_proxy_url_verifies() -> None:
    """A signed proxy URL carries an expiry and a signature the proxy accepts."""
    key, expires, signature = signed_parts(proxy_url(SIGNED, "a b.png", expires_in=600))
    assert key == "a b.png"
    assert int(expires) >= time.time() + 600
    assert proxy_signature_valid(SIGNED, key, expires, signature)


def test_signed_proxy_urls_are_stable_for_a_while() -> None:
    """Two renders a moment apart give the same URL, so browsers can cache the image."""
    assert proxy_url(SIGNED, "a.png", expires_in=3600) == proxy_url(
        SIGNED, "a.png", expires_in=3600
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda k, e, s: (k, e, s), True),
        (lambda k, e, s: ("other.png", e, s), False),
        (lambda k, e, s: (k, str(int(e) + 1), s), False),
        (lambda k, e, s: (k, e, s[:-1] + ("A" if s[-1] != "A" else "B")), False),
        (lambda k, e, s: (k, None, s), False),
        (lambda k, e, s: (k, e, None), False),
        (lambda k, e, s: (k, "-1", s), False),
        (lambda k, e, s: (k, "1e9", s), False),
        (lambda k, e, s: (k, e, "é" * 43), False),
    ],
)
def test_tampered_signatures_fail(change: object, expected: bool) -> None:
    """Changing the key, the expiry or the signature invalidates a signed URL."""
    parts = signed_parts(proxy_url(SIGNED, "a.png", expires_in=600))
    key, expires, signature = change(*parts)  # type: ignore[operator]
    assert proxy_signature_valid(SIGNED, key, expires, signature) is expected


def test_expired_signatures_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    """A signed URL stops working once its expiry has passed."""
    key, expires, signature = signed_parts(proxy_url(SIGNED, "a.png", expires_in=60))
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + 60 * 3)
    assert not proxy_signature_valid(SIGNED, key, expires, signature)


def test_signature_from_another_key_fails() -> None:
    """A URL signed with one signing key is refused under another."""
    key, expires, signature = signed_parts(proxy_url(SIGNED, "a.png"))
    other = attrs.evolve(SIGNED, proxy_signing_key="t" * 40)
    assert not proxy_signature_valid(other, key, expires, signature)


@pytest.mark.parametrize(
    "change",
    [{"bucket": "other-media"}, {"location": "other"}, {"location": ""}, {"location": "uploads/a"}],
)
def test_signature_is_bound_to_the_bucket_and_location(change: dict[str, Any]) -> None:
    """A URL signed for one bucket and location is refused under another with the same key."""
    key, expires, signature = signed_parts(proxy_url(SIGNED, "a.png"))
    assert proxy_signature_valid(SIGNED, key, expires, signature)
    assert not proxy_signature_valid(attrs.evolve(SIGNED, **change), key, expires, signature)


@given(st.text(max_size=30), st.text(max_size=15), st.text(max_size=50))
def test_signature_check_never_raises(key: str, expires: str, signature: str) -> None:
    """Arbitrary input to the signature check gives False, never an exception."""
    assert not proxy_signature_valid(SIGNED, key, expires, signature)


@given(
    st.one_of(VALID_KEYS, st.text(max_size=40), st.from_regex(r"[a-z./_~-]{1,12}", fullmatch=True))
)
def test_plain_keys_are_a_subset_of_valid_keys(key: str) -> None:
    """Whatever the fast path accepts, the full check accepts and quoting leaves unchanged."""
    if is_plain_key(key) is not None:
        assert object_key(key) == key
        assert quote_key(key) == key


@pytest.mark.parametrize("key", ["a/../b", "./a", "a/.", "..", "a//b", "/a", "a/", ""])
def test_dot_and_empty_segments_are_not_plain(key: str) -> None:
    """The fast path never takes a key with a dot or empty segment."""
    assert is_plain_key(key) is None


@pytest.mark.parametrize("method", ["GET", "PUT"])
@pytest.mark.parametrize("name", ["content_type", "content_disposition"])
@pytest.mark.parametrize("value", ["text/plain\r\nX-Evil: 1", "text/plain\n", "a\x1b[2J"])
def test_presigned_refuses_header_values_save_refuses(method: str, name: str, value: str) -> None:
    """A Content-Type or Content-Disposition with a CR, LF or other control character is
    refused (InvalidMetadataError, a ValueError), as save() refuses it."""
    headers: dict[str, Any] = {name: value}
    with pytest.raises(InvalidMetadataError, match=name):
        URLBuilder(CONFIG).presigned("a.txt", method=method, **headers)
