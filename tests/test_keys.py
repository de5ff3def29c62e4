"""The key normaliser and the key quoter."""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from r2store import InvalidKeyError
from r2store.keys import MAX_KEY_BYTES, check_location, object_key, object_prefix, quote_key

# Segments a key may hold: any text without "/" "\\" or control characters, other than "." and "..".
_SEGMENT = st.text(
    st.characters(
        blacklist_categories=("Cc", "Cs"),
        blacklist_characters="/\\\x85",
    ),
    min_size=1,
    max_size=20,
).filter(lambda s: s not in (".", ".."))
VALID_KEYS = st.lists(_SEGMENT, min_size=1, max_size=6).map("/".join)


@pytest.mark.parametrize(
    "key",
    [
        "a.jpg",
        "profile_images/abc.jpg",
        ".hidden",
        "a..b/c",
        "...",
        "with space/ünïcødé/日本.png",
        "x" * MAX_KEY_BYTES,
        "~user/+plus=equals&amp?q#frag%20",
    ],
)
def test_valid_keys_pass_unchanged(key: str) -> None:
    """Valid keys come back exactly as given."""
    assert object_key(key) == key


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("", "empty"),
        ("/etc/passwd", "absolute"),
        ("a//b", "segment"),
        ("a/", "segment"),
        (".", "segment"),
        ("..", "segment"),
        ("../secret", "segment"),
        ("a/../b", "segment"),
        ("a/./b", "segment"),
        ("a/..", "segment"),
        ("a\\b", "backslash"),
        ("..\\x", "backslash"),
        ("a\x00b", "control"),
        ("a\nb", "control"),
        ("a\x7fb", "control"),
        ("a\x85b", "control"),
        ("a\ud800b", "surrogate"),
    ],
)
def test_invalid_keys_are_refused_with_a_reason(key: str, reason: str) -> None:
    """Each kind of bad key raises InvalidKeyError saying what is wrong."""
    with pytest.raises(InvalidKeyError, match=reason):
        object_key(key)


def test_non_str_key_is_refused() -> None:
    """A key that is not a str is an InvalidKeyError, not a TypeError from deep inside."""
    with pytest.raises(InvalidKeyError, match="must be a str"):
        object_key(b"a.jpg")  # type: ignore[arg-type]


def test_key_length_counts_utf8_bytes_and_location() -> None:
    """The 1,024-byte limit is on the UTF-8 of the full key, location included."""
    object_key("é" * 512)
    with pytest.raises(InvalidKeyError, match="1026 bytes"):
        object_key("é" * 513)
    object_key("x" * 1018, "media")
    with pytest.raises(InvalidKeyError, match="bytes"):
        object_key("x" * 1019, "media")


def test_location_is_prefixed() -> None:
    """A location puts every key under it."""
    assert object_key("a/b.jpg", "media") == "media/a/b.jpg"


@pytest.mark.parametrize(("given_", "expected"), [("", ""), ("/media/", "media"), ("a/b", "a/b")])
def test_check_location_strips_slashes(given_: str, expected: str) -> None:
    """Locations lose surrounding slashes."""
    assert check_location(given_) == expected


@pytest.mark.parametrize("location", ["a/../b", "a//b", "..", "a\\b"])
def test_check_location_refuses_bad_prefixes(location: str) -> None:
    """A location follows the key rules."""
    with pytest.raises(InvalidKeyError):
        check_location(location)


@pytest.mark.parametrize(
    ("prefix", "location", "expected"),
    [
        ("", "", ""),
        ("", "media", "media/"),
        ("img", "", "img"),
        ("img/", "media", "media/img/"),
    ],
)
def test_object_prefix(prefix: str, location: str, expected: str) -> None:
    """Prefixes may be empty or end in a slash, and get the location."""
    assert object_prefix(prefix, location) == expected


@pytest.mark.parametrize("prefix", ["/", "a//", "../", "a\\"])
def test_object_prefix_refuses_bad_prefixes(prefix: str) -> None:
    """Prefixes otherwise follow the key rules."""
    with pytest.raises(InvalidKeyError):
        object_prefix(prefix)


@pytest.mark.parametrize(
    ("key", "quoted"),
    [
        ("a/b.jpg", "a/b.jpg"),
        ("a b.jpg", "a%20b.jpg"),
        ("100%.png", "100%25.png"),
        ("q?x#y&z=1+2", "q%3Fx%23y%26z%3D1%2B2"),
        ("~tilde_under-dash.dot", "~tilde_under-dash.dot"),
        ("日本.png", "%E6%97%A5%E6%9C%AC.png"),
    ],
)
def test_quote_key(key: str, quoted: str) -> None:
    """Only unreserved characters and '/' stay unencoded."""
    assert quote_key(key) == quoted


@given(VALID_KEYS)
def test_every_valid_key_is_accepted(key: str) -> None:
    """Keys made of valid segments are never refused (when short enough)."""
    if len(key.encode()) <= MAX_KEY_BYTES:
        assert object_key(key) == key


@given(VALID_KEYS)
def test_quoting_round_trips_and_matches_urllib(key: str) -> None:
    """Unquoting a quoted key gives the key back; the spelling is urllib's with safe='/'."""
    quoted = quote_key(key)
    assert unquote(quoted) == key
    assert quoted == quote(key, safe="/")


@given(st.text(max_size=40), st.sampled_from(["", "media", "a/b"]))
def test_normalised_keys_never_escape_the_location(key: str, location: str) -> None:
    """Whatever the input, an accepted key stays under the location and has no dot segments."""
    try:
        full = object_key(key, location)
    except InvalidKeyError:
        return
    segments = full.split("/")
    assert ".." not in segments
    assert "." not in segments
    assert "" not in segments
    if location:
        assert full.startswith(location + "/")


# The rule, as one regex: a key is refused exactly when this finds something.
REFERENCE = re.compile(r"[\x00-\x1f\x7f-\x9f\\\ud800-\udfff]|(?:^|/)\.{0,2}(?:/|$)")


@given(st.text(alphabet=st.sampled_from("ab./\\\x00é"), max_size=12) | st.text(max_size=20))
def test_the_check_follows_the_reference_rule(key: str) -> None:
    """object_key refuses a key exactly when the reference regex finds a problem in it."""
    try:
        object_key(key)
        refused = False
    except InvalidKeyError:
        refused = True
    assert refused == (REFERENCE.search(key) is not None)
