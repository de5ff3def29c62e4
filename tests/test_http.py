"""HTTP semantics for the media proxy: ranges, validators, dates, preconditions, safe serving."""

from __future__ import annotations

import email.utils
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from r2store._http import (
    ByteRange,
    content_range,
    etag_matches,
    evaluate_preconditions,
    format_http_date,
    if_range_matches,
    parse_etags,
    parse_http_date,
    parse_range,
    unsatisfied_range,
)
from r2store._mediatypes import (
    JAVASCRIPT_TYPES,
    SCRIPTABLE_TYPES,
    MediaType,
    guess_type,
    is_scriptable,
    parse_media_type,
)
from r2store._serving import (
    MEDIA_SECURITY_HEADERS,
    SECURITY_HEADERS,
    cache_control,
    content_disposition,
    served_type,
    stored_field,
)

UTC = timezone.utc
# RFC 9110's own example date, in its three forms.
RFC_DATE = datetime(1994, 11, 6, 8, 49, 37, tzinfo=UTC)

# ---------------------------------------------------------------------- Range


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bytes=0-499", ByteRange(0, 499)),
        ("bytes=500-", ByteRange(500, None)),
        ("bytes=-500", ByteRange(None, 500)),
        ("bytes=0-0", ByteRange(0, 0)),
        ("bytes=-1", ByteRange(None, 1)),
        ("bytes=-0", ByteRange(None, 0)),
        ("bytes=7-7", ByteRange(7, 7)),
        ("Bytes=1-2", ByteRange(1, 2)),
        ("BYTES=1-2", ByteRange(1, 2)),
        ("bytes = 1 - 2", ByteRange(1, 2)),
        (" bytes=\t1-2 ", ByteRange(1, 2)),
        ("bytes=- 5", ByteRange(None, 5)),
        ("bytes=3 -", ByteRange(3, None)),
        ("bytes=1-2,", ByteRange(1, 2)),
        ("bytes=, 1-2 ,,", ByteRange(1, 2)),
        ("bytes=0001-0002", ByteRange(1, 2)),
        ("bytes=9999999999999999999-", ByteRange(9999999999999999999, None)),
        ("bytes=-9999999999999999999", ByteRange(None, 9999999999999999999)),
    ],
)
def test_parse_range_accepts_single_ranges(value: str, expected: ByteRange) -> None:
    """A single byte range parses, with RFC 9110's whitespace and empty-element tolerance."""
    assert parse_range(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "bytes",
        "bytes=",
        "bytes=,",
        "bytes=-",
        "bytes=--1",
        "bytes=1--2",
        "bytes=1-2-3",
        "bytes=a-b",
        "bytes=1-2,3-4",
        "bytes=0-0,-1",
        "bytes=0-0,0-0",
        "items=0-1",
        "bytesx=0-1",
        "bytes 0-1",
        "bytes==0-1",
        "bytes=5-4",
        "bytes=12345678901234567890-",
        "bytes=0-12345678901234567890",
        "bytes=-12345678901234567890",
        "bytes=1-2\r\n",
        "bytes=1-2\nX-Evil: 1",
        "bytes=\u0661-2",
        "bytes=+1-2",
        "bytes=1_0-20",
        "bytes=0x10-20",
        "bytes=1.5-2",
        "=0-1",
    ],
)
def test_parse_range_refuses_what_it_cannot_serve(value: str | None) -> None:
    """Missing, malformed, backwards, oversized, multi-range and non-byte headers give None."""
    assert parse_range(value) is None


@pytest.mark.parametrize(
    ("byte_range", "header"),
    [
        (ByteRange(0, 499), "bytes=0-499"),
        (ByteRange(500, None), "bytes=500-"),
        (ByteRange(None, 500), "bytes=-500"),
        (ByteRange(0, 0), "bytes=0-0"),
        (ByteRange(None, 0), "bytes=-0"),
    ],
)
def test_byte_range_header_is_canonical(byte_range: ByteRange, header: str) -> None:
    """header() gives the canonical Range value to forward upstream."""
    assert byte_range.header() == header


def test_byte_range_header_normalises_whitespace_and_zeros() -> None:
    """A padded header is forwarded in canonical form."""
    parsed = parse_range(" Bytes = 007 - 9 ,")
    assert parsed is not None
    assert parsed.header() == "bytes=7-9"


