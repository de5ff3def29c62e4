"""HTTP semantics for the media proxy (RFC 9110), with no framework and no I/O.

The proxy forwards ``Range`` and the conditional headers to R2 in one GetObject
and then checks R2's answer again with these functions, so that what the client
receives never depends on how faithfully the upstream implemented the RFC.
Everything here takes and returns plain ``str``, ``int`` and ``datetime``.
What a stored object is sent as (its type, disposition and security headers)
is decided in :mod:`r2store._serving`.

Header values are untrusted: every parser returns ``None`` (or "no match")
for input it does not understand and never raises on it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Literal

import attrs

__all__ = [
    "ByteRange",
    "content_range",
    "etag_matches",
    "evaluate_preconditions",
    "format_http_date",
    "if_range_matches",
    "parse_etags",
    "parse_http_date",
    "parse_range",
    "unsatisfied_range",
]

# RFC 9110 §5.6.3: optional whitespace is spaces and tabs only. Anything else
# (a stray CR or LF, say) makes a value malformed rather than "padded".
_OWS = " \t"


def _present(headers: Mapping[str, str], name: str) -> str | None:
    """Return the stripped value of header *name*, or None if it is absent or blank.

    A blank value counts as absent: adapters commonly fill missing headers with
    "", and every field handled here requires at least one element anyway.
    """
    value = headers.get(name)
    if value is None:
        return None
    value = value.strip(_OWS)
    return value or None


# --------------------------------------------------------------------- Range

# More digits than this are refused as malformed rather than turned into huge
# ints: 19 digits already exceed any object R2 can store (and 2**63).
_MAX_DIGITS = 19
_RANGE_SPEC = re.compile(
    rf"(?:([0-9]{{1,{_MAX_DIGITS}}})[ \t]*-[ \t]*([0-9]{{1,{_MAX_DIGITS}}})?"
    rf"|-[ \t]*([0-9]{{1,{_MAX_DIGITS}}}))"
)


@attrs.frozen
class ByteRange:
    """One byte range from a ``Range`` header, before the object's size is known.

    ``bytes=0-499`` is ``ByteRange(0, 499)``, ``bytes=500-`` is
    ``ByteRange(500, None)`` and the suffix form ``bytes=-500`` (the last 500
    bytes) is ``ByteRange(None, 500)``.
    """

    start: int | None
    end: int | None

    def __attrs_post_init__(self) -> None:
        if self.start is None and self.end is None:
            raise ValueError("a byte range needs a start, an end, or both")
        if (self.start is not None and self.start < 0) or (self.end is not None and self.end < 0):
            raise ValueError(f"byte positions cannot be negative: {self!r}")
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError(f"a byte range cannot end before it starts: {self!r}")

    def header(self) -> str:
        """Return the canonical ``Range`` value for this range, to forward upstream."""
        if self.start is None:
            return f"bytes=-{self.end}"
        if self.end is None:
            return f"bytes={self.start}-"
        return f"bytes={self.start}-{self.end}"

    def resolve(self, size: int) -> tuple[int, int] | None:
        """Return the inclusive ``(first, last)`` positions within *size* bytes.

        Returns None when the range is unsatisfiable (RFC 9110 §14.1.1): it
        starts at or past the end, it is a suffix of zero bytes, or the object
        is empty. The caller answers 416 with :func:`unsatisfied_range`.
        """
        if size <= 0:
            return None
        if self.start is None:
            # A suffix longer than the object means the whole object.
            if not self.end:
                return None
            return max(size - self.end, 0), size - 1
        if self.start >= size:
            return None
        last = size - 1 if self.end is None else min(self.end, size - 1)
        return self.start, last


def parse_range(value: str | None) -> ByteRange | None:
    """Parse a ``Range`` header holding one byte range.

    Returns None for a missing or malformed header, another unit, several
    ranges, or ``first > last``: the caller then ignores the header and sends
    the whole object with 200, as RFC 9110 §14.2 allows.
    """
    if value is None:
        return None
    unit, equals, range_set = value.partition("=")
    if not equals or unit.strip(_OWS).lower() != "bytes":
        return None
    # range-set is a #list: empty elements are allowed and do not count.
    specs = [spec for spec in range_set.split(",") if spec.strip(_OWS)]
    # Multiple ranges would need multipart/byteranges; serving 200 is simpler and allowed.
    if len(specs) != 1:
        return None
    match = _RANGE_SPEC.fullmatch(specs[0].strip(_OWS))
    if match is None:
        return None
    first, last, suffix = match.groups()
    if suffix is not None:
        return ByteRange(None, int(suffix))
    start = int(first)
    end = None if last is None else int(last)
    if end is not None and start > end:
        return None
    return ByteRange(start, end)


def content_range(first: int, last: int, size: int) -> str:
    """Return the ``Content-Range`` value for a 206 answer: ``bytes first-last/size``."""
    if not 0 <= first <= last < size:
        raise ValueError(f"not a range within {size} bytes: {first}-{last}")
    return f"bytes {first}-{last}/{size}"


def unsatisfied_range(size: int) -> str:
    """Return the ``Content-Range`` value for a 416 answer: ``bytes */size``."""
    if size < 0:
        raise ValueError(f"a size cannot be negative: {size}")
    return f"bytes */{size}"


# ---------------------------------------------------------------- Entity tags

# RFC 9110 §8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, where etagc is
# any visible character except DQUOTE, or obs-text. Note that "," is an etagc,
# so a list cannot simply be split on commas.
_ETAG = r'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"'
_ENTITY_TAG = re.compile(_ETAG)
# One list element: an entity-tag standing alone up to the next comma, or else
# junk up to the next comma (skipped). It always matches, possibly empty.
_ETAG_ELEMENT = re.compile(rf"[ \t]*(?:({_ETAG})[ \t]*(?=,|\Z)|[^,]*)")


def parse_etags(value: str) -> list[str] | Literal["*"]:
    """Parse an ``If-Match`` / ``If-None-Match`` value into entity-tags.

    Returns ``"*"`` for the wildcard, otherwise the tags in order, quotes and
    ``W/`` prefixes kept. Empty list elements and elements that are not
    entity-tags are skipped.
    """
    value = value.strip(_OWS)
    if value == "*":
        return "*"
    tags: list[str] = []
    pos, length = 0, len(value)
    while pos <= length:
        element = _ETAG_ELEMENT.match(value, pos)
        if element is None:  # pragma: no cover - the pattern matches the empty string
            break
        if element.group(1) is not None:
            tags.append(element.group(1))
        pos = element.end() + 1  # step over the comma
    return tags


def _entity_tag(etag: str) -> str:
    """Quote a bare opaque value so it compares like the ETag header R2 sends."""
    if etag.startswith(('"', 'W/"')):
        return etag
    return f'"{etag}"'


def _opaque(tag: str) -> str:
    return tag[2:] if tag.startswith("W/") else tag


def etag_matches(header: str, etag: str | None, *, weak: bool) -> bool:
    """Say whether an ``If-Match`` / ``If-None-Match`` value matches *etag*.

    *etag* is the representation's entity-tag as in its ``ETag`` header (a bare
    value is quoted first), or None when there is no current representation.
    Weak comparison (``If-None-Match``) ignores ``W/`` on both sides; strong
    comparison (``If-Match``) needs both tags strong and identical
    (RFC 9110 §8.8.3.2). ``*`` matches any existing representation.
    """
    if etag is None:
        return False
    tags = parse_etags(header)
    if tags == "*":
        return True
    etag = _entity_tag(etag)
    if weak:
        opaque = _opaque(etag)
        return any(_opaque(tag) == opaque for tag in tags)
    # A strong etag equals only an identical, hence also strong, listed tag.
    return not etag.startswith("W/") and etag in tags


# ---------------------------------------------------------------------- Dates

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Looking up "07" is about twice as fast as formatting 7 with ":02d".
_TWO_DIGITS = tuple(f"{number:02d}" for number in range(60))
_MONTHS = {name.lower(): number for number, name in enumerate(_MONTH_NAMES, start=1)}

# RFC 9110 §5.6.7. Names are matched case-insensitively to be robust, but only
# in ASCII: Unicode case folding would let U+017F (long s) stand in for "s".
_DATE_FLAGS = re.IGNORECASE | re.ASCII
_TIME = r"([0-9]{2}):([0-9]{2}):([0-9]{2})"
_IMF_FIXDATE = re.compile(
    rf"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{{2}}) ([a-z]{{3}}) ([0-9]{{4}}) {_TIME} GMT",
    _DATE_FLAGS,
)
_RFC850_DATE = re.compile(
    r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), "
    rf"([0-9]{{2}})-([a-z]{{3}})-([0-9]{{2}}) {_TIME} GMT",
    _DATE_FLAGS,
)
_ASCTIME_DATE = re.compile(
    rf"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([a-z]{{3}}) ( [0-9]|[0-9]{{2}}) {_TIME} ([0-9]{{4}})",
    _DATE_FLAGS,
)


def _two_digit_year(yy: int) -> int:
    """Expand an RFC 850 year as RFC 9110 §5.6.7 requires.

    A year that would be more than 50 years in the future is taken to be the
    most recent past year with the same last two digits.
    """
    this_year = datetime.now(timezone.utc).year
    year = this_year - this_year % 100 + yy
    return year - 100 if year > this_year + 50 else year


def _build_date(
    year: int, month: str, day: str, hour: str, minute: str, second: str
) -> datetime | None:
    number = _MONTHS.get(month.lower())
    if number is None:
        return None
    # A leap second (:60) is valid HTTP; datetime cannot hold it.
    seconds = min(int(second), 59)
    try:
        return datetime(
            year, number, int(day), int(hour), int(minute), seconds, tzinfo=timezone.utc
        )
    except ValueError:  # 31 Feb, hour 24, year 0 and the like
        return None


def parse_http_date(value: str) -> datetime | None:
    """Parse an HTTP-date into an aware UTC datetime, or return None.

    Accepts IMF-fixdate (``Sun, 06 Nov 1994 08:49:37 GMT``) and the obsolete
    RFC 850 (``Sunday, 06-Nov-94 08:49:37 GMT``) and asctime
    (``Sun Nov  6 08:49:37 1994``) forms. The day name is not checked
    against the date.
    """
    value = value.strip(_OWS)
    if match := _IMF_FIXDATE.fullmatch(value):
        day, month, year, hour, minute, second = match.groups()
        return _build_date(int(year), month, day, hour, minute, second)
    if match := _RFC850_DATE.fullmatch(value):
        day, month, yy, hour, minute, second = match.groups()
        return _build_date(_two_digit_year(int(yy)), month, day, hour, minute, second)
    if match := _ASCTIME_DATE.fullmatch(value):
        month, day, hour, minute, second, year = match.groups()
        return _build_date(int(year), month, day.strip(), hour, minute, second)
    return None


def format_http_date(dt: datetime) -> str:
    """Format *dt* as an IMF-fixdate (``Sun, 06 Nov 1994 08:49:37 GMT``).

    Aware datetimes are converted to UTC; naive ones are taken to be UTC
    already. Fractions of a second are dropped.
    """
    # This runs for every response: email.utils.format_datetime gives the same
    # text three times slower. A zero or missing offset needs no conversion.
    if dt.utcoffset():
        dt = dt.astimezone(timezone.utc)
    two = _TWO_DIGITS
    return (
        f"{_DAY_NAMES[dt.weekday()]}, {two[dt.day]} {_MONTH_NAMES[dt.month - 1]} {dt.year:04d} "
        f"{two[dt.hour]}:{two[dt.minute]}:{two[dt.second]} GMT"
    )


def _to_second(dt: datetime) -> datetime:
    """Drop the fraction HTTP dates cannot carry; treat a naive *dt* as UTC."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.replace(microsecond=0)


