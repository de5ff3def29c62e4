"""Property tests on hostile input, across module lines: keys, URLs, HTTP headers, the
environment, signed proxy URLs, and the media proxy as a whole against the moto bucket.

The single-module properties live beside their modules (test_keys, test_urls, test_http,
test_config); these are the ones that were missing there, and the ones that cross modules.
No test sets ``max_examples``: the active profile decides (R2STORE_HYPOTHESIS_PROFILE=fuzz
runs 10,000 examples each, see tests/conftest.py and ``nox -s fuzz``).
"""

from __future__ import annotations

import contextlib
import re
import string
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import attrs
import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from r2store import ConfigError, InvalidKeyError, R2Config, R2Store
from r2store._http import (
    evaluate_preconditions,
    format_http_date,
    if_range_matches,
    parse_http_date,
    parse_range,
)
from r2store.config import ENV_VARS
from r2store.keys import MAX_KEY_BYTES, check_location, object_key, object_prefix, relative_key
from r2store.proxy import MediaProxy
from r2store.urls import URLBuilder, proxy_signature_valid
from tests.conftest import ACCESS_KEY_ID, SECRET_ACCESS_KEY
from tests.integrations.test_paths import TRAVERSALS

SIGNING_KEY = "fuzz-proxy-signing-key-0123456789abcdef"

#: Pieces that make paths interesting: dot segments, separators, encodings, look-alikes.
_PIECES = st.sampled_from(
    [
        "..",
        ".",
        "",
        "a",
        "media",
        "secret.txt",
        "hello.txt",
        "%2e%2e",
        "%2f",
        "\\",
        "\x00",
        "\u2024",
        "\uff0e\uff0e",
        "ü",
        " ",
        "...",
        "/",
        "a" * 300,
    ]
)
#: Keys as a server hands them over (decoded once): text, joined pieces, known traversals.
KEYS = st.one_of(
    st.text(),
    st.lists(_PIECES, max_size=6).map("/".join),
    st.lists(_PIECES, max_size=6).map("".join),
    st.sampled_from([unquote(target) for target in TRAVERSALS]),
)
LOCATIONS = st.sampled_from(["", "media", "a/b", "ü/x y", "x" * 1000])


def _segments_are_clean(full: str) -> bool:
    return all(segment not in ("", ".", "..") for segment in full.split("/"))


# -- keys -------------------------------------------------------------------------------------


@given(st.one_of(st.text(), st.binary(), st.integers(), st.none(), st.lists(st.text())), LOCATIONS)
def test_object_key_raises_only_invalid_key_error(key: Any, location: str) -> None:
    """object_key() on anything returns a str or raises InvalidKeyError, nothing else."""
    try:
        full = object_key(key, location)
    except InvalidKeyError:
        return
    assert isinstance(full, str)


@given(KEYS, LOCATIONS)
def test_an_accepted_key_is_the_location_and_the_key_unchanged(key: str, location: str) -> None:
    """An accepted key is ``location/key`` exactly, fits R2's limit, and maps back to key."""
    try:
        full = object_key(key, location)
    except InvalidKeyError:
        return
    assert full == (f"{location}/{key}" if location else key)
    assert len(full.encode()) <= MAX_KEY_BYTES
    assert _segments_are_clean(full)
    assert relative_key(full, location) == key


@given(st.text())
def test_check_location_raises_only_invalid_key_error(location: str) -> None:
    """check_location() on any text returns a clean prefix or raises InvalidKeyError."""
    try:
        checked = check_location(location)
    except InvalidKeyError:
        return
    assert checked == location.strip("/")
    assert not checked or _segments_are_clean(checked)


@given(KEYS | st.text().map(lambda s: s + "/"), LOCATIONS)
def test_a_listing_prefix_never_leaves_the_location(prefix: str, location: str) -> None:
    """object_prefix() gives a prefix inside location, or raises InvalidKeyError."""
    try:
        full = object_prefix(prefix, location)
    except InvalidKeyError:
        return
    if location:
        assert full.startswith(location + "/")
    assert _segments_are_clean(full.removesuffix("/")) or full in ("", f"{location}/")


# -- URLs -------------------------------------------------------------------------------------


def _config(location: str, **changes: Any) -> R2Config:
    return R2Config(
        account_id="0" * 32,
        bucket="media",
        access_key_id="key-id",
        secret_access_key="fuzz-secret",
        public_url="https://cdn.example.com/base",
        location=location,
        **changes,
    )