@pytest.mark.parametrize(
    ("byte_range", "size", "expected"),
    [
        (ByteRange(0, 499), 1000, (0, 499)),
        (ByteRange(0, 499), 100, (0, 99)),
        (ByteRange(500, None), 1000, (500, 999)),
        (ByteRange(4, None), 5, (4, 4)),
        (ByteRange(None, 500), 1000, (500, 999)),
        (ByteRange(None, 500), 100, (0, 99)),
        (ByteRange(None, 1), 10, (9, 9)),
        (ByteRange(0, 0), 1, (0, 0)),
        (ByteRange(0, 0), 10, (0, 0)),
        (ByteRange(5, None), 5, None),
        (ByteRange(5, 10), 5, None),
        (ByteRange(None, 0), 10, None),
        (ByteRange(0, 0), 0, None),
        (ByteRange(None, 5), 0, None),
        (ByteRange(0, None), 0, None),
    ],
)
def test_resolve_clamps_or_reports_unsatisfiable(
    byte_range: ByteRange, size: int, expected: tuple[int, int] | None
) -> None:
    """resolve() gives inclusive positions clamped to the object, or None if unsatisfiable."""
    assert byte_range.resolve(size) == expected


@pytest.mark.parametrize(("start", "end"), [(None, None), (-1, 5), (0, -1), (5, 4)])
def test_byte_range_refuses_impossible_ranges(start: int | None, end: int | None) -> None:
    """A ByteRange cannot be built with no bounds, negative bounds or a backwards range."""
    with pytest.raises(ValueError, match="byte"):
        ByteRange(start, end)


def test_byte_range_is_frozen() -> None:
    """A ByteRange cannot be changed after parsing."""
    byte_range = ByteRange(0, 1)
    with pytest.raises(AttributeError):
        byte_range.start = 5  # type: ignore[misc]
    assert byte_range == ByteRange(0, 1)


@pytest.mark.parametrize(
    ("first", "last", "size", "expected"),
    [
        (0, 499, 1000, "bytes 0-499/1000"),
        (0, 0, 1, "bytes 0-0/1"),
        (9, 9, 10, "bytes 9-9/10"),
    ],
)
def test_content_range(first: int, last: int, size: int, expected: str) -> None:
    """content_range() formats a satisfied range."""
    assert content_range(first, last, size) == expected


@pytest.mark.parametrize(("first", "last", "size"), [(0, 10, 10), (5, 4, 10), (-1, 2, 10)])
def test_content_range_refuses_ranges_outside_the_object(first: int, last: int, size: int) -> None:
    """content_range() refuses to describe bytes the object does not have."""
    with pytest.raises(ValueError, match="not a range"):
        content_range(first, last, size)


@pytest.mark.parametrize(("size", "expected"), [(0, "bytes */0"), (1000, "bytes */1000")])
def test_unsatisfied_range(size: int, expected: str) -> None:
    """unsatisfied_range() formats the 416 Content-Range."""
    assert unsatisfied_range(size) == expected


def test_resolved_range_round_trips_through_content_range() -> None:
    """A suffix range resolves to positions content_range() accepts."""
    byte_range = parse_range("bytes=-1")
    assert byte_range is not None
    resolved = byte_range.resolve(10)
    assert resolved is not None
    assert content_range(*resolved, 10) == "bytes 9-9/10"


_RANGE_LIKE = st.from_regex(r"\A[ \t]*[bB][yY][tT][eE][sS][ \t]*=[ \t0-9,\-]{0,30}\Z")


@given(value=st.text() | _RANGE_LIKE, size=st.integers(min_value=0, max_value=10**20))
def test_parse_range_never_raises_and_resolves_inside_the_object(value: str, size: int) -> None:
    """parse_range() never raises, and a resolved range always lies inside the object."""
    byte_range = parse_range(value)
    if byte_range is None:
        return
    assert parse_range(byte_range.header()) == byte_range
    resolved = byte_range.resolve(size)
    if resolved is not None:
        first, last = resolved
        assert 0 <= first <= last < size


# ---------------------------------------------------------------- Entity tags


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"a"', ['"a"']),
        ('W/"a"', ['W/"a"']),
        ('"a", W/"b" ,"c"', ['"a"', 'W/"b"', '"c"']),
        (' , "a",, ,', ['"a"']),
        ('\t"a"\t,\t"b"\t', ['"a"', '"b"']),
        ('"a,b", "c"', ['"a,b"', '"c"']),
        ('"", "a"', ['""', '"a"']),
        ('junk, "a"', ['"a"']),
        ('"a" "b", "c"', ['"c"']),
        ('"unterminated, "ok"', ['"ok"']),
        ('w/"a"', []),
        ('*, "a"', ['"a"']),
        ('"a"\x00', []),
        ("", []),
        ("   ", []),
        ("*", "*"),
        (" * ", "*"),
    ],
)
def test_parse_etags(value: str, expected: list[str] | str) -> None:
    """parse_etags() keeps entity-tags and W/ prefixes, and skips empty and junk elements."""
    assert parse_etags(value) == expected


