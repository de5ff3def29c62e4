"""R2StaticStorage and R2ManifestStaticStorage: ``collectstatic`` output on R2 (translation
only; what the bucket holds and how files are cached is decided in :mod:`r2store.static`)."""

from __future__ import annotations

import contextlib
import gzip
import io
import logging
import weakref
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import IO, Any, NamedTuple

import attrs
from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import File
from django.views.decorators.debug import sensitive_variables

from ..config import R2Config, r2_enabled
from ..errors import ConfigError
from ..static import (
    SHORT_CACHE_CONTROL,
    StaticIndex,
    UploadQueue,
    cache_control_for,
    file_digest,
    gzipped,
    holds,
)
from ..store import R2Store
from .settings import improperly_configured
from .storage import R2Storage, _body, _config, _django_errors

logger = logging.getLogger("r2store.django")

__all__ = ["R2ManifestStaticStorage", "R2StaticStorage"]

_DEFAULT_LOCATION = "static"
#: Why a static storage refuses to start without a public URL.
NO_PUBLIC_URL = (
    "static files on R2 need a public URL: set R2_PUBLIC_DOMAIN (or R2_PUBLIC_URL, or "
    "the public_url option) to the bucket's custom domain. The media proxy is not a way "
    "to serve them: it serves user uploads, under the media location, and never "
    "serves JavaScript."
)
# The largest file read into memory to go up in the background (see uploading()); a larger
# one goes up from the calling thread, streamed.
_BACKGROUND_MAX_SIZE = 1024 * 1024