_CONFIGS = {location: _config(location) for location in ["", "media", "a/b", "ü/x y"]}
_SIGNED = {
    location: attrs.evolve(config, proxy_signing_key=SIGNING_KEY)
    for location, config in _CONFIGS.items()
}


@given(KEYS, st.sampled_from(list(_CONFIGS)))
def test_url_builders_refuse_exactly_what_object_key_refuses(key: str, location: str) -> None:
    """Public, proxy and presigned URLs raise InvalidKeyError exactly for refused keys."""
    builder = URLBuilder(_CONFIGS[location])
    try:
        object_key(key, location)
    except InvalidKeyError:
        refused = True
    else:
        refused = False
    for build in (builder.public, builder.proxy, builder.presigned):
        try:
            build(key)
        except InvalidKeyError:
            assert refused
        else:
            assert not refused


@given(KEYS, st.sampled_from(list(_CONFIGS)))
def test_every_url_of_a_key_keeps_its_host_and_unquotes_to_the_key(key: str, location: str) -> None:
    """Public, proxy and presigned URLs keep their host, and their paths unquote to the key."""
    try:
        full = object_key(key, location)
    except InvalidKeyError:
        return
    builder = URLBuilder(_CONFIGS[location])
    public = urlsplit(builder.public(key))
    proxy = urlsplit(builder.proxy(key))
    presigned = urlsplit(builder.presigned(key))
    assert (public.scheme, public.netloc, public.query, public.fragment) == (
        "https",
        "cdn.example.com",
        "",
        "",
    )
    assert unquote(public.path) == f"/base/{full}"
    assert (proxy.netloc, proxy.query, proxy.fragment) == ("", "", "")
    assert unquote(proxy.path) == f"/media-proxy/{key}"
    assert presigned.netloc == f"{'0' * 32}.r2.cloudflarestorage.com"
    assert unquote(presigned.path) == f"/media/{full}"


@given(KEYS, st.sampled_from(list(_SIGNED)), st.integers(min_value=1, max_value=604800))
def test_a_signed_proxy_url_verifies_for_the_key_its_path_names(
    key: str, location: str, expires_in: int
) -> None:
    """The key decoded from a signed proxy URL's path, with its query, passes the check."""
    config = _SIGNED[location]
    try:
        url = urlsplit(URLBuilder(config).proxy(key, expires_in=expires_in))
    except InvalidKeyError:
        return
    query = parse_qs(url.query)
    decoded = unquote(url.path).removeprefix(config.proxy_path)
    assert decoded == key
    assert proxy_signature_valid(config, decoded, query["expires"][0], query["signature"][0])


_EXPIRES = st.one_of(
    st.text(max_size=14),
    st.integers(min_value=-(10**13), max_value=10**13).map(str),
    # ASCII digits, and Arabic-Indic and Devanagari ones (str.isdigit() takes those too).
    st.text(alphabet="0123456789\u0661\u0662\u0663\u0669\u0966", max_size=13),
)


@given(
    key=KEYS,
    other_key=KEYS,
    other_expires=_EXPIRES,
    other_signature=st.text(max_size=50) | st.from_regex(r"[A-Za-z0-9_-]{43}", fullmatch=True),
    change=st.sampled_from(["key", "expires", "signature"]),
)
def test_only_the_genuine_signed_url_verifies(
    key: str, other_key: str, other_expires: str, other_signature: str, change: str
) -> None:
    """Changing a signed proxy URL's key, expiry value or signature makes it fail the check."""
    config = _SIGNED["media"]
    try:
        url = urlsplit(URLBuilder(config).proxy(key))
    except InvalidKeyError:
        return
    query = parse_qs(url.query)
    parts = {"key": key, "expires": query["expires"][0], "signature": query["signature"][0]}
    genuine = dict(parts)
    parts[change] = {"key": other_key, "expires": other_expires, "signature": other_signature}[
        change
    ]
    valid = proxy_signature_valid(config, parts["key"], parts["expires"], parts["signature"])
    if change == "expires":
        # "000123" and "123" are the same expiry: the value is signed, not its spelling.
        same = parts["expires"].isascii() and parts["expires"].isdigit()
        same = same and int(parts["expires"]) == int(genuine["expires"])
    else:
        same = parts[change] == genuine[change]
    assert valid == same


# -- HTTP headers -----------------------------------------------------------------------------

