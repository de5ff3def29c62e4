"""Writing an object to R2: one PutObject when small, equal multipart parts when large.

PutObject and UploadPart go through the store's lean transport (:mod:`r2store._transport`,
a fifth of botocore's CPU per small write); CreateMultipartUpload, CompleteMultipartUpload
and AbortMultipartUpload, once per large upload, stay on botocore.

The guarantees, whichever client sends: a create (``overwrite=False``) is atomic
(``If-None-Match: *`` on PutObject and on CompleteMultipartUpload); a create whose first
attempt landed but whose answer was lost is told from someone else's object by its ETag;
a failed multipart upload is aborted, so a partial object never appears.
"""

from __future__ import annotations

import builtins
import io
import math
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from .errors import ObjectExistsError, R2StoreError, map_error, raise_mapped

if TYPE_CHECKING:
    from concurrent.futures import Future

    from .store import R2Store

__all__ = ["BinaryReadable", "Content", "part_size_for", "put_headers", "save"]


class BinaryReadable(Protocol):
    """A binary stream: anything with ``read(size) -> bytes``."""

    def read(self, size: int = ..., /) -> bytes | None: ...


#: What :meth:`R2Store.save` accepts: bytes, or a binary file object read from its current position.
Content = bytes | bytearray | memoryview | BinaryReadable

_MAX_PARTS = 10_000
# PutObject's parameters (as objects.write_headers names them, botocore's names) as headers.
_HEADER_NAMES = {
    "ContentType": "content-type",
    "CacheControl": "cache-control",
    "ContentDisposition": "content-disposition",
    "ContentEncoding": "content-encoding",
}


def put_headers(params: Mapping[str, Any]) -> dict[str, str]:
    """A write's checked parameters (see :func:`r2store.objects.write_headers`) as the
    HTTP headers botocore would send for them, names in lower case."""
    headers: dict[str, str] = {}
    for name, value in params.items():
        if name == "Metadata":
            # Header names are case-blind: botocore's headers keep one of two names that
            # differ only in case, and so does this (the last).
            for meta_name, meta_value in value.items():
                headers[f"x-amz-meta-{meta_name.lower()}"] = meta_value
        else:
            headers[_HEADER_NAMES[name]] = value
    return headers


def save(
    store: R2Store,
    key: str,
    full_key: str,
    content: Content,
    *,
    extra: dict[str, Any],
    overwrite: bool,
) -> str:
    """Store *content* under *full_key* (*key* as the caller named it, for errors) with the
    PutObject parameters *extra*; see :meth:`R2Store.save`."""
    threshold = store.config.multipart_threshold
    if isinstance(content, (bytes, bytearray, memoryview)):
        body = bytes(content) if not isinstance(content, bytes) else content
        if len(body) <= threshold:
            _put(store, key, full_key, body, None, extra, overwrite)
            return key
        _upload_parts(store, key, full_key, io.BytesIO(body), len(body), extra, overwrite)
        return key
    if isinstance(content, io.TextIOBase) or not hasattr(content, "read"):
        raise TypeError(f"content must be bytes or a binary file object, not {type(content)}")
    size = _remaining_size(content)
    if size is not None and size <= threshold:
        _put(store, key, full_key, content, size, extra, overwrite)
        return key
    if size is None:
        # Unknown length: read just past the threshold to learn which way to go.
        head = _read_exactly(content, threshold + 1)
        if len(head) <= threshold:
            _put(store, key, full_key, head, None, extra, overwrite)
            return key
        stream: BinaryReadable = _Chain(head, content)
    else:
        stream = content
    _upload_parts(store, key, full_key, stream, size, extra, overwrite)
    return key


