"""HTTP semantics for the media proxy (RFC 9110), with no framework and no I/O.

The proxy forwards ``Range`` and the conditional headers to R2 in one GetObject
and then checks R2's answer again with these functions, so that what the client
receives never depends on how faithfully the upstream implemented the RFC.
Everything here takes and returns plain ``str``, ``int`` and ``datetime``.

Header values are untrusted: every parser returns ``None`` (or "no match")
for input it does not understand and never raises on it.
"""

from __future__ import annotations

import functools
import mimetypes
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Literal
from urllib.parse import quote

import attrs

__all__ = [
    "JAVASCRIPT_TYPES",
    "MEDIA_SECURITY_HEADERS",
    "NOT_MODIFIED_SECURITY_HEADERS",
    "SCRIPTABLE_TYPES",
    "SECURITY_HEADERS",
    "ByteRange",
    "MediaType",
    "ServedType",
    "cache_control",
    "content_disposition",
    "content_range",
    "etag_matches",
    "evaluate_preconditions",
    "format_http_date",
    "guess_type",
    "if_range_matches",
    "is_scriptable",
    "parse_etags",
    "parse_http_date",
    "parse_media_type",
    "parse_range",
    "served_type",
    "stored_field",
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


# ------------------------------------------------------------- Media types

# RFC 9110 §5.6.2 token and §5.6.4 quoted-string, in ASCII only: obs-text is
# legal in a quoted-string but no real media type needs it, and refusing it
# keeps every value this module lets through printable ASCII.
_TCHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_QUOTED_STRING = r'"(?:[\t\x20\x21\x23-\x5b\x5d-\x7e]|\\[\t\x20-\x7e])*"'
# RFC 9110 §8.3.1: type "/" subtype *( OWS ";" OWS [ parameter ] ). Every
# repetition consumes a ";", so matching takes linear time.
_MEDIA_TYPE_SYNTAX = re.compile(
    rf"({_TCHARS})/({_TCHARS})"
    rf"(?:[ \t]*;[ \t]*(?:{_TCHARS}=(?:{_TCHARS}|{_QUOTED_STRING}))?)*"
)


@attrs.frozen
class MediaType:
    """One media type, as :func:`parse_media_type` found it."""

    #: ``type/subtype`` in lower case, without parameters.
    essence: str
    #: The whole value as given, less surrounding whitespace: printable ASCII (and
    #: tabs, which RFC 9110 allows around ``;``), safe to send.
    value: str

    @property
    def type(self) -> str:
        """The top-level type: ``image`` for ``image/png``."""
        return self.essence.partition("/")[0]


def parse_media_type(value: str | None) -> MediaType | None:
    """Parse a ``Content-Type`` holding exactly one media type, strictly; else None.

    This is the one parser for stored types: the proxy's decisions (which type
    is sent, what is a download, what is allowed inline) all read its answer, so
    no check can look at a different part of the value than another.

    Refused: anything but printable ASCII and tabs, a missing subtype, a
    parameter without ``=`` or with a value that is neither a token nor a
    quoted-string, and any comma -- even inside a quoted-string, where RFC 9110
    allows one. Browsers read a comma list in Content-Type by its elements
    (WHATWG Fetch, "extract a MIME type"), and not all of them honour quotes
    while splitting, so ``image/png, text/javascript`` must never be taken as
    an image.
    """
    if value is None:
        return None
    value = value.strip(_OWS)
    if "," in value:
        return None
    match = _MEDIA_TYPE_SYNTAX.fullmatch(value)
    if match is None:
        return None
    return MediaType(essence=f"{match[1]}/{match[2]}".lower(), value=value)


# ------------------------------------------------- Serving user uploads safely

# A response's CSP governs only a document made from it: <img src>, <video src>
# and CSS on the app's own pages ignore it and still work.
_POLICY = "default-src 'none'; media-src 'self'; style-src 'unsafe-inline'"

#: Response headers for every answer that could become a document: errors, and
#: every object that is not an image, audio or video (see :func:`served_type`).
#:
#: ``nosniff`` makes browsers believe our Content-Type instead of guessing
#: HTML from the bytes. The policy is GitHub's one for raw user content
#: (``default-src 'none'; style-src 'unsafe-inline'; sandbox``) plus
#: ``media-src 'self'``:
#:
#: - ``sandbox`` gives a document opened from the proxy an opaque origin with
#:   no scripts, forms or popups, so even a file that does render cannot act
#:   as the app. ``default-src 'none'`` stops it fetching anything.
#: - ``style-src 'unsafe-inline'``: the browsers' built-in viewers for an
#:   image or a text file opened directly style their page with inline styles
#:   (centring, line wrapping); without it those are refused and logged as
#:   violations. With no script and no fetches allowed, inline CSS is inert.
#: - ``media-src 'self'``: a video or audio file opened directly becomes a
#:   document whose ``<video>`` fetches the same URL again; under
#:   ``default-src 'none'`` that fetch is refused and nothing plays.
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", f"{_POLICY}; sandbox"),
)