# -------------------------------------------------------------- Preconditions


def evaluate_preconditions(
    method: str,
    headers: Mapping[str, str],
    etag: str | None,
    last_modified: datetime | None,
) -> int:
    """Evaluate the conditional request headers; return 200, 304 or 412.

    Follows the order of RFC 9110 §13.2.2. *headers* has lower-case names;
    blank values count as absent. *etag* is None when there is no current
    representation, and the caller must answer 404 before asking here
    (RFC 9110 §13.2.1). Invalid dates are ignored, as are the date conditions
    when *last_modified* is None. ``If-Range`` is separate: see
    :func:`if_range_matches`.
    """
    # Methods are case-sensitive (RFC 9110 §9.1): "get" is not GET.
    safe = method in ("GET", "HEAD")

    if_match = _present(headers, "if-match")
    if if_match is not None:
        # A present If-Match with no valid tag in it is false, not ignored:
        # failing closed is what the condition exists for.
        if not etag_matches(if_match, etag, weak=False):
            return 412
    elif _modified_since(_present(headers, "if-unmodified-since"), last_modified):
        return 412

    if_none_match = _present(headers, "if-none-match")
    if if_none_match is not None:
        if etag_matches(if_none_match, etag, weak=True):
            return 304 if safe else 412
    elif safe and _modified_since(_present(headers, "if-modified-since"), last_modified) is False:
        return 304
    return 200