def _put(
    store: R2Store,
    key: str,
    full_key: str,
    body: Any,
    size: int | None,
    extra: dict[str, Any],
    overwrite: bool,
) -> None:
    """One PutObject of *body*: bytes, or *size* bytes of a seekable stream from where it stands."""
    headers = put_headers(extra)
    if not overwrite:
        headers["if-none-match"] = "*"
    start = 0 if isinstance(body, bytes) else body.tell()
    try:
        store.transport.put_object(full_key, body, headers, size=size)
    except Exception as exc:
        error = map_error(exc, key=key, creating=not overwrite)
        # A create whose first attempt was stored but whose answer was lost meets its own
        # object on the retry (412): not someone else's, if it holds exactly our bytes.
        if (
            isinstance(error, ObjectExistsError)
            and _retried(exc)
            and _holds(store, key, f'"{_md5(body, start, size)}"')
        ):
            return
        raise_mapped(exc, key=key, creating=not overwrite)


def _upload_parts(
    store: R2Store,
    key: str,
    full_key: str,
    stream: BinaryReadable,
    size: int | None,
    extra: dict[str, Any],
    overwrite: bool,
) -> None:
    """Multipart upload in equal-size parts (R2 requires it), aborted on any failure.

    s3transfer is not used because it cannot send ``If-None-Match`` with
    CompleteMultipartUpload, which is what makes a large create atomic.
    """
    config = store.config
    part_size = part_size_for(size, config.multipart_chunksize)
    if not overwrite and store.exists(key):
        # Not the guarantee (CompleteMultipartUpload's If-None-Match is), but
        # it saves uploading gigabytes only to be refused at the end.
        raise ObjectExistsError(f"an object already exists for key {key!r}")
    client = store.client
    transport = store.transport
    bucket = config.bucket
    try:
        upload_id = client.create_multipart_upload(Bucket=bucket, Key=full_key, **extra)["UploadId"]
    except Exception as exc:
        raise_mapped(exc, key=key)

    def upload(number: int, data: bytes) -> dict[str, Any]:
        return {
            "PartNumber": number,
            "ETag": transport.upload_part(full_key, upload_id, number, data),
        }

    # Imported here: only multipart uploads need a thread pool.
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    # Each part in flight holds one of the pool's connections: more parts than the pool
    # would only wait for one (and could time out doing so).
    window = min(config.max_concurrency, config.max_pool_connections)
    parts: builtins.list[Future[dict[str, Any]]] = []
    try:
        with ThreadPoolExecutor(window, "r2store-upload") as pool:
            in_flight: set[Future[dict[str, Any]]] = set()
            number = 0
            while data := _read_exactly(stream, part_size):
                number += 1
                if number > _MAX_PARTS:
                    raise R2StoreError(
                        f"upload of {key!r} needs more than {_MAX_PARTS} parts of "
                        f"{part_size} bytes; raise multipart_chunksize"
                    )
                # Keep the window full: the next part goes up as soon as any one is done,
                # never after a whole batch. Memory holds at most max_concurrency parts in
                # flight, and this one just read.
                while True:
                    done = {f for f in in_flight if f.done()}
                    for finished in done:
                        finished.result()  # a failed part ends the upload now
                    in_flight -= done
                    if len(in_flight) < window:
                        break
                    wait(in_flight, return_when=FIRST_COMPLETED)
                part = pool.submit(upload, number, data)
                parts.append(part)
                in_flight.add(part)
        completed = [f.result() for f in parts]
        params: dict[str, Any] = {
            "Bucket": bucket,
            "Key": full_key,
            "UploadId": upload_id,
            "MultipartUpload": {"Parts": completed},
        }
        if not overwrite:
            params["IfNoneMatch"] = "*"
        try:
            client.complete_multipart_upload(**params)
        except Exception as exc:
            # A completion that was done but whose answer was lost is refused when
            # retried (412 for a create, or NoSuchUpload): the object may be ours.
            if _retried(exc) and _holds(store, key, _multipart_etag(completed)):
                return
            raise
    except BaseException as exc:
        _abort(client, bucket, full_key, upload_id)
        if isinstance(exc, Exception):
            raise_mapped(exc, key=key, creating=not overwrite)
        raise


