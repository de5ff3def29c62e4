"""What the media proxy sends with a stored object: the type it goes out as, whether it
is a download, its security headers, and the stored header values safe to repeat.

User uploads are served from the app's own origin, so every answer here is
chosen so that no upload can act as the app (see ``SECURITY_HEADERS``). Kept
apart from :mod:`r2store._http`, which holds the protocol's rules; this holds
the proxy's policy, and :class:`r2store.proxy.MediaProxy` sends what it returns.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import attrs

from ._http import _OWS
from ._mediatypes import JAVASCRIPT_TYPES, _scriptable, guess_type, parse_media_type

__all__ = [
    "MEDIA_SECURITY_HEADERS",
    "NOT_MODIFIED_SECURITY_HEADERS",
    "SECURITY_HEADERS",
    "ServedType",
    "cache_control",
    "content_disposition",
    "served_type",
    "stored_field",
]

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