@pytest.mark.parametrize(
    ("header", "etag", "weak", "expected"),
    [
        ('"x"', '"x"', False, True),
        ('"x"', '"x"', True, True),
        ('W/"x"', '"x"', True, True),
        ('W/"x"', '"x"', False, False),
        ('"x"', 'W/"x"', True, True),
        ('"x"', 'W/"x"', False, False),
        ('W/"x"', 'W/"x"', True, True),
        ('W/"x"', 'W/"x"', False, False),
        ('"a", "x"', '"x"', False, True),
        ('"a", W/"x"', '"x"', True, True),
        ('"y"', '"x"', True, False),
        ('"y"', '"x"', False, False),
        ('"X"', '"x"', True, False),
        ('"a,x"', '"x"', True, False),
        ("", '"x"', True, False),
        ("junk", '"x"', False, False),
        ('"x"', "x", False, True),
        ('"x"', "x", True, True),
        ("*", '"x"', False, True),
        ("*", '"x"', True, True),
        ("*", 'W/"x"', False, True),
        ("*", None, False, False),
        ("*", None, True, False),
        ('"x"', None, True, False),
    ],
)
def test_etag_matches(header: str, etag: str | None, weak: bool, expected: bool) -> None:
    """Weak comparison ignores W/, strong needs both strong, and * needs a representation."""
    assert etag_matches(header, etag, weak=weak) is expected


# ---------------------------------------------------------------------- Dates


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Sun, 06 Nov 1994 08:49:37 GMT", RFC_DATE),
        ("Sunday, 06-Nov-94 08:49:37 GMT", RFC_DATE),
        ("Sun Nov  6 08:49:37 1994", RFC_DATE),
        ("Sun Nov 06 08:49:37 1994", RFC_DATE),
        ("sun, 06 nov 1994 08:49:37 gmt", RFC_DATE),
        ("SUNDAY, 06-NOV-94 08:49:37 GMT", RFC_DATE),
        ("  Sun, 06 Nov 1994 08:49:37 GMT\t", RFC_DATE),
        ("Mon, 06 Nov 1994 08:49:37 GMT", RFC_DATE),
        ("Sun Nov 16 08:49:37 1994", RFC_DATE.replace(day=16)),
        ("Tue, 31 Dec 2024 23:59:60 GMT", datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("Mon, 01 Jan 0001 00:00:00 GMT", datetime(1, 1, 1, tzinfo=UTC)),
        ("Fri, 31 Dec 9999 23:59:59 GMT", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_parse_http_date_reads_all_three_forms(value: str, expected: datetime) -> None:
    """IMF-fixdate, RFC 850 and asctime dates parse to aware UTC datetimes."""
    parsed = parse_http_date(value)
    assert parsed == expected
    assert parsed is not None
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "junk",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 +0000",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun, 31 Feb 1994 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:61:00 GMT",
        "Sun, 06 Nov 0000 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT\r\n",
        "Sun, \u0660\u0666 Nov 1994 08:49:37 GMT",
        "\u017fun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sun Nov  6 08:49:37 94",
        "1994-11-06T08:49:37Z",
        "784111777",
    ],
)
def test_parse_http_date_refuses_junk(value: str) -> None:
    """Anything that is not an HTTP-date gives None."""
    assert parse_http_date(value) is None


def test_rfc850_two_digit_year_is_never_far_in_the_future() -> None:
    """A two-digit year more than 50 years ahead means the past century (RFC 9110 §5.6.7)."""
    this_year = datetime.now(UTC).year
    far = (this_year + 60) % 100
    near = this_year % 100
    far_date = parse_http_date(f"Sunday, 06-Nov-{far:02d} 08:49:37 GMT")
    near_date = parse_http_date(f"Sunday, 06-Nov-{near:02d} 08:49:37 GMT")
    assert far_date is not None
    assert near_date is not None
    assert far_date.year == this_year - 40
    assert near_date.year == this_year


@pytest.mark.parametrize(
    ("dt", "expected"),
    [
        (RFC_DATE, "Sun, 06 Nov 1994 08:49:37 GMT"),
        (RFC_DATE.replace(tzinfo=None), "Sun, 06 Nov 1994 08:49:37 GMT"),
        (RFC_DATE.replace(microsecond=999999), "Sun, 06 Nov 1994 08:49:37 GMT"),
        (
            datetime(1994, 11, 6, 10, 49, 37, tzinfo=timezone(timedelta(hours=2))),
            "Sun, 06 Nov 1994 08:49:37 GMT",
        ),
        (
            datetime(2024, 1, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            "Sun, 31 Dec 2023 19:30:00 GMT",
        ),
        (datetime(1, 1, 1, tzinfo=UTC), "Mon, 01 Jan 0001 00:00:00 GMT"),
    ],
)
def test_format_http_date(dt: datetime, expected: str) -> None:
    """format_http_date() writes IMF-fixdate in GMT, taking naive datetimes as UTC."""
    assert format_http_date(dt) == expected


_OFFSETS = st.integers(min_value=-1439, max_value=1439).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
# A day's margin at both ends keeps conversion to UTC inside datetime's range.
_AWARE = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=_OFFSETS
)


