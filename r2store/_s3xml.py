"""Reading S3's XML answers: a ListObjectsV2 page, and the fields of an ``<Error>``.

The lean transport (:mod:`r2store._transport`) reads these without botocore. Kept
apart from the sending because parsing is where a strange server shows: S3's
namespace, another or none; keys encoded or not; timestamps with any number of
fraction digits; an HTML page where a listing should be.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from datetime import datetime, timezone
from typing import NamedTuple
from urllib.parse import unquote_plus

__all__ = ["ListPage", "ListedObject"]


class ListedObject(NamedTuple):
    """One ``Contents`` entry of a listing; *key* is the full key, decoded."""

    key: str
    size: int
    etag: str | None
    last_modified: datetime | None


class ListPage(NamedTuple):
    """One ListObjectsV2 page: objects, common prefixes (full, decoded), and where to go on."""

    objects: list[ListedObject]
    prefixes: list[str]
    is_truncated: bool
    next_token: str | None


def _local_name(tag: str) -> str:
    """An element's name without its namespace: S3 sends one, some servers do not."""
    return tag.rpartition("}")[2]


def _error_fields(body: bytes) -> dict[str, str]:
    """The child elements of an ``<Error>`` document, as botocore collects them."""
    try:
        # The body comes from the configured endpoint; expat refuses external entities and
        # (2.4.1+) limits entity expansion, and there are no DTDs in S3 answers.
        root = ElementTree.fromstring(body)  # noqa: S314
    except ElementTree.ParseError:
        return {}
    if _local_name(root.tag) != "Error":
        return {}
    return {_local_name(child.tag): child.text or "" for child in root}


def _parse_listing(body: bytes) -> ListPage:
    """Parse a ListObjectsV2 answer, decoding keys when the answer says they are encoded."""
    root = ElementTree.fromstring(body)  # noqa: S314 -- see _error_fields
    name = _local_name(root.tag)
    if name != "ListBucketResult":
        # An HTML page from a captive portal or a proxy, another operation's answer: read
        # as a listing it would silently hold no keys (sync would upload everything again).
        raise ValueError(f"not a ListBucketResult: {name[:40]!r}")
    # Children are in the root's namespace, whatever it is: S3's, none (some servers) or
    # another (s3rver's); "{namespace}" as ElementTree spells it, or "".
    ns = root.tag.removesuffix(name)
    # botocore decodes (with unquote_plus, as S3 encodes a space as "+") only when the
    # answer says EncodingType=url: a server that ignored the request sent keys as they are.
    decode: Callable[[str], str] = (
        unquote_plus if root.findtext(f"{ns}EncodingType") == "url" else _same
    )
    objects = [
        ListedObject(
            key=decode(item.findtext(f"{ns}Key") or ""),
            size=int(item.findtext(f"{ns}Size") or 0),
            etag=item.findtext(f"{ns}ETag"),
            last_modified=_parse_timestamp(item.findtext(f"{ns}LastModified")),
        )
        for item in root.iterfind(f"{ns}Contents")
    ]
    prefixes = [
        decode(item.findtext(f"{ns}Prefix") or "") for item in root.iterfind(f"{ns}CommonPrefixes")
    ]
    truncated = (root.findtext(f"{ns}IsTruncated") or "").strip().lower() == "true"
    return ListPage(objects, prefixes, truncated, root.findtext(f"{ns}NextContinuationToken"))


def _same(text: str) -> str:
    return text


def _parse_timestamp(text: str | None) -> datetime | None:
    """An ISO 8601 timestamp from a listing (``2026-11-25T12:34:56.000Z``), aware, in UTC."""
    if not text:
        return None
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        # Python 3.10 takes only 3 or 6 digits of fraction: drop the fraction instead.
        head, dot, rest = text.partition(".")
        if not dot:
            return None
        digits = len(rest) - len(rest.lstrip("0123456789"))
        try:
            parsed = datetime.fromisoformat(head + rest[digits:])
        except ValueError:
            return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)
