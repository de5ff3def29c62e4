"""Media types: the one strict ``Content-Type`` parser, which types a browser may run
script in, and the type to assume from a key's extension.

Every decision about a stored type (what is sent, what is a download, what may
be shown inline) reads :func:`parse_media_type`'s answer, so no two checks can
look at different parts of one value. Kept apart from :mod:`r2store._http`
because it is about what a type *means* to a browser, not about HTTP's
protocol rules; :mod:`r2store._serving` turns it into response headers.
"""

from __future__ import annotations

import functools
import mimetypes
import re

import attrs

from ._http import _OWS

__all__ = [
    "JAVASCRIPT_TYPES",
    "SCRIPTABLE_TYPES",
    "MediaType",
    "guess_type",
    "is_scriptable",
    "parse_media_type",
]

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


# ------------------------------------------------------ Types that run script

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