#: Response headers for an image, audio or video: :data:`SECURITY_HEADERS`
#: without ``sandbox``. Opened directly, a video or audio file becomes a
#: document whose ``<video>`` loads the same URL again; in a sandboxed, opaque
#: origin that load is cross-origin and Chromium refuses it, so nothing plays.
#: Such a document is the browser's own media viewer: with ``nosniff`` the
#: bytes are never read as HTML, and the policy still allows no script and no
#: fetch but the media itself, so the sandbox protected nothing here.
MEDIA_SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", _POLICY),
)

#: Response headers for a 304. A cache updates its stored response with the
#: 304's headers (RFC 9111 §4.3.4; Chromium does), so a 304 carrying the
#: sandboxing CSP would give a cached video the sandbox its 200 went without,
#: and it would stop playing after a reload. The CSP the 200 chose stays in the
#: cache when the 304 sends none; a 304 has no body to protect.
NOT_MODIFIED_SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
)

#: Every JavaScript MIME type essence WHATWG's MIME Sniffing lists. Browsers run
#: ``<script src>`` with any of them, and Content-Disposition does not stop that:
#: the proxy never sends one, whatever ``allow_types`` says.
JAVASCRIPT_TYPES: frozenset[str] = frozenset(
    {
        "application/ecmascript",
        "application/javascript",
        "application/x-ecmascript",
        "application/x-javascript",
        "text/ecmascript",
        "text/javascript",
        "text/javascript1.0",
        "text/javascript1.1",
        "text/javascript1.2",
        "text/javascript1.3",
        "text/javascript1.4",
        "text/javascript1.5",
        "text/jscript",
        "text/livescript",
        "text/x-ecmascript",
        "text/x-javascript",
    }
)

#: Media types a browser may run script in or render as an active document.
#: Serve these as attachments (see :func:`is_scriptable`).
SCRIPTABLE_TYPES: frozenset[str] = JAVASCRIPT_TYPES | frozenset(
    {
        # HTML, XML and XSLT documents can carry script; any "+xml" type is
        # also caught by is_scriptable().
        "text/html",
        "application/xhtml+xml",
        "image/svg+xml",
        "text/xml",
        "application/xml",
        "text/xsl",
        "application/xslt+xml",
        # PDF can carry JavaScript, and browser PDF plugins have run it with the
        # serving page's origin (Adobe Reader's universal XSS, CVE-2007-0045).
        # The sandbox CSP also stops Chrome's built-in viewer, so a download is
        # both the safe and the only dependable way to hand a PDF over.
        "application/pdf",
        # Each part may be HTML; browsers render it as a document.
        "multipart/x-mixed-replace",
        # Legacy MHTML archives, rendered as HTML by older browsers.
        "message/rfc822",
        "multipart/related",
        "application/x-mimearchive",
        # Flash ran ActionScript with the serving origin; dead, but cheap to keep out.
        "application/x-shockwave-flash",
        # Not listed, by choice: text/vtt (only parsed by <track>, shown as text
        # when opened), text/css and application/json (inert as documents), and
        # text/plain.
    }
)