@given(dt=_AWARE)
def test_format_http_date_equals_the_stdlib(dt: datetime) -> None:
    """format_http_date() gives exactly what email.utils.format_datetime gives."""
    expected = email.utils.format_datetime(dt.astimezone(UTC), usegmt=True)
    assert format_http_date(dt) == expected


@given(dt=_AWARE)
def test_http_date_round_trips_to_the_second(dt: datetime) -> None:
    """Parsing a formatted date gives the same instant, truncated to seconds."""
    assert parse_http_date(format_http_date(dt)) == dt.astimezone(UTC).replace(microsecond=0)


@given(value=st.text())
def test_parse_http_date_never_raises(value: str) -> None:
    """parse_http_date() returns None or an aware UTC datetime for any text."""
    parsed = parse_http_date(value)
    assert parsed is None or parsed.utcoffset() == timedelta(0)


# -------------------------------------------------------------- Preconditions

ETAG = '"abc"'
# A fraction the HTTP date cannot carry: comparisons must ignore it.
LAST_MODIFIED = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
SAME = "Tue, 02 Jan 2024 03:04:05 GMT"
EARLIER = "Tue, 02 Jan 2024 03:04:04 GMT"
LATER = "Tue, 02 Jan 2024 03:04:06 GMT"


@pytest.mark.parametrize(
    ("method", "headers", "expected"),
    [
        ("GET", {}, 200),
        # If-Match: strong comparison, 412 when false.
        ("GET", {"if-match": ETAG}, 200),
        ("GET", {"if-match": '"other", "abc"'}, 200),
        ("GET", {"if-match": '"other"'}, 412),
        ("GET", {"if-match": 'W/"abc"'}, 412),
        ("GET", {"if-match": "*"}, 200),
        ("GET", {"if-match": "junk"}, 412),
        ("GET", {"if-match": ""}, 200),
        ("DELETE", {"if-match": '"other"'}, 412),
        # If-Unmodified-Since, only without If-Match.
        ("GET", {"if-unmodified-since": SAME}, 200),
        ("GET", {"if-unmodified-since": LATER}, 200),
        ("GET", {"if-unmodified-since": EARLIER}, 412),
        ("GET", {"if-unmodified-since": "junk"}, 200),
        ("PUT", {"if-unmodified-since": EARLIER}, 412),
        ("GET", {"if-match": ETAG, "if-unmodified-since": EARLIER}, 200),
        ("GET", {"if-match": "", "if-unmodified-since": EARLIER}, 412),
        # If-None-Match: weak comparison, 304 for GET/HEAD, 412 otherwise.
        ("GET", {"if-none-match": ETAG}, 304),
        ("HEAD", {"if-none-match": ETAG}, 304),
        ("GET", {"if-none-match": 'W/"abc"'}, 304),
        ("GET", {"if-none-match": '"x", "abc"'}, 304),
        ("GET", {"if-none-match": "*"}, 304),
        ("GET", {"if-none-match": '"other"'}, 200),
        ("GET", {"if-none-match": "junk"}, 200),
        ("PUT", {"if-none-match": ETAG}, 412),
        ("POST", {"if-none-match": "*"}, 412),
        ("get", {"if-none-match": ETAG}, 412),
        # If-Modified-Since, only without If-None-Match and only for GET/HEAD.
        ("GET", {"if-modified-since": SAME}, 304),
        ("HEAD", {"if-modified-since": LATER}, 304),
        ("GET", {"if-modified-since": EARLIER}, 200),
        ("GET", {"if-modified-since": "junk"}, 200),
        ("GET", {"if-modified-since": f"{SAME}, {SAME}"}, 200),
        ("PUT", {"if-modified-since": SAME}, 200),
        ("GET", {"if-none-match": '"other"', "if-modified-since": SAME}, 200),
        ("GET", {"if-none-match": ETAG, "if-modified-since": EARLIER}, 304),
        ("GET", {"if-none-match": " ", "if-modified-since": SAME}, 304),
        # Precedence between the steps.
        ("GET", {"if-match": '"other"', "if-none-match": '"other"'}, 412),
        ("GET", {"if-match": '"other"', "if-modified-since": SAME}, 412),
        ("GET", {"if-unmodified-since": EARLIER, "if-none-match": ETAG}, 412),
        ("GET", {"if-match": ETAG, "if-none-match": ETAG}, 304),
        ("PUT", {"if-match": ETAG, "if-none-match": ETAG}, 412),
        ("GET", {"if-unmodified-since": SAME, "if-modified-since": SAME}, 304),
    ],
)
def test_evaluate_preconditions(method: str, headers: dict[str, str], expected: int) -> None:
    """Preconditions follow RFC 9110 §13.2.2 order and compare dates to the second."""
    assert evaluate_preconditions(method, headers, ETAG, LAST_MODIFIED) == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"if-match": "*"}, 412),
        ({"if-match": ETAG}, 412),
        ({"if-none-match": "*"}, 200),
        ({"if-none-match": ETAG}, 200),
    ],
)
def test_preconditions_without_a_representation(headers: dict[str, str], expected: int) -> None:
    """With no current representation, * fails If-Match and passes If-None-Match."""
    assert evaluate_preconditions("GET", headers, None, None) == expected