_AWARE = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1), timezones=st.just(timezone.utc)
)
_ETAGS = st.sampled_from(['"abc"', '"0123456789abcdef"', 'W/"abc"', '""']) | st.text()


@given(
    value=st.none() | st.text() | _AWARE.map(format_http_date) | _ETAGS,
    etag=st.none() | _ETAGS,
    last_modified=st.none() | _AWARE | st.datetimes(),
)
def test_if_range_matches_never_raises(
    value: str | None, etag: str | None, last_modified: datetime | None
) -> None:
    """if_range_matches() answers True or False for any If-Range text and validators."""
    assert if_range_matches(value, etag, last_modified) in (True, False)


@given(etag=st.from_regex(r'"[!#-~]{0,20}"', fullmatch=True), last_modified=_AWARE)
def test_if_range_takes_the_current_strong_etag_and_date(
    etag: str, last_modified: datetime
) -> None:
    """If-Range holding the current strong ETag or the exact date matches; a weak tag never."""
    assert if_range_matches(etag, etag, last_modified)
    assert if_range_matches(format_http_date(last_modified), etag, last_modified)
    assert not if_range_matches("W/" + etag, etag, last_modified)


@given(
    st.text()
    | _AWARE.map(format_http_date)
    | _AWARE.map(lambda d: d.strftime("%A, %d-%b-%y %H:%M:%S GMT"))
    | _AWARE.map(lambda d: d.strftime("%a %b %e %H:%M:%S %Y"))
)
def test_a_parsed_http_date_is_utc_to_the_second_and_formats_back(value: str) -> None:
    """A date parse_http_date() accepts is aware UTC, whole seconds, and survives a round trip."""
    parsed = parse_http_date(value)
    if parsed is None:
        return
    assert parsed.tzinfo is timezone.utc
    assert parsed.microsecond == 0
    assert parse_http_date(format_http_date(parsed)) == parsed


_CONDITION_HEADERS = st.dictionaries(
    st.sampled_from(["if-match", "if-none-match", "if-modified-since", "if-unmodified-since"]),
    _ETAGS | _AWARE.map(format_http_date) | st.just("*"),
)


_PRECONDITION_ARGUMENTS = {
    "method": st.sampled_from(["GET", "HEAD", "PUT", "DELETE", "get"]),
    "headers": _CONDITION_HEADERS,
    "etag": st.from_regex(r'"[!#-~]{0,20}"', fullmatch=True),
    "last_modified": _AWARE,
}


@given(
    **{
        **_PRECONDITION_ARGUMENTS,
        "headers": st.dictionaries(
            st.sampled_from(["if-match", "if-none-match", "if-modified-since"]),
            st.sampled_from(["", " ", "\t", " \t "]),
        ),
    }
)
def test_blank_conditions_count_as_absent(
    method: str, headers: dict[str, str], etag: str, last_modified: datetime
) -> None:
    """Condition headers that are blank (spaces and tabs) give 200, as absent ones do."""
    assert evaluate_preconditions(method, headers, etag, last_modified) == 200


@given(**_PRECONDITION_ARGUMENTS)
def test_not_modified_is_only_for_safe_methods(
    method: str, headers: dict[str, str], etag: str, last_modified: datetime
) -> None:
    """evaluate_preconditions() answers 304 only to GET and HEAD."""
    if evaluate_preconditions(method, headers, etag, last_modified) == 304:
        assert method in ("GET", "HEAD")


@given(**_PRECONDITION_ARGUMENTS)
def test_a_matching_if_match_overrides_if_unmodified_since(
    method: str, headers: dict[str, str], etag: str, last_modified: datetime
) -> None:
    """If-Match with the current tag never gives 412, whatever If-Unmodified-Since says."""
    with_match = {**headers, "if-match": etag}
    with_match.pop("if-none-match", None)
    assert evaluate_preconditions(method, with_match, etag, last_modified) != 412


@given(st.text(alphabet=string.digits + " \t,-=bytesBYTES", max_size=40) | st.text())
def test_a_parsed_range_round_trips_through_its_header(value: str) -> None:
    """A Range parse_range() accepts gives a header that parses to the same range."""
    byte_range = parse_range(value)
    if byte_range is not None:
        assert parse_range(byte_range.header()) == byte_range
        assert re.fullmatch(r"bytes=(\d+-\d*|-\d+)", byte_range.header())


# -- the environment ---------------------------------------------------------------------------

