"""What the store hands back: object metadata and a streaming reader."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from .errors import InvalidMetadataError, raise_mapped

if TYPE_CHECKING:
    from datetime import datetime

__all__ = [
    "MAX_METADATA_BYTES",
    "Body",
    "FileBody",
    "ObjectReader",
    "ObjectStat",
    "header_value",
    "user_metadata",
    "write_headers",
]

# Skipping this far forward reads the bytes rather than making a new request.
_SKIP_AHEAD = 256 * 1024
#: Chunk size for streaming reads: large enough that per-chunk overhead
#: (a thread hop under ASGI, a syscall) does not dominate.
DEFAULT_CHUNK_SIZE = 1024 * 1024
#: The first read of a streamed response: a read returns only once its whole chunk has
#: arrived, so a small first one gets the first bytes to the client sooner.
FIRST_CHUNK_SIZE = 64 * 1024
_META_PREFIX = "x-amz-meta-"
#: R2's limit on an object's user metadata, names and values together, in bytes.
MAX_METADATA_BYTES = 8192
# Metadata travels as x-amz-meta-<name> headers: names are HTTP tokens (RFC 9110) and
# values printable ASCII, so a CR/LF can never split a header and bytes equal characters.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_PRINTABLE = re.compile(r"[\x20-\x7e]*")


def header_value(name: str, value: str) -> str:
    """*value* of the header parameter *name* (``content_type``, ...), or
    :class:`InvalidMetadataError` if it is not printable ASCII."""
    if not isinstance(value, str) or not _PRINTABLE.fullmatch(value):
        raise InvalidMetadataError(f"{name} must be a str of printable ASCII characters")
    return value


def user_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """*metadata* as botocore's ``Metadata`` parameter, or :class:`InvalidMetadataError`.

    Checked before any request, so a write R2 would refuse costs no upload.
    """
    total = 0
    for name, value in metadata.items():
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise InvalidMetadataError(
                f"metadata name {name!r} must be letters, digits and !#$%&'*+-.^_`|~"
            )
        header_value(f"metadata value of {name!r}", value)
        total += len(name) + len(value)
    if total > MAX_METADATA_BYTES:
        raise InvalidMetadataError(
            f"metadata is {total} bytes (names and values); R2 allows {MAX_METADATA_BYTES}"
        )
    return dict(metadata)


def write_headers(
    key: str,
    *,
    content_type: str | None,
    metadata: Mapping[str, str] | None,
    cache_control: str | None,
    content_disposition: str | None,
    content_encoding: str | None,
) -> dict[str, Any]:
    """A write's headers as PutObject parameters (``ContentType``, ``CacheControl``,
    ``ContentDisposition``, ``ContentEncoding``, ``Metadata``), checked: a write that R2
    would refuse is refused here, before anything is written, by every store.

    *content_type* None is guessed from the key; *cache_control* is the value to
    store (the caller applies its default).
    """
    if content_type is None:
        # Imported here: the HTTP module is not needed to import r2store.
        from ._mediatypes import guess_type

        content_type = guess_type(key)
    params: dict[str, Any] = {"ContentType": header_value("content_type", content_type)}
    for name, parameter, value in (
        ("CacheControl", "cache_control", cache_control),
        ("ContentDisposition", "content_disposition", content_disposition),
        ("ContentEncoding", "content_encoding", content_encoding),
    ):
        if value:
            params[name] = header_value(parameter, value)
    if metadata:
        params["Metadata"] = user_metadata(metadata)
    return params


class Body(Protocol):
    """A response body being received: what an :class:`ObjectReader` reads from."""

    def read(self, size: int | None = ..., /) -> bytes:
        """Up to *size* bytes (all that is left for None); ``b""`` at the end."""

    def close(self) -> None:
        """Stop receiving: unread bytes are dropped, and so is the connection."""


class FileBody:
    """A byte range of an open file, read as a response body (what a LocalStore's
    readers read from).

    *file* is an unbuffered file (``buffering=0``), so the descriptor's offset is
    always where the next read starts: a server's ``wsgi.file_wrapper`` may
    ``sendfile`` from ``fileno()`` at that offset, for the range's length. It has
    no ``seek``: servers that see one move the file after a sendfile.
    """

    def __init__(self, file: io.RawIOBase, start: int, length: int) -> None:
        self._file = file
        self._start = start
        self._length = length
        self._left = length
        file.seek(start)

    @property
    def length(self) -> int:
        """Bytes in the range."""
        return self._length

    def read(self, size: int | None = -1, /) -> bytes:
        """Up to *size* bytes of the range (the rest when negative or None)."""
        wanted = self._left if size is None or size < 0 else min(size, self._left)
        chunks = []
        while wanted > 0:
            chunk = self._file.read(wanted)
            if not chunk:
                # The file shrank under us: a short body must not pass for a whole one.
                raise OSError(f"file ended {self._left} bytes before the range did")
            chunks.append(chunk)
            wanted -= len(chunk)
            self._left -= len(chunk)
        return b"".join(chunks)

    def move_to(self, position: int) -> None:
        """Continue reading at *position* bytes into the range."""
        position = min(position, self._length)
        self._file.seek(self._start + position)
        self._left = self._length - position

    def fileno(self) -> int:
        """The file's descriptor, its offset at the next byte of the range."""
        return self._file.fileno()

    def close(self) -> None:
        """Close the file."""
        self._file.close()