@pytest.mark.parametrize(
    "headers",
    [{"if-modified-since": LATER}, {"if-unmodified-since": EARLIER}],
)
def test_date_conditions_need_a_modification_date(headers: dict[str, str]) -> None:
    """Date conditions are ignored when the object has no Last-Modified."""
    assert evaluate_preconditions("GET", headers, ETAG, None) == 200


def test_naive_last_modified_is_taken_as_utc() -> None:
    """A naive Last-Modified compares as UTC."""
    naive = LAST_MODIFIED.replace(tzinfo=None)
    assert evaluate_preconditions("GET", {"if-modified-since": SAME}, ETAG, naive) == 304
    assert evaluate_preconditions("GET", {"if-modified-since": EARLIER}, ETAG, naive) == 200


def test_modification_date_in_another_zone_compares_as_the_same_instant() -> None:
    """Last-Modified in a non-UTC zone is compared by instant, not wall clock."""
    shifted = LAST_MODIFIED.astimezone(timezone(timedelta(hours=-8)))
    assert evaluate_preconditions("GET", {"if-modified-since": SAME}, ETAG, shifted) == 304


_HEADER_NAMES = st.sampled_from(
    ["if-match", "if-none-match", "if-modified-since", "if-unmodified-since", "if-range"]
)
_DATES_OR_TEXT = st.text() | _AWARE.map(format_http_date)
_TAGS_OR_TEXT = st.text() | st.sampled_from(["*", ETAG, 'W/"abc"', '"x", "abc"'])


@given(
    method=st.sampled_from(["GET", "HEAD", "PUT", "POST", "DELETE"]) | st.text(),
    headers=st.dictionaries(_HEADER_NAMES, _DATES_OR_TEXT | _TAGS_OR_TEXT),
    etag=st.none() | st.text() | st.just(ETAG),
    last_modified=st.none() | _AWARE | st.datetimes(),
)
def test_evaluate_preconditions_never_raises(
    method: str,
    headers: dict[str, str],
    etag: str | None,
    last_modified: datetime | None,
) -> None:
    """evaluate_preconditions() answers 200, 304 or 412 for any header text."""
    assert evaluate_preconditions(method, headers, etag, last_modified) in {200, 304, 412}


# ------------------------------------------------------------------- If-Range


@pytest.mark.parametrize(
    ("value", "etag", "last_modified", "expected"),
    [
        (None, ETAG, LAST_MODIFIED, True),
        ("", ETAG, LAST_MODIFIED, True),
        ("  ", None, None, True),
        (ETAG, ETAG, LAST_MODIFIED, True),
        (f" {ETAG} ", ETAG, None, True),
        (ETAG, "abc", None, True),
        ('"xyz"', ETAG, LAST_MODIFIED, False),
        ('W/"abc"', ETAG, LAST_MODIFIED, False),
        (ETAG, 'W/"abc"', LAST_MODIFIED, False),
        ('W/"abc"', 'W/"abc"', LAST_MODIFIED, False),
        (ETAG, None, LAST_MODIFIED, False),
        ('"abc", "xyz"', ETAG, LAST_MODIFIED, False),
        ('"abc', ETAG, LAST_MODIFIED, False),
        ("*", ETAG, LAST_MODIFIED, False),
        (SAME, ETAG, LAST_MODIFIED, True),
        ("Tuesday, 02-Jan-24 03:04:05 GMT", ETAG, LAST_MODIFIED, True),
        ("Tue Jan  2 03:04:05 2024", ETAG, LAST_MODIFIED, True),
        (SAME, ETAG, LAST_MODIFIED.replace(tzinfo=None), True),
        (EARLIER, ETAG, LAST_MODIFIED, False),
        (LATER, ETAG, LAST_MODIFIED, False),
        (SAME, ETAG, None, False),
        ("junk", ETAG, LAST_MODIFIED, False),
    ],
)
def test_if_range_matches(
    value: str | None, etag: str | None, last_modified: datetime | None, expected: bool
) -> None:
    """If-Range holds for a strong, equal entity-tag or an exactly equal date, else not."""
    assert if_range_matches(value, etag, last_modified) is expected