_KNOWN_VARS = sorted({var for var, _ in ENV_VARS.values()} | {"R2_PUBLIC_DOMAIN", "R2_PUBLIC_URL"})
_GOOD = {
    "R2_ENDPOINT_URL": "https://example.com",
    "R2_BUCKET_NAME": "media",
    "R2_ACCESS_KEY_ID": "key-id",
    "R2_SECRET_ACCESS_KEY": "fuzz-secret",
}
_ENV_VALUES = st.text(max_size=30) | st.sampled_from(
    [
        "",
        "true",
        "off",
        "3600",
        "0",
        "-1",
        "1e3",
        "nan",
        "inf",
        "eu",
        "auto",
        "media",
        "https://cdn.example.com/x",
        "http://127.0.0.1:9000",
        "/media-proxy/",
        "0123456789abcdef0123456789abcdef",
        "s" * 40,
        "x" * 2000,
    ]
)


@given(changes=st.dictionaries(st.sampled_from(_KNOWN_VARS), _ENV_VALUES))
def test_a_config_from_env_works_for_every_kind_of_url(changes: dict[str, str]) -> None:
    """Whatever from_env() accepts builds every kind of URL for an ordinary key."""
    try:
        config = R2Config.from_env({**_GOOD, **changes})
    except ConfigError:
        return
    store = R2Store(config)
    assert urlsplit(config.endpoint).scheme in ("http", "https")
    store.url("photos/a.jpg")
    store.proxy_url("photos/a.jpg")
    store.presigned_url("photos/a.jpg")
    if config.public_url:
        store.public_url("photos/a.jpg")


def _outcome(env: Mapping[str, str]) -> Any:
    try:
        return R2Config.from_env(env)
    except ConfigError as exc:
        return exc.problems


@given(
    changes=st.dictionaries(st.sampled_from(_KNOWN_VARS), _ENV_VALUES),
    padding=st.sampled_from([" ", "\t", "\n", " \t\r\n"]),
)
def test_whitespace_around_a_value_changes_nothing(changes: dict[str, str], padding: str) -> None:
    """Padding every variable with whitespace gives the same config, or the same problems."""
    env = {**_GOOD, **changes}
    padded = {name: f"{padding}{value}{padding}" for name, value in env.items()}
    assert _outcome(padded) == _outcome(env)


# Control characters in R2_CACHE_CONTROL would break every upload (CR/LF make
# botocore refuse the header), so the configuration check refuses them.
@given(value=st.text(max_size=30))
@example(value="max-age=60\r\nX-Injected: 1")
@example(value="public\x00")
def test_a_cache_control_from_env_is_a_valid_header_value(value: str) -> None:
    """R2_CACHE_CONTROL with a control character is a ConfigError, not a broken upload later."""
    try:
        config = R2Config.from_env({**_GOOD, "R2_CACHE_CONTROL": value})
    except ConfigError:
        return
    assert config.cache_control is None or not re.search(r"[\x00-\x1f\x7f]", config.cache_control)


# A location too long to leave room for keys is refused up front, not on first use.
@given(length=st.integers(min_value=1, max_value=3000))
@example(length=1023)
def test_a_location_from_env_leaves_room_for_keys(length: int) -> None:
    """An R2_LOCATION too long to leave room for a key is a ConfigError, not a failure later."""
    try:
        config = R2Config.from_env({**_GOOD, "R2_LOCATION": "x" * length})
    except ConfigError:
        return
    R2Store(config).url("a")


# A secret the signer cannot use (non-ASCII) is refused by the configuration check.
@given(secret=st.text(min_size=1, max_size=40).filter(lambda s: s.strip() == s))
@example(secret="s\u00e9cret-0123456789")
def test_a_secret_from_env_can_sign(secret: str) -> None:
    """A secret from_env() accepts can sign a presigned URL (else it is a ConfigError)."""
    try:
        config = R2Config.from_env({**_GOOD, "R2_SECRET_ACCESS_KEY": secret})
    except ConfigError:
        return
    R2Store(config).presigned_url("a.txt")


# -- the media proxy, whole, against the moto bucket ------------------------------------------

SECRET_BODY = b"outside the location: a traversal that works would show this\n"
#: What the fuzz bucket holds under ``media/``.
OBJECTS = {
    "hello.txt": b"hello\n",
    "a/b.txt": b"a, b\n",
    "\u00fc \u2603.txt": b"unicode\n",
    "empty.txt": b"",
}
ALLOWED = {200, 206, 304, 400, 403, 404, 405, 412, 416}
_HEADER_NAMES = ["range", "if-range", "if-match", "if-none-match", "if-modified-since",
                 "if-unmodified-since"]  # fmt: skip