def _scriptable(media_type: MediaType) -> bool:
    return media_type.essence in SCRIPTABLE_TYPES or media_type.essence.endswith("+xml")


def is_scriptable(content_type: str | None) -> bool:
    """Say whether a browser might run script in a response of *content_type*.

    Parameters and case are ignored; ``SCRIPTABLE_TYPES`` and any ``+xml``
    type count. A missing or empty type is not scriptable: the proxy always
    sends a definite type with ``nosniff``. A type that
    :func:`parse_media_type` refuses (a comma list, say) *is* scriptable,
    since nobody can say how a browser will take it.
    """
    if not content_type or not content_type.strip(_OWS):
        return False
    media_type = parse_media_type(content_type)
    return media_type is None or _scriptable(media_type)


#: What S3-compatible stores record for uploads that named no type.
_UNKNOWN_TYPES = frozenset({"binary/octet-stream"})
_MEDIA = frozenset({"image", "audio", "video"})


@attrs.frozen
class ServedType:
    """How the proxy sends an object: what :func:`served_type` decided."""

    #: The ``Content-Type`` to send.
    content_type: str
    #: Whether the object must go as a download (``Content-Disposition: attachment``).
    attachment: bool
    #: :data:`SECURITY_HEADERS` or, for images, audio and video, :data:`MEDIA_SECURITY_HEADERS`.
    security_headers: tuple[tuple[str, str], ...]


_DOWNLOAD = ServedType(
    content_type="application/octet-stream", attachment=True, security_headers=SECURITY_HEADERS
)


def served_type(
    stored: str | None, key: str, allow_types: frozenset[str] = frozenset()
) -> ServedType:
    """Decide the type an object of stored ``Content-Type`` *stored* is sent with.

    No type (or S3's ``binary/octet-stream``) means the type guessed from
    *key*. A type :func:`parse_media_type` refuses, and any JavaScript type,
    is sent as an ``application/octet-stream`` download. A scriptable type is
    sent under its own name as a download, unless its essence is in
    *allow_types* (lower-case essences). Only images, audio and video that are
    not scriptable go without the CSP ``sandbox``.
    """
    if not stored or stored.strip(_OWS).lower() in _UNKNOWN_TYPES:
        stored = guess_type(key)
    media_type = parse_media_type(stored)
    if media_type is None or media_type.essence in JAVASCRIPT_TYPES:
        return _DOWNLOAD
    scriptable = _scriptable(media_type)
    media = media_type.type in _MEDIA and not scriptable
    return ServedType(
        content_type=media_type.value,
        attachment=scriptable and media_type.essence not in allow_types,
        security_headers=MEDIA_SECURITY_HEADERS if media else SECURITY_HEADERS,
    )


# Stored header values are sent only if they are what save() writes: printable
# ASCII. Anything else was written past save() (a presigned PUT can send any
# byte but CR and LF) and could end a header early in a lax server, garble a
# terminal, or make a strict server (gunicorn) fail the whole response.
_FIELD_TEXT = re.compile(r"[\x20-\x7e]*")


def stored_field(value: str | None) -> str | None:
    """*value*, a header value read from storage, if it is printable ASCII; else None."""
    if value is None or _FIELD_TEXT.fullmatch(value) is None:
        return None
    return value


def cache_control(stored: str | None, default: str) -> str:
    """The ``Cache-Control`` to send for an object stored with *stored*.

    *default* when none is stored. A stored value that is not printable ASCII
    becomes ``no-store``: it was meant to limit caching somehow, and dropping
    its control characters or falling back to *default* could turn a
    ``private`` into something a shared cache keeps.
    """
    if not stored:
        return default
    return stored_field(stored) or "no-store"


# C0 and C1 controls, DEL and lone surrogates (which cannot be encoded as UTF-8).
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# The quoted ASCII fallback keeps printable ASCII except '"' and '\' (which
# would need escaping that not every browser undoes) and '%' (which some
# browsers percent-decode in filename=, RFC 6266 appendix D).
_NOT_FALLBACK_SAFE = re.compile(r'[^\x20-\x7e]|["\\%]')
# RFC 8187 attr-char beyond the letters, digits and "-._~" that quote() always keeps.
_ATTR_CHAR_EXTRA = "!#$&+^`|"