# ------------------------------------------------------- Serving user uploads


@pytest.mark.parametrize(
    "content_type",
    [
        "text/html",
        "TEXT/HTML",
        "text/html; charset=utf-8",
        " text/html ; charset=utf-8",
        "application/xhtml+xml",
        "image/svg+xml",
        "IMAGE/SVG+XML; charset=utf-8",
        "application/rss+xml",
        "application/vnd.example+xml; version=2",
        "text/xml",
        "application/xml",
        "text/xsl",
        "application/xslt+xml",
        "text/javascript",
        "application/javascript",
        "application/x-javascript",
        "application/ecmascript",
        "text/ecmascript",
        "application/pdf",
        "multipart/x-mixed-replace; boundary=frame",
        "message/rfc822",
        "text/plain, text/html",
        'text/plain; note="a, text/html"',
        "text/plain,",
        "text/jscript",
        "text/livescript",
        "image/svg+xml;,text/javascript",
        "nonsense",
        "text/",
        "/html",
        "text /html",
        "text/html\x00",
        ";charset=utf-8",
    ],
)
def test_scriptable_types(content_type: str) -> None:
    """Types a browser may run script in, and types nobody can parse, are scriptable."""
    assert is_scriptable(content_type) is True


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "",
        "  ",
        "image/png",
        "IMAGE/JPEG",
        "text/plain",
        "text/plain; charset=utf-8",
        "text/css",
        "text/csv",
        "text/vtt",
        "application/json",
        "application/ld+json",
        "application/octet-stream",
        "video/mp4",
        "audio/mpeg",
        "font/woff2",
    ],
)
def test_inert_types(content_type: str | None) -> None:
    """Images, media, plain text, JSON and missing types are not scriptable."""
    assert is_scriptable(content_type) is False


def test_every_listed_scriptable_type_is_lower_case_and_detected() -> None:
    """SCRIPTABLE_TYPES holds lower-case essences that is_scriptable() detects."""
    for media_type in SCRIPTABLE_TYPES:
        assert media_type == media_type.lower()
        assert is_scriptable(media_type.upper())


def test_security_headers() -> None:
    """Every proxied object is sent with nosniff and a sandboxing, fetch-nothing CSP."""
    headers = dict(SECURITY_HEADERS)
    assert len(headers) == len(SECURITY_HEADERS)
    assert headers["X-Content-Type-Options"] == "nosniff"
    directives = [part.strip() for part in headers["Content-Security-Policy"].split(";")]
    assert "default-src 'none'" in directives
    assert "sandbox" in directives
    assert not any("script" in directive for directive in directives)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("image/png", MediaType(essence="image/png", value="image/png")),
        (
            " Text/HTML;Charset=UTF-8 ",
            MediaType(essence="text/html", value="Text/HTML;Charset=UTF-8"),
        ),
        (
            'text/plain ; charset="utf-8";\tformat=flowed',
            MediaType(essence="text/plain", value='text/plain ; charset="utf-8";\tformat=flowed'),
        ),
        ('a/b; q="x\\"y"', MediaType(essence="a/b", value='a/b; q="x\\"y"')),
        ("text/plain;", MediaType(essence="text/plain", value="text/plain;")),
        (
            "application/vnd.a+xml",
            MediaType(essence="application/vnd.a+xml", value="application/vnd.a+xml"),
        ),
    ],
)
def test_parse_media_type_reads_one_type(value: str, expected: MediaType) -> None:
    """One media type with token or quoted-string parameters parses; the essence is lower-case."""
    assert parse_media_type(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "text",
        "text/",
        "/html",
        "text /html",
        "text/ html",
        "image/png, text/jscript",
        "image/svg+xml;,text/javascript",
        "text/plain,",
        'text/plain; note="a, b"',
        "text/plain; charset",
        "text/plain; charset=",
        "text/plain; charset=utf 8",
        'text/plain; a="unterminated',
        "text/plain\x1b]0;PWNED\x07",
        "text/plain; charset=utf-8\x00",
        'text/plain; a="\x80"',
        "text/pl\u00e4in",
        "text/plain\r\nSet-Cookie: a=b",
        "text/html/x",
    ],
)
def test_parse_media_type_refuses_anything_else(value: str | None) -> None:
    """Lists, commas anywhere, bad parameters, controls and non-ASCII are refused."""
    assert parse_media_type(value) is None