class R2StaticStorage(R2Storage):
    """Static files in R2, for ``STORAGES["staticfiles"]``.

    Options are :class:`~r2store.R2Config` field names, read from the environment
    when not given, except: ``location`` defaults to ``static`` (not ``R2_LOCATION``,
    which places media), and ``cache_control`` to a short ``public, max-age=300``
    for names without a content hash (a name with one is cached for a year,
    ``immutable``). URLs point at the public URL (the ``public_url`` option, else
    ``R2_PUBLIC_URL`` / ``R2_PUBLIC_DOMAIN``), which is required. ``compress`` (else
    ``R2_STATIC_COMPRESS``, default off) stores text, SVG and uncompressed fonts
    gzip-compressed, with ``Content-Encoding: gzip``, when that saves at least 5%.

    Files are written over by name, as ``collectstatic`` expects. What the bucket
    holds is read from one listing (see :class:`~r2store.static.StaticIndex`):
    ``exists``, ``size`` and ``get_modified_time`` cost no request, and a file
    whose content the bucket already holds (same size and MD5) is not uploaded.
    Inside :meth:`uploading` (all of r2store's ``collectstatic``), files go up in
    the background; outside it, each save returns once its file is in the bucket.
    """

    @sensitive_variables("options")
    def __init__(self, **options: Any) -> None:
        checked = static_settings(options)
        if isinstance(checked, ImproperlyConfigured):
            del options  # as in R2Storage.__init__
            raise checked
        config, compress = checked
        #: Whether text, JSON, SVG and fonts are stored gzip-compressed (see _put).
        self.compress = compress
        self.allow_overwrite = True
        self.store = R2Store(config)
        self.index = StaticIndex(self.store)
        # Deletes put off (see delete()); inside uploading(), until its end. One set for
        # the storage's life: the finalizer holds it.
        self._pending_deletes: set[str] = set()
        weakref.finalize(self, _send_deletes, self.store, self._pending_deletes)
        # Uploads in the background, inside uploading(); and whether to send every save.
        self._queue: UploadQueue | None = None
        self._rewrite = False

    def deconstruct(self) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
        """How migrations record this storage: by its public path, without secrets."""
        _, args, kwargs = super().deconstruct()
        return f"r2store.django.{type(self).__name__}", args, kwargs

    def _put(self, name: str, content: Any) -> None:
        self.save_changed(name, content)

    def save_changed(self, name: str, content: Any, *, dry_run: bool = False) -> bool:
        """Save *content* under *name* unless the bucket holds those bytes there already
        (as this storage would store them: compressed or not); say whether it saves.

        Inside ``uploading(rewrite=True)`` it always saves. With *dry_run*, it only says.
        """
        upload = self._prepare(name, content)
        config = self.store.config
        assert isinstance(config, R2Config)  # as __init__ made it
        with _django_errors():
            if not dry_run:
                # The save that follows collectstatic's delete of the same name cancels it.
                self._pending_deletes.discard(upload.key)
            self._settle()
            stat = None if self._rewrite else self.index.get(name)
            if holds(stat, upload.body, upload.md5, upload.size, config.multipart_chunksize):
                return False
            if dry_run:
                return True
            if self._queue is not None and upload.size <= _BACKGROUND_MAX_SIZE:
                # Django closes the file when save() returns: upload its bytes.
                self._queue.submit(upload.key, upload.body.read(), **upload.options)
            else:
                if self._queue is not None:
                    self._queue.wait_for(upload.key)
                self.store.save(upload.key, upload.body, **upload.options)
        # A multipart upload's ETag is not the MD5: leave it unknown, to be listed again.
        known = upload.md5 if upload.size <= config.multipart_threshold else None
        self.index.written(name, upload.size, known)
        return True

    def _prepare(self, name: str, content: Any) -> _Upload:
        """What saving *content* under *name* sends: the bytes (compressed when that is
        on and worth it), their MD5 and size, and the save's options."""
        body = _body(content)
        if not hasattr(body, "seek") or (hasattr(body, "seekable") and not body.seekable()):
            body = io.BytesIO(body if isinstance(body, bytes) else body.read())
        elif isinstance(body, bytes):
            body = io.BytesIO(body)
        md5, size = file_digest(body)
        config = self.store.config
        assert isinstance(config, R2Config)  # as __init__ made it
        with _django_errors():
            key = self.index.key(name)
        # A name's hash is of the content, so its caching is decided on the original.
        options: dict[str, Any] = {
            "overwrite": True,
            "cache_control": cache_control_for(name, md5, config.cache_control or ""),
        }
        if self.compress and size < config.multipart_threshold:
            packed = gzipped(name, body.read())
            body.seek(0)
            if packed is not None:
                body = io.BytesIO(packed)
                md5, size = file_digest(body)
                options["content_encoding"] = "gzip"
        return _Upload(key, body, md5, size, options)

    @contextlib.contextmanager
    def uploading(self, *, rewrite: bool = False) -> Iterator[None]:
        """Upload in the background, from 8 threads, until the block ends; then wait
        for every upload, and send the deletes put off meanwhile. With *rewrite*, every
        save is sent, even of bytes the bucket holds: headers are written again (as
        ``collectstatic --clear`` asks, after ``cache_control`` or ``compress`` changed).

        The first upload that fails is raised by the storage's next call, or at the
        block's end; then no delete put off is sent, so the files pages refer to stay.
        Reads wait for the uploads first, so they see the files saved. r2store's
        ``collectstatic`` runs in one such block; post-processing runs in one too. A
        block inside another is part of it.
        """
        if self._queue is not None:
            yield
            return
        self._queue = UploadQueue(self.store)
        self._rewrite = rewrite
        try:
            yield
            with _django_errors():
                self._drain()
                self._flush_deletes()
        except BaseException:
            self.index.clear()  # it recorded uploads as written that may never be
            raise
        finally:
            queue, self._queue = self._queue, None
            self._rewrite = False
            queue.close()
            self._pending_deletes.clear()  # after a failure, old files stay

    def _drain(self) -> None:
        """Wait for the background uploads; raise the first error any of them met."""
        if self._queue is not None:
            self._queue.drain()

    def delete(self, name: str) -> None:
        """Delete *name*, at the storage's next call that is not a save of the same name.

        collectstatic deletes every file whose source is newer than its object (after a
        fresh checkout or a Docker build: all of them) and saves it again at once. Put
        off, the delete is cancelled by that save, which costs nothing when the content
        is the same; and the live site's file is never missing in between. Inside
        :meth:`uploading`, deletes wait for its end. One left at the end of the process is
        sent then.
        """
        with _django_errors():
            self._settle()
            # The listed object stays known: a save of the same content skips it.
            self._pending_deletes.add(self.index.key(name))

    def _settle(self) -> None:
        """Send the deletes put off, unless a batch (:meth:`uploading`) is gathering
        them; raise the first error a background upload met."""
        if self._queue is None:
            self._flush_deletes()
        else:
            self._queue.check()

    def _flush_deletes(self) -> None:
        """Send the deletes put off and not cancelled by a save of the same name."""
        pending = sorted(self._pending_deletes)
        self._pending_deletes.clear()
        if pending:
            self.store.delete_many(pending)
        for key in pending:
            self.index.forget(key)

    def exists(self, name: str) -> bool:
        """Whether *name* is a file, or a folder (collectstatic --clear goes into a folder
        only when it exists)."""
        if not name.strip("/"):
            return True  # the root
        with _django_errors():
            self._settle()
            if self.index.is_folder(name):
                return True
            return (
                self.index.get(name) is not None
                and self.index.key(name) not in self._pending_deletes
            )

    def size(self, name: str) -> int:
        with _django_errors():
            self._settle()
            stat = self.index.get(name)
        return stat.size if stat is not None else super().size(name)

    def get_modified_time(self, name: str) -> datetime:
        with _django_errors():
            self._settle()
            stat = self.index.get(name)
        if stat is None or stat.last_modified is None:
            return super().get_modified_time(name)
        if settings.USE_TZ:
            return stat.last_modified.astimezone(timezone.utc)
        from django.utils.timezone import get_default_timezone, make_naive

        return make_naive(stat.last_modified, get_default_timezone())

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        with _django_errors():
            self._settle()
            self._drain()  # a listing shows what went up
        return super().listdir(path)

    def _open(self, name: str, mode: str = "rb") -> Any:
        with _django_errors():
            self._settle()
            if self._queue is not None:
                # Post-processing reads back files saved a moment ago, one at a time.
                self._queue.wait_for(self.index.key(name))
        file = super()._open(name, mode)
        stat = getattr(file.file, "stat", None)
        if stat is None or stat.content_encoding != "gzip":
            return file
        # Stored compressed (see compress): Django reads a file back for its own bytes, to
        # hash it or to load the manifest. Only files under the multipart threshold are
        # compressed, so this fits in memory.
        with file, _django_errors():
            return File(io.BytesIO(gzip.decompress(file.read())), name)


