"""R2Store: object operations on one bucket, over one shared, lazily made S3 client."""

from __future__ import annotations

import builtins
import io
import logging
import math
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from datetime import datetime
from functools import partial
from typing import Any, Protocol

from ._version import __version__
from .config import R2Config
from .errors import ObjectExistsError, ObjectNotFoundError, R2StoreError, map_error
from .keys import object_key, object_prefix, relative_key
from .objects import ObjectReader, ObjectStat
from .urls import URLBuilder
from .writer import ObjectWriter

__all__ = ["Content", "R2Store", "part_size_for"]

logger = logging.getLogger("r2store")


class BinaryReadable(Protocol):
    """A binary stream: anything with ``read(size) -> bytes``."""

    def read(self, size: int = ..., /) -> bytes | None: ...


#: What :meth:`R2Store.save` accepts: bytes, or a binary file object read from its current position.
Content = bytes | bytearray | memoryview | BinaryReadable

_MAX_PARTS = 10_000
_DELETE_BATCH = 1000


class R2Store:
    """Object operations and URLs for the bucket an :class:`R2Config` describes.

    Safe to share between threads: the S3 client is created on first use,
    once, and reused by every thread (creating one costs tens of
    milliseconds). Nothing here imports boto3 until a request is made.
    """

    def __init__(self, config: R2Config) -> None:
        self.config = config
        self._client: Any = None
        self._lock = threading.Lock()
        self._urls = URLBuilder(config)
        self._proxy_mode = config.media_proxy
        self._public_mode = config.public_url is not None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> R2Store:
        """A store configured from the environment; see :meth:`R2Config.from_env`."""
        return cls(R2Config.from_env(environ, **overrides))

    def __repr__(self) -> str:
        return f"<R2Store bucket={self.config.bucket!r} endpoint={self.config.endpoint!r}>"

    def close(self) -> None:
        """Close the S3 client's connections. The store stays usable: the next
        request makes a new client."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def __enter__(self) -> R2Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        # Clients and locks do not pickle; a copy makes its own on first use.
        return {"config": self.config}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["config"])  # type: ignore[misc]

    # -- the client ---------------------------------------------------------

    @property
    def client(self) -> Any:
        """The botocore S3 client, created on first use with R2-safe settings."""
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = _make_client(self.config)
                client = self._client
        return client

    def _key(self, key: str) -> str:
        return object_key(key, self.config.location)

    # -- URLs ---------------------------------------------------------------

    def url(self, key: str) -> str:
        """The URL pages should use for *key*, by ``config.url_mode``: the media
        proxy, else the public URL, else a presigned URL (no network either way)."""
        if self._proxy_mode:
            return self._urls.proxy(key)
        if self._public_mode:
            return self._urls.public(key)
        return self._urls.presigned(key)

    def public_url(self, key: str) -> str:
        """The object's URL under the configured public domain or URL (no network)."""
        return self._urls.public(key)

    def proxy_url(self, key: str, *, expires_in: int | None = None) -> str:
        """The object's URL on the app's media proxy (no network); signed, with an
        expiry, when ``proxy_signing_key`` is set."""
        return self._urls.proxy(key, expires_in=expires_in)

    def presigned_url(
        self,
        key: str,
        *,
        expires_in: int | None = None,
        method: str = "GET",
        content_type: str | None = None,
        content_disposition: str | None = None,
    ) -> str:
        """A URL that grants *method* on the object until it expires (no network).

        ``method="PUT"`` with *content_type* lets a browser upload straight to R2.
        Presigned URLs work only on the R2 endpoint, never on a custom domain.
        """
        return self._urls.presigned(
            key,
            expires_in=expires_in,
            method=method,
            content_type=content_type,
            content_disposition=content_disposition,
        )

    # -- reading ------------------------------------------------------------

    def open(
        self,
        key: str,
        *,
        range: str | None = None,
        if_match: str | None = None,
        if_none_match: str | None = None,
        if_modified_since: datetime | None = None,
        if_unmodified_since: datetime | None = None,
    ) -> ObjectReader:
        """Open the object for streaming reads: one GetObject, read as you read.

        *range* and the conditions are sent with the same request, as HTTP
        headers; unmet conditions raise :class:`~r2store.errors.NotModifiedError`,
        :class:`~r2store.errors.PreconditionFailedError` or
        :class:`~r2store.errors.RangeNotSatisfiableError`.
        """
        params: dict[str, Any] = {"Bucket": self.config.bucket, "Key": self._key(key)}
        for name, value in (
            ("Range", range),
            ("IfMatch", if_match),
            ("IfNoneMatch", if_none_match),
            ("IfModifiedSince", if_modified_since),
            ("IfUnmodifiedSince", if_unmodified_since),
        ):
            if value is not None:
                params[name] = value
        try:
            response = self.client.get_object(**params)
        except Exception as exc:
            raise map_error(exc, key=key) from exc
        if len(params) > 2:
            return ObjectReader(key, response)
        # A whole-object reader can seek, by asking for the rest from a new position.
        # If-Match keeps a seek from splicing in a newer version of the object.
        etag = response.get("ETag")

        def reopen(start: int) -> Any:
            extra = {"IfMatch": etag} if etag else {}
            return self.client.get_object(**params, Range=f"bytes={start}-", **extra)

        return ObjectReader(key, response, reopen)

    def open_write(
        self,
        key: str,
        *,
        content_type: str | None = None,
        overwrite: bool = False,
        metadata: Mapping[str, str] | None = None,
        cache_control: str | None = None,
        content_disposition: str | None = None,
    ) -> ObjectWriter:
        """A writable binary file; closing it stores what was written under *key*.

        It has :meth:`save`'s guarantees (one PutObject when small, equal
        multipart parts when large, atomic create unless *overwrite*), and
        leaving a ``with`` block on an exception stores nothing.
        """
        self._key(key)  # refuse a bad key now, not at close()
        return ObjectWriter(
            key,
            partial(
                self.save,
                key,
                content_type=content_type,
                overwrite=overwrite,
                metadata=metadata,
                cache_control=cache_control,
                content_disposition=content_disposition,
            ),
        )

    def read(self, key: str) -> bytes:
        """The object's whole content (one request)."""
        with self.open(key) as reader:
            return reader.read()

    def stat(self, key: str) -> ObjectStat:
        """The object's metadata, from one HeadObject."""
        try:
            response = self.client.head_object(Bucket=self.config.bucket, Key=self._key(key))
        except Exception as exc:
            raise map_error(exc, key=key) from exc
        return ObjectStat.from_response(key, response)

    def exists(self, key: str) -> bool:
        """Whether an object exists under *key* (one HeadObject)."""
        try:
            self.stat(key)
        except ObjectNotFoundError:
            return False
        return True

    def list(self, prefix: str = "", *, page_size: int = 1000) -> Iterator[ObjectStat]:
        """Every object whose key starts with *prefix*, in key order.

        Pages of up to *page_size* keys (R2's maximum is 1,000) are fetched as
        the iteration reaches them.
        """
        location = self.config.location
        params: dict[str, Any] = {
            "Bucket": self.config.bucket,
            "Prefix": object_prefix(prefix, location),
            "MaxKeys": page_size,
        }
        while True:
            try:
                page = self.client.list_objects_v2(**params)
            except Exception as exc:
                raise map_error(exc) from exc
            for item in page.get("Contents", ()):
                yield ObjectStat(
                    key=relative_key(item["Key"], location),
                    size=int(item.get("Size", 0)),
                    etag=item.get("ETag"),
                    last_modified=item.get("LastModified"),
                )
            if not page.get("IsTruncated"):
                return
            params["ContinuationToken"] = page["NextContinuationToken"]

    def listdir(self, prefix: str = "") -> tuple[builtins.list[str], builtins.list[str]]:
        """The "directories" and file names directly under *prefix*, as ``os.listdir`` would."""
        location = self.config.location
        base = object_prefix(prefix.rstrip("/") + "/" if prefix.strip("/") else "", location)
        params: dict[str, Any] = {"Bucket": self.config.bucket, "Prefix": base, "Delimiter": "/"}
        dirs: builtins.list[str] = []
        files: builtins.list[str] = []
        while True:
            try:
                page = self.client.list_objects_v2(**params)
            except Exception as exc:
                raise map_error(exc) from exc
            dirs += [p["Prefix"][len(base) :].rstrip("/") for p in page.get("CommonPrefixes", ())]
            files += [item["Key"][len(base) :] for item in page.get("Contents", ())]
            if not page.get("IsTruncated"):
                return dirs, files
            params["ContinuationToken"] = page["NextContinuationToken"]

    # -- writing ------------------------------------------------------------

    def save(
        self,
        key: str,
        content: Content,
        *,
        content_type: str | None = None,
        overwrite: bool = False,
        metadata: Mapping[str, str] | None = None,
        cache_control: str | None = None,
        content_disposition: str | None = None,
        content_encoding: str | None = None,
    ) -> str:
        """Store *content* under *key* and return the key.

        With ``overwrite=False`` (the default) the write is an atomic create
        (``If-None-Match: *``): if the key exists, or another writer gets
        there first, nothing is written and
        :class:`~r2store.errors.ObjectExistsError` is raised. File objects
        are streamed from their current position; content above
        ``multipart_threshold`` goes up in equal-size parts, and a failed
        multipart upload is aborted, so a partial object never appears.
        """
        full_key = self._key(key)
        if content_type is None:
            # Imported here: the HTTP module is not needed to import r2store.
            from ._http import guess_type

            content_type = guess_type(key)
        extra: dict[str, Any] = {"ContentType": content_type}
        for name, value in (
            ("CacheControl", cache_control or self.config.cache_control),
            ("ContentDisposition", content_disposition),
            ("ContentEncoding", content_encoding),
        ):
            if value:
                extra[name] = value
        if metadata:
            extra["Metadata"] = dict(metadata)
        threshold = self.config.multipart_threshold
        if isinstance(content, (bytes, bytearray, memoryview)):
            body: Any = bytes(content) if not isinstance(content, bytes) else content
            if len(body) <= threshold:
                self._put(key, full_key, body, extra, overwrite)
                return key
            self._upload_parts(key, full_key, io.BytesIO(body), len(body), extra, overwrite)
            return key
        if isinstance(content, io.TextIOBase) or not hasattr(content, "read"):
            raise TypeError(f"content must be bytes or a binary file object, not {type(content)}")
        size = _remaining_size(content)
        if size is not None and size <= threshold:
            self._put(key, full_key, content, extra, overwrite)
            return key
        if size is None:
            # Unknown length: read just past the threshold to learn which way to go.
            head = _read_exactly(content, threshold + 1)
            if len(head) <= threshold:
                self._put(key, full_key, head, extra, overwrite)
                return key
            stream: BinaryReadable = _Chain(head, content)
        else:
            stream = content
        self._upload_parts(key, full_key, stream, size, extra, overwrite)
        return key

    def _put(
        self, key: str, full_key: str, body: Any, extra: dict[str, Any], overwrite: bool
    ) -> None:
        params = {"Bucket": self.config.bucket, "Key": full_key, "Body": body, **extra}
        if not overwrite:
            params["IfNoneMatch"] = "*"
        try:
            self.client.put_object(**params)
        except Exception as exc:
            raise map_error(exc, key=key, creating=not overwrite) from exc

    def _upload_parts(
        self,
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
        config = self.config
        part_size = part_size_for(size, config.multipart_chunksize)
        if not overwrite and self.exists(key):
            # Not the guarantee (CompleteMultipartUpload's If-None-Match is), but
            # it saves uploading gigabytes only to be refused at the end.
            raise ObjectExistsError(f"an object already exists for key {key!r}")
        client = self.client
        bucket = config.bucket
        try:
            upload_id = client.create_multipart_upload(Bucket=bucket, Key=full_key, **extra)[
                "UploadId"
            ]
        except Exception as exc:
            raise map_error(exc, key=key) from exc

        def upload(number: int, data: bytes) -> dict[str, Any]:
            response = client.upload_part(
                Bucket=bucket, Key=full_key, UploadId=upload_id, PartNumber=number, Body=data
            )
            return {"PartNumber": number, "ETag": response["ETag"]}

        parts: builtins.list[Future[dict[str, Any]]] = []
        try:
            with ThreadPoolExecutor(config.max_concurrency, "r2store-upload") as pool:
                number = 0
                while data := _read_exactly(stream, part_size):
                    number += 1
                    if number > _MAX_PARTS:
                        raise R2StoreError(
                            f"upload of {key!r} needs more than {_MAX_PARTS} parts of "
                            f"{part_size} bytes; raise multipart_chunksize"
                        )
                    # Bound memory: at most max_concurrency parts in flight, one more read.
                    pending = [f for f in parts if not f.done()]
                    if len(pending) >= config.max_concurrency:
                        wait(pending, return_when=FIRST_EXCEPTION)
                    failed = next((f for f in parts if f.done() and f.exception()), None)
                    if failed is not None:
                        failed.result()
                    parts.append(pool.submit(upload, number, data))
            completed = [f.result() for f in parts]
            params: dict[str, Any] = {
                "Bucket": bucket,
                "Key": full_key,
                "UploadId": upload_id,
                "MultipartUpload": {"Parts": completed},
            }
            if not overwrite:
                params["IfNoneMatch"] = "*"
            client.complete_multipart_upload(**params)
        except BaseException as exc:
            _abort(client, bucket, full_key, upload_id)
            if isinstance(exc, Exception):
                raise map_error(exc, key=key, creating=not overwrite) from exc
            raise

    def delete(self, key: str) -> None:
        """Delete the object; a missing key is not an error."""
        try:
            self.client.delete_object(Bucket=self.config.bucket, Key=self._key(key))
        except Exception as exc:
            raise map_error(exc, key=key) from exc

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete many objects, 1,000 per request; missing keys are not errors."""
        full_keys = [self._key(key) for key in keys]
        for start in range(0, len(full_keys), _DELETE_BATCH):
            batch = full_keys[start : start + _DELETE_BATCH]
            try:
                response = self.client.delete_objects(
                    Bucket=self.config.bucket,
                    Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
                )
            except Exception as exc:
                raise map_error(exc) from exc
            errors = response.get("Errors") or []
            if errors:
                failed = ", ".join(repr(e.get("Key")) for e in errors[:5])
                raise R2StoreError(f"could not delete {len(errors)} object(s): {failed}")

    def copy(self, source: str, destination: str) -> None:
        """Copy an object (content and metadata) to another key in the bucket."""
        try:
            self.client.copy_object(
                Bucket=self.config.bucket,
                Key=self._key(destination),
                CopySource={"Bucket": self.config.bucket, "Key": self._key(source)},
            )
        except Exception as exc:
            raise map_error(exc, key=source) from exc


def part_size_for(size: int | None, chunksize: int) -> int:
    """The part size a multipart upload of *size* bytes uses: *chunksize*, doubled
    until the upload fits R2's 10,000 parts (unknown sizes keep *chunksize*)."""
    part_size = chunksize
    if size is not None:
        while math.ceil(size / part_size) > _MAX_PARTS:
            part_size *= 2
    return part_size


def _make_client(config: R2Config) -> Any:
    """Create the S3 client with defaults that suit R2, merged with ``client_config``."""
    import botocore.session
    from botocore.config import Config

    defaults = Config(
        signature_version="s3v4",
        region_name=config.region,
        # R2 takes both styles; path style also works with any local endpoint.
        s3={"addressing_style": "path"},
        # boto3 >= 1.36 sends checksum headers R2 rejects for some operations.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"mode": "standard", "max_attempts": 4},
        max_pool_connections=config.max_pool_connections,
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        tcp_keepalive=True,
        user_agent_appid=f"r2store-{__version__}",
    )
    merged = defaults.merge(config.client_config) if config.client_config else defaults
    # A private session: no shared state with the process's default boto3 session.
    session = botocore.session.Session()
    return session.create_client(
        "s3",
        region_name=config.region,
        endpoint_url=config.endpoint,
        aws_access_key_id=config.access_key_id,
        aws_secret_access_key=config.secret_access_key,
        config=merged,
    )


def _abort(client: Any, bucket: str, key: str, upload_id: str) -> None:
    try:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except Exception:
        # R2 also expires incomplete uploads after 7 days; say so rather than mask the cause.
        logger.warning("could not abort multipart upload of %r; R2 will expire it", key)


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