def _holds(store: R2Store, key: str, etag: str | None) -> bool:
    """Whether the object under *key* has *etag* now (False if that cannot be told)."""
    if etag is None:
        return False
    try:
        return store.stat(key).etag == etag
    except R2StoreError:
        return False


def part_size_for(size: int | None, chunksize: int) -> int:
    """The part size a multipart upload of *size* bytes uses: *chunksize*, doubled
    until the upload fits R2's 10,000 parts (unknown sizes keep *chunksize*)."""
    part_size = chunksize
    if size is not None:
        while math.ceil(size / part_size) > _MAX_PARTS:
            part_size *= 2
    return part_size


def _retried(exc: Exception) -> bool:
    """Whether the error answer in *exc* (botocore's or the transport's) came after at
    least one retry."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    return bool(response.get("ResponseMetadata", {}).get("RetryAttempts"))


def _md5(body: Any, start: int, size: int | None) -> str:
    """The MD5 (hex) of *body*: bytes, or *size* bytes of a seekable stream from *start*.

    That is the ETag S3 and R2 give an object stored by one PutObject.
    """
    import hashlib  # on first use: its OpenSSL binding is slow to load

    digest = hashlib.md5(usedforsecurity=False)
    if isinstance(body, bytes):
        digest.update(body)
        return digest.hexdigest()
    body.seek(start)
    left = size or 0
    while left > 0 and (chunk := body.read(min(1024 * 1024, left))):
        digest.update(chunk)
        left -= len(chunk)
    return digest.hexdigest()


def _multipart_etag(parts: builtins.list[dict[str, Any]]) -> str | None:
    """The ETag S3 and R2 give a multipart object: the MD5 of its parts' MD5s, and their
    count (None if a part's ETag is not an MD5)."""
    import hashlib  # on first use: its OpenSSL binding is slow to load

    digest = hashlib.md5(usedforsecurity=False)
    try:
        for part in parts:
            digest.update(bytes.fromhex(str(part["ETag"]).strip('"')))
    except ValueError:
        return None
    return f'"{digest.hexdigest()}-{len(parts)}"'


def _abort(client: Any, bucket: str, key: str, upload_id: str) -> None:
    try:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except Exception:
        # R2 also expires incomplete uploads after 7 days; say so rather than mask the cause.
        # (logging is imported here: a process that never hits this need not load it.)
        import logging

        logging.getLogger("r2store").warning(
            "could not abort multipart upload of %r; R2 will expire it", key
        )


def _remaining_size(stream: Any) -> int | None:
    """Bytes left from the current position, or None when the stream cannot tell."""
    try:
        if hasattr(stream, "seekable") and not stream.seekable():
            return None
        position = stream.tell()
        end = stream.seek(0, os.SEEK_END)
        if end is None:  # some file-likes' seek() returns None
            end = stream.tell()
        stream.seek(position)
    except (AttributeError, OSError, ValueError):
        return None
    return int(end) - int(position)


def _read_exactly(stream: BinaryReadable, size: int) -> bytes:
    """Read *size* bytes, or fewer only at the end of the stream (reads may come up short)."""
    chunks = []
    remaining = size
    while remaining > 0:
        chunk = stream.read(remaining)
        if chunk is None:
            # A non-blocking stream with nothing to read yet: taking that as the
            # end would store a truncated object.
            raise TypeError("content must be a blocking stream; read() returned None")
        if not chunk:
            break
        if not isinstance(chunk, bytes):
            raise TypeError(f"content must be opened in binary mode, read gave {type(chunk)}")
        chunks.append(chunk)
        remaining -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class _Chain(io.RawIOBase):
    """Bytes already read, followed by the rest of a stream."""

    def __init__(self, head: bytes, rest: BinaryReadable) -> None:
        super().__init__()
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes | None:
        if self._head:
            n = len(self._head) if size is None or size < 0 else size
            data, self._head = bytes(self._head[:n]), self._head[n:]
            return data
        return self._rest.read(-1 if size is None else size)