class _Upload(NamedTuple):
    key: str
    body: IO[bytes]
    md5: str
    size: int
    options: dict[str, Any]


@sensitive_variables("options")
def static_settings(options: Mapping[str, Any]) -> tuple[R2Config, bool] | ImproperlyConfigured:
    """A static storage's configuration and ``compress`` from its *options* (over the
    environment), or the error to raise. No request is made: system checks call it."""
    options = {"location": _DEFAULT_LOCATION, "cache_control": SHORT_CACHE_CONTROL, **options}
    compress = _compress(options.pop("compress", None))
    if not isinstance(compress, bool):
        return compress
    config = _config(options)
    if not isinstance(config, R2Config):
        return config
    if config.public_url is None:
        return ImproperlyConfigured(NO_PUBLIC_URL)
    # Static files are public by nature: straight from the bucket's domain.
    return attrs.evolve(config, media_proxy=False), compress


def configured_static() -> tuple[R2Config, bool] | ImproperlyConfigured | None:
    """``STORAGES["staticfiles"]``'s configuration and ``compress`` when it is an r2store
    static storage (or the error that storage would raise), else None. No request is
    made, as making the storage would (it reads the manifest)."""
    from django.utils.module_loading import import_string

    configured: dict[str, Any] = (getattr(settings, "STORAGES", {}) or {}).get("staticfiles") or {}
    try:
        backend = import_string(configured.get("BACKEND", ""))
    except ImportError:
        return None  # Django reports a backend it cannot import
    if not (isinstance(backend, type) and issubclass(backend, R2StaticStorage)):
        return None
    return static_settings(configured.get("OPTIONS") or {})


def static_prefix_in(media: R2Config) -> str | None:
    """Where the configured static storage (see :func:`configured_static`) keeps its
    files inside *media*'s location in the same bucket: the prefix relative to that
    location ("" for all of it). None when it keeps them elsewhere."""
    static = configured_static()
    if not isinstance(static, tuple):
        return None
    config = static[0]
    if (config.endpoint, config.bucket) != (media.endpoint, media.bucket):
        return None
    if not media.location:
        return config.location
    if config.location == media.location:
        return ""
    inside = config.location.startswith(f"{media.location}/")
    return config.location[len(media.location) + 1 :] if inside else None


def _compress(value: Any) -> bool | ImproperlyConfigured:
    """The ``compress`` option, else ``R2_STATIC_COMPRESS`` (unset: off); or the error."""
    if value is None:
        try:
            return r2_enabled(variable="R2_STATIC_COMPRESS")
        except ConfigError as exc:
            return improperly_configured(exc)
    if not isinstance(value, bool):
        return ImproperlyConfigured(f"the compress option must be True or False, not {value!r}")
    return value


def _send_deletes(store: R2Store, pending: set[str]) -> None:
    """Send the deletes a storage left put off when it goes (at the latest, at exit)."""
    if not pending:
        return
    try:
        store.delete_many(sorted(pending))
    except Exception:
        logger.warning("static files: %d deletes could not be sent", len(pending), exc_info=True)
    pending.clear()


class R2ManifestStaticStorage(ManifestFilesMixin, R2StaticStorage):  # type: ignore[misc]
    """:class:`R2StaticStorage` with Django's hashed names and ``staticfiles.json``
    manifest (``ManifestFilesMixin``): hashed files are cached for a year.

    Post-processing runs in :meth:`~R2StaticStorage.uploading`, whichever
    ``collectstatic`` runs it: the hashed files go up in parallel, and the manifest
    only once they are all there. Django's post-processing deletes each CSS and JS
    file's hashed name and saves it again, on every run and in every pass; here such
    a delete waits, a save of the same name cancels it (and is skipped when the
    content is the same), and the deletes left are sent together at the end. A re-run
    without changes writes nothing.
    """

    def post_process(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        with self.uploading():
            yield from super().post_process(*args, **kwargs)

    def save_manifest(self) -> None:
        """Write ``staticfiles.json`` once every file it names is uploaded: a page never
        refers to a file that is not there yet."""
        with _django_errors():
            self._drain()
        super().save_manifest()