@given(st.text())
def test_parse_media_type_lets_through_only_printable_ascii(value: str) -> None:
    """Whatever it is given, a parsed value is printable ASCII (and tabs) with no comma."""
    parsed = parse_media_type(value)
    if parsed is not None:
        assert all(" " <= ch <= "~" or ch == "\t" for ch in parsed.value)
        assert "," not in parsed.value


def test_javascript_types_are_scriptable_and_lower_case() -> None:
    """Every JavaScript MIME type is in SCRIPTABLE_TYPES, in lower case."""
    assert JAVASCRIPT_TYPES <= SCRIPTABLE_TYPES
    assert all(t == t.lower() for t in JAVASCRIPT_TYPES)


@pytest.mark.parametrize("essence", sorted(JAVASCRIPT_TYPES))
def test_served_type_never_sends_a_javascript_type(essence: str) -> None:
    """Any JavaScript type, in any case and with parameters, even allowed, is an
    octet-stream download."""
    served = served_type(f"{essence.upper()}; charset=utf-8", "a.js", frozenset({essence}))
    assert served.content_type == "application/octet-stream"
    assert served.attachment


@pytest.mark.parametrize(
    ("stored", "key", "allow", "expected"),
    [
        (None, "a.png", (), ("image/png", False, MEDIA_SECURITY_HEADERS)),
        (
            "binary/octet-stream",
            "a.txt",
            (),
            ("text/plain; charset=utf-8", False, SECURITY_HEADERS),
        ),
        ("video/mp4", "a", (), ("video/mp4", False, MEDIA_SECURITY_HEADERS)),
        (
            "AUDIO/ogg; codecs=opus",
            "a",
            (),
            ("AUDIO/ogg; codecs=opus", False, MEDIA_SECURITY_HEADERS),
        ),
        ("text/html", "a", (), ("text/html", True, SECURITY_HEADERS)),
        ("image/svg+xml", "a", (), ("image/svg+xml", True, SECURITY_HEADERS)),
        ("image/svg+xml", "a", ("image/svg+xml",), ("image/svg+xml", False, SECURITY_HEADERS)),
        ("text/plain", "a", (), ("text/plain", False, SECURITY_HEADERS)),
        ("image/png, text/html", "a", (), ("application/octet-stream", True, SECURITY_HEADERS)),
        (
            "image/svg+xml;,text/html",
            "a",
            ("image/svg+xml",),
            ("application/octet-stream", True, SECURITY_HEADERS),
        ),
        (None, "a.js", (), ("application/octet-stream", True, SECURITY_HEADERS)),
    ],
)
def test_served_type(
    stored: str | None,
    key: str,
    allow: tuple[str, ...],
    expected: tuple[str, bool, tuple[tuple[str, str], ...]],
) -> None:
    """The type sent, whether it is a download, and whether it is sandboxed."""
    served = served_type(stored, key, frozenset(allow))
    assert (served.content_type, served.attachment, served.security_headers) == expected


def test_media_security_headers_are_the_document_ones_without_sandbox() -> None:
    """Images, audio and video get nosniff and the same policy, less sandbox."""
    media = dict(MEDIA_SECURITY_HEADERS)
    assert media["X-Content-Type-Options"] == "nosniff"
    assert dict(SECURITY_HEADERS)["Content-Security-Policy"] == (
        media["Content-Security-Policy"] + "; sandbox"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", ""),
        ('"abc"', '"abc"'),
        ("max-age=60, private", "max-age=60, private"),
        ("gzip\x00", None),
        ("a\tb", None),
        ("caf\u00e9", None),
        ("x\x7f", None),
    ],
)
def test_stored_field(value: str | None, expected: str | None) -> None:
    """Only printable ASCII goes out as it is stored."""
    assert stored_field(value) == expected


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (None, "public, max-age=1"),
        ("", "public, max-age=1"),
        ("private, max-age=60", "private, max-age=60"),
        ("private\x1b[31m", "no-store"),
    ],
)
def test_cache_control(stored: str | None, expected: str) -> None:
    """The stored Cache-Control, the default when there is none, no-store when unreadable."""
    assert cache_control(stored, "public, max-age=1") == expected