def _modified_since(value: str | None, last_modified: datetime | None) -> bool | None:
    """Say whether *last_modified* is later than the HTTP-date *value*, to the second.

    None means the condition does not apply: no header, an invalid date, or no
    modification date to compare.
    """
    if value is None or last_modified is None:
        return None
    date = parse_http_date(value)
    if date is None:
        return None
    return _to_second(last_modified) > date


def if_range_matches(value: str | None, etag: str | None, last_modified: datetime | None) -> bool:
    """Say whether ``If-Range`` lets the ``Range`` header apply (RFC 9110 §13.1.5).

    True when there is no (or a blank) ``If-Range``. An entity-tag must match
    *etag* strongly, so a weak tag never matches; an HTTP-date must equal
    *last_modified* to the second. When this is False the caller ignores
    ``Range`` and sends the whole object with 200.
    """
    if value is None:
        return True
    value = value.strip(_OWS)
    if not value:
        return True
    # An entity-tag has a DQUOTE within its first three characters; a date never does.
    if '"' in value[:3]:
        if etag is None or value.startswith("W/") or _ENTITY_TAG.fullmatch(value) is None:
            return False
        return value == _entity_tag(etag)
    date = parse_http_date(value)
    return date is not None and last_modified is not None and _to_second(last_modified) == date