@attrs.frozen(kw_only=True)
class ObjectStat:
    """An object's metadata, from a HEAD, a GET or a listing.

    ``key`` is relative to the store's ``location``. ``etag`` keeps its
    quotes, as HTTP sends it. Listings know no ``content_type`` (it is None).
    """

    key: str
    size: int
    etag: str | None = None
    last_modified: datetime | None = None
    content_type: str | None = None
    cache_control: str | None = None
    content_disposition: str | None = None
    content_encoding: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict)

    @classmethod
    def from_headers(cls, key: str, headers: Mapping[str, str]) -> ObjectStat:
        """Build from the HTTP headers of a HeadObject or GetObject answer.

        *headers* must look names up case-insensitively (urllib3's and http.client's
        header mappings do) or hold them in lower case.
        """
        # Imported here: the HTTP helpers are not needed to import r2store.
        from ._http import parse_http_date

        get = headers.get
        modified = get("last-modified")
        # S3 and R2 send metadata names in lower case; folding makes that certain.
        metadata = {
            lname[len(_META_PREFIX) :]: value
            for lname, value in ((name.lower(), value) for name, value in headers.items())
            if lname.startswith(_META_PREFIX)
        }
        return cls(
            key=key,
            size=int(get("content-length") or 0),
            etag=get("etag"),
            last_modified=parse_http_date(modified) if modified else None,
            content_type=get("content-type"),
            cache_control=get("cache-control"),
            content_disposition=get("content-disposition"),
            content_encoding=get("content-encoding"),
            metadata=metadata,
        )

    @classmethod
    def from_response(cls, key: str, response: Mapping[str, Any]) -> ObjectStat:
        """Build from a botocore HeadObject or GetObject response (a dict of parsed fields)."""
        return cls(
            key=key,
            size=int(response.get("ContentLength", 0)),
            etag=response.get("ETag"),
            last_modified=response.get("LastModified"),
            content_type=response.get("ContentType"),
            cache_control=response.get("CacheControl"),
            content_disposition=response.get("ContentDisposition"),
            content_encoding=response.get("ContentEncoding"),
            metadata=response.get("Metadata") or {},
        )


class _ClosedBody:
    """What a reader whose file was handed over holds: nothing to read or close."""

    def read(self, size: int | None = -1, /) -> bytes:
        return b""

    def close(self) -> None:
        pass


_CLOSED_BODY = _ClosedBody()


class ObjectReader(io.RawIOBase):
    """A readable binary file over one GetObject response, read as the caller reads.

    Nothing is downloaded ahead: bytes come off the connection when asked for.
    Close it (or use ``with``) to release the connection; errors while
    reading become :class:`~r2store.errors.R2StoreError`\\ s.

    ``tell()`` works always; ``seek()`` works on whole-object readers (made
    with *reopen*): a short skip forward reads ahead, anything else costs one
    ranged GetObject from the new position.

    Made by :meth:`R2Store.open <r2store.R2Store.open>`: *body* is the response
    body, *stat* the metadata its headers carried, *content_range* its
    ``Content-Range``, and ``reopen(start)`` returns a new body from byte
    *start* on.
    """

    def __init__(
        self,
        key: str,
        body: Body,
        stat: ObjectStat,
        *,
        content_range: str | None = None,
        reopen: Callable[[int], Body] | None = None,
    ) -> None:
        super().__init__()
        self._body = body
        self._key = key
        self._reopen = reopen
        self._position = 0
        #: The metadata that came with the response (``size`` is the length of
        #: this response's body, which for a range is the range's length).
        self.stat = stat
        #: For a ranged read, the ``Content-Range`` R2 answered with.
        self.content_range = content_range

    @property
    def name(self) -> str:
        """The object's key, as files have a name."""
        return self._key

    @property
    def size(self) -> int:
        """Bytes in this response's body."""
        return self.stat.size

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        """Read up to *size* bytes (all that is left when negative or None)."""
        self._checkClosed()
        try:
            data: bytes = self._body.read(None if size is None or size < 0 else size)
        except Exception as exc:
            raise_mapped(exc, key=self._key)
        self._position += len(data)
        return data

    def tell(self) -> int:
        return self._position

    def seekable(self) -> bool:
        return self._reopen is not None or isinstance(self._body, FileBody)

    def take_file(self) -> FileBody | None:
        """Hand over the local file this reader reads, if it reads one and nothing has been
        read yet; else None. The file is at the range's start and reads no further than
        its end (for ``wsgi.file_wrapper``: a sendfile of ``stat.size`` bytes from its
        descriptor's offset). This reader is then closed, and the caller closes the file.
        """
        body = self._body
        if not isinstance(body, FileBody) or self._position != 0 or self.closed:
            return None
        self._body = _CLOSED_BODY
        super().close()
        return body

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move to a byte position; see the class docstring for what it costs."""
        self._checkClosed()
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.stat.size}
        target = base[whence] + offset
        if target < 0:
            raise ValueError(f"negative seek position {target}")
        if target == self._position:
            return target
        if isinstance(self._body, FileBody):
            # A local file moves in place: no request, whatever the distance.
            self._body.move_to(target)
            self._position = target
            return target
        if self._reopen is None:
            raise io.UnsupportedOperation("seek on a ranged or conditional read")
        if self._position < target <= self._position + _SKIP_AHEAD:
            self.read(target - self._position)
            return self._position
        self._body.close()
        if target >= self.stat.size:
            self._body = io.BytesIO()
        else:
            try:
                self._body = self._reopen(target)
            except Exception as exc:
                raise_mapped(exc, key=self._key)
        self._position = target
        return target

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def iter_chunks(self, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
        """Yield the body in chunks of up to *chunk_size* bytes."""
        while chunk := self.read(chunk_size):
            yield chunk

    def close(self) -> None:
        """Release the connection; unread bytes are dropped, not downloaded."""
        if not self.closed:
            try:
                self._body.close()
            finally:
                super().close()

    def __repr__(self) -> str:
        return f"<ObjectReader key={self._key!r} size={self.stat.size}>"