#: Header values as a server delivers them: latin-1 text without CR or LF.
_HEADER_TEXT = st.text(st.characters(max_codepoint=255, blacklist_characters="\r\n"), max_size=40)
_HEADER_VALUES = _HEADER_TEXT | st.sampled_from(
    [
        "bytes=0-0",
        "bytes=-1",
        "bytes=2-",
        "bytes=1-2, 4-5",
        "bytes=99999999-",
        "*",
        '"x"',
        'W/"x"',
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Fri, 01 Jan 2100 00:00:00 GMT",
    ]
)


@attrs.define
class FuzzBucket:
    """The moto bucket the proxy fuzz runs against, and every key moto was asked to read."""

    unsigned: MediaProxy
    signed: MediaProxy
    keys_read: list[str]


@pytest.fixture(scope="module")
def fuzz_bucket(s3_endpoint: str) -> Iterator[FuzzBucket]:
    """A bucket with OBJECTS under ``media/``, SECRET_BODY at the root and beside ``media``.

    Reads are recorded where they arrive, in moto's object handler (in this process),
    whichever client the store reads with.
    """
    from moto.s3.responses import S3Response

    name = f"fuzz-{uuid.uuid4().hex[:12]}"
    base = R2Config(
        endpoint_url=s3_endpoint,
        bucket=name,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
    )
    root = R2Store(base)
    media = R2Store(attrs.evolve(base, location="media"))
    signed = R2Store(attrs.evolve(base, location="media", proxy_signing_key=SIGNING_KEY))
    keys_read: list[str] = []
    original = S3Response._key_response

    def recording(self: Any, request: Any, full_url: str) -> Any:
        bucket = self.parse_bucket_name_from_url(request, full_url)
        if bucket == name and request.method in ("GET", "HEAD"):
            keys_read.append(self.parse_key_name())
        return original(self, request, full_url)

    try:
        root.client.create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": "auto"}
        )
        for key in ("secret.txt", "media.txt", "media2/secret.txt"):
            root.save(key, SECRET_BODY)
        for key, body in OBJECTS.items():
            media.save(key, body)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(S3Response, "_key_response", recording)
            yield FuzzBucket(MediaProxy(store=media), MediaProxy(store=signed), keys_read)
    finally:
        for store in (root, media, signed):
            store.close()


# It counts reads in moto's object handler, in this process.
@pytest.mark.moto_only
@given(
    # A third of the keys name stored objects, so that success paths get exercised too.
    key=st.one_of(st.sampled_from(list(OBJECTS)), st.sampled_from(list(OBJECTS)), KEYS),
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "OPTIONS", "get"]),
    headers=st.dictionaries(st.sampled_from(_HEADER_NAMES), _HEADER_VALUES, max_size=3),
    signed=st.booleans(),
    genuine=st.booleans(),
    query=st.text(max_size=60),
)
def test_the_proxy_answers_any_request_within_the_location(
    fuzz_bucket: FuzzBucket,
    key: str,
    method: str,
    headers: dict[str, str],
    signed: bool,
    genuine: bool,
    query: str,
) -> None:
    """Any request gets a status in ALLOWED, success only for a stored key, no read outside it."""
    proxy = fuzz_bucket.signed if signed else fuzz_bucket.unsigned
    if signed and genuine:
        with contextlib.suppress(InvalidKeyError):
            query = urlsplit(proxy.store.proxy_url(key)).query
    before = len(fuzz_bucket.keys_read)
    response = proxy.handle(method, key, headers, query)
    try:
        body = response.body if isinstance(response.body, bytes) else response.body.read()
    finally:
        response.close()
    event(f"status {response.status}")
    assert response.status in ALLOWED
    for read in fuzz_bucket.keys_read[before:]:
        assert read.startswith("media/")
        assert _segments_are_clean(read)
    if response.status in (200, 206, 304):
        assert key in OBJECTS
        assert method in ("GET", "HEAD")
        assert fuzz_bucket.keys_read[before:]  # the recorder sees the reads
    if response.status == 200 and method == "GET":
        assert body == OBJECTS[key]
    if response.status == 206:
        assert body in OBJECTS[key]
    assert SECRET_BODY not in body