def content_disposition(filename: str, *, attachment: bool) -> str:
    """Return a ``Content-Disposition`` value offering *filename* (RFC 6266).

    ``filename=`` holds an ASCII fallback in which anything unsafe became
    ``_``; ``filename*=`` (RFC 8187) carries the real name in UTF-8 when the
    fallback differs from it. Control characters are replaced in both, so the
    value is always printable ASCII, whatever *filename* holds. An empty name
    gives the bare disposition type.
    """
    disposition = "attachment" if attachment else "inline"
    name = _CONTROL_CHARS.sub("_", filename)
    if not name:
        return disposition
    fallback = _NOT_FALLBACK_SAFE.sub("_", name)
    if fallback == name:
        return f'{disposition}; filename="{fallback}"'
    encoded = quote(name, safe=_ATTR_CHAR_EXTRA)
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


# ------------------------------------------------------------ Guessing types

# Types pinned so that every supported Python gives the same answer: older
# versions lack some of these or use outdated names (application/javascript,
# audio/x-wav, image/x-ms-bmp), and webp was "non-strict" before 3.13.
_PINNED_TYPES = {
    ".apng": "image/apng",
    ".avif": "image/avif",
    ".bmp": "image/bmp",
    ".heic": "image/heic",
    ".heif": "image/heif",
    ".webp": "image/webp",
    ".flac": "audio/flac",
    ".m4a": "audio/mp4",
    ".oga": "audio/ogg",
    ".ogg": "audio/ogg",
    ".opus": "audio/opus",
    # audio/wav is the name every browser plays; audio/vnd.wave is not.
    ".wav": "audio/wav",
    ".weba": "audio/webm",
    ".ogv": "video/ogg",
    ".otf": "font/otf",
    ".ttf": "font/ttf",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".js": "text/javascript",  # RFC 9239
    ".mjs": "text/javascript",
    ".json": "application/json",
    ".jsonld": "application/ld+json",
    ".webmanifest": "application/manifest+json",
    ".wasm": "application/wasm",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".ics": "text/calendar",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".toml": "application/toml",
    ".7z": "application/x-7z-compressed",
    ".epub": "application/epub+zip",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".odp": "application/vnd.oasis.opendocument.presentation",
}

# mimetypes reports "x.tar.gz" as application/x-tar *encoded* with gzip. The
# proxy serves stored bytes as they are, with no Content-Encoding, so the type
# must describe the compressed file.
_ENCODING_TYPES = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
}

_DEFAULT_TYPE = "application/octet-stream"


@functools.cache
def _mime_db() -> mimetypes.MimeTypes:
    """Build the extension table once, on first use.

    ``MimeTypes()`` holds only Python's built-in table, never the machine's
    mime.types files or registry, so answers do not depend on the machine.
    (Its first construction makes the stdlib load the global table too; that
    is why this is not done at import.)
    """
    db = mimetypes.MimeTypes()
    for extension, media_type in _PINNED_TYPES.items():
        db.add_type(media_type, extension)
    return db


def guess_type(key: str) -> str:
    """Return the Content-Type to serve for an object *key* stored without one.

    The guess comes from the extension of the key's last segment;
    ``application/octet-stream`` when unknown. Text types get
    ``; charset=utf-8``: nearly all text uploaded today is UTF-8, and a
    declared charset stops browsers guessing one (a classic XSS vector).
    """
    name = key.rpartition("/")[2]
    # The leading "/" stops mimetypes reading "data:..." or "a:b" as a URL scheme.
    media_type, encoding = _mime_db().guess_type("/" + name)
    if encoding is not None:
        return _ENCODING_TYPES.get(encoding, _DEFAULT_TYPE)
    if media_type is None:
        return _DEFAULT_TYPE
    if media_type.startswith("text/"):
        return f"{media_type}; charset=utf-8"
    return media_type