@pytest.mark.parametrize(
    ("filename", "attachment", "expected"),
    [
        ("report.pdf", True, 'attachment; filename="report.pdf"'),
        ("report.pdf", False, 'inline; filename="report.pdf"'),
        ("semi;colon=x.txt", True, 'attachment; filename="semi;colon=x.txt"'),
        (
            "naïve café.txt",
            True,
            "attachment; filename=\"na_ve caf_.txt\"; filename*=UTF-8''na%C3%AFve%20caf%C3%A9.txt",
        ),
        (
            "日本.png",
            False,
            "inline; filename=\"__.png\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.png",
        ),
        (
            'a"b\\c.txt',
            True,
            "attachment; filename=\"a_b_c.txt\"; filename*=UTF-8''a%22b%5Cc.txt",
        ),
        ("100%.txt", True, "attachment; filename=\"100_.txt\"; filename*=UTF-8''100%25.txt"),
        (
            "é!#$&+^`|~",
            True,
            "attachment; filename=\"_!#$&+^`|~\"; filename*=UTF-8''%C3%A9!#$&+^`|~",
        ),
        ("😀.png", True, "attachment; filename=\"_.png\"; filename*=UTF-8''%F0%9F%98%80.png"),
        ("", True, "attachment"),
        ("", False, "inline"),
    ],
)
def test_content_disposition(filename: str, attachment: bool, expected: str) -> None:
    """Names get an ASCII fallback, and an RFC 8187 filename* only when needed."""
    assert content_disposition(filename, attachment=attachment) == expected


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        (
            "evil.html\r\nSet-Cookie: a=b",
            'attachment; filename="evil.html__Set-Cookie: a=b"',
        ),
        ("a\nb", 'attachment; filename="a_b"'),
        ("a\x00b\tc", 'attachment; filename="a_b_c"'),
        ("a\x7fb\x85c", 'attachment; filename="a_b_c"'),
        ("\ud800.txt", 'attachment; filename="_.txt"'),
        ("a\u2028b", "attachment; filename=\"a_b\"; filename*=UTF-8''a%E2%80%A8b"),
    ],
)
def test_content_disposition_defuses_header_injection(filename: str, expected: str) -> None:
    """Control characters never reach the header value, raw or percent-encoded."""
    assert content_disposition(filename, attachment=True) == expected


@given(filename=st.text(), attachment=st.booleans())
def test_content_disposition_is_always_printable_ascii(filename: str, attachment: bool) -> None:
    """For any name, the value is printable ASCII and filename* decodes back to the name."""
    value = content_disposition(filename, attachment=attachment)
    assert all(" " <= char <= "~" for char in value)
    assert value.startswith("attachment" if attachment else "inline")
    _, marker, encoded = value.partition("filename*=UTF-8''")
    if marker:
        assert ";" not in encoded
        decoded = unquote(encoded, errors="strict")
        assert len(decoded) == len(filename)
        assert all(
            original == char
            for original, char in zip(filename, decoded, strict=True)
            if char != "_"
        )


# ------------------------------------------------------------ Guessing types


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("photo.jpg", "image/jpeg"),
        ("a/b/PHOTO.JPG", "image/jpeg"),
        ("a/b/c.png", "image/png"),
        ("x.webp", "image/webp"),
        ("x.avif", "image/avif"),
        ("x.heic", "image/heic"),
        ("x.bmp", "image/bmp"),
        ("x.svg", "image/svg+xml"),
        ("fonts/x.woff2", "font/woff2"),
        ("x.wav", "audio/wav"),
        ("clip.mp4", "video/mp4"),
        ("data.json", "application/json"),
        ("data.jsonld", "application/ld+json"),
        ("doc.pdf", "application/pdf"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("app.mjs", "text/javascript; charset=utf-8"),
        ("readme.md", "text/markdown; charset=utf-8"),
        ("notes.txt", "text/plain; charset=utf-8"),
        ("index.html", "text/html; charset=utf-8"),
        ("table.csv", "text/csv; charset=utf-8"),
        ("archive.tar.gz", "application/gzip"),
        ("x.tgz", "application/gzip"),
        ("x.svgz", "application/gzip"),
        ("x.bz2", "application/x-bzip2"),
        ("x.br", "application/octet-stream"),
        ("noext", "application/octet-stream"),
        ("dir.png/noext", "application/octet-stream"),
        ("dir/", "application/octet-stream"),
        (".png", "application/octet-stream"),
        ("x.unknown-extension", "application/octet-stream"),
        ("data:,x.png", "image/png"),
        ("a:b.png", "image/png"),
    ],
)
def test_guess_type(key: str, expected: str) -> None:
    """The type comes from the last segment's extension, the same on every Python and machine."""
    assert guess_type(key) == expected


def test_guess_type_table_is_built_lazily() -> None:
    """Importing the module does not build the mimetypes table."""
    code = "import r2store._mediatypes as h; print(h._mime_db.cache_info().currsize)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "0"
