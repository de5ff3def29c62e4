"""R2StaticStorage and R2ManifestStaticStorage: ``collectstatic`` output on R2 (translation
only; what the bucket holds and how files are cached is decided in :mod:`r2store.static`)."""

from __future__ import annotations

import io
import logging
import weakref
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any

import attrs
from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.views.decorators.debug import sensitive_variables

from ..config import R2Config
from ..static import SHORT_CACHE_CONTROL, StaticIndex, cache_control_for, file_digest, holds
from ..store import R2Store
from .storage import R2Storage, _body, _config, _django_errors

logger = logging.getLogger("r2store.django")

__all__ = ["R2ManifestStaticStorage", "R2StaticStorage"]

_DEFAULT_LOCATION = "static"
# Post-processing's parallel uploads: threads, and the largest file read into memory for one
# (a larger file goes up from the calling thread, streamed).
_UPLOAD_THREADS = 8
_BACKGROUND_MAX_SIZE = 1024 * 1024


class R2StaticStorage(R2Storage):
    """Static files in R2, for ``STORAGES["staticfiles"]``.

    Options are :class:`~r2store.R2Config` field names, read from the environment
    when not given, except: ``location`` defaults to ``static`` (not ``R2_LOCATION``,
    which places media), and ``cache_control`` to a short ``public, max-age=300``
    for names without a content hash (a name with one is cached for a year,
    ``immutable``). With a public URL (the ``public_url`` option, else
    ``R2_PUBLIC_URL`` / ``R2_PUBLIC_DOMAIN``), URLs point there; without one, at
    the media proxy.

    Files are written over by name, as ``collectstatic`` expects. What the bucket
    holds is read from one listing (see :class:`~r2store.static.StaticIndex`):
    ``exists``, ``size`` and ``get_modified_time`` cost no request, and a file
    whose content the bucket already holds (same size and MD5) is not uploaded.
    """

    @sensitive_variables("options")
    def __init__(self, **options: Any) -> None:
        options.setdefault("location", _DEFAULT_LOCATION)
        options.setdefault("cache_control", SHORT_CACHE_CONTROL)
        config = _config(options)
        if not isinstance(config, R2Config):
            del options  # as in R2Storage.__init__
            raise config
        if config.public_url is not None:
            # Static files are public by nature: straight from the bucket's domain.
            config = attrs.evolve(config, media_proxy=False)
        self.allow_overwrite = True
        self.store = R2Store(config)
        self.index = StaticIndex(self.store)
        # Deletes put off (see delete()); while Django post-processes, until it ends (see
        # R2ManifestStaticStorage). One set for the storage's life: the finalizer holds it.
        self._deferring = False
        self._pending_deletes: set[str] = set()
        weakref.finalize(self, _send_deletes, self.store, self._pending_deletes)
        # Uploads in the background, while post-processing (see R2ManifestStaticStorage).
        self._pool: ThreadPoolExecutor | None = None
        self._uploads: list[Future[str]] = []

    def deconstruct(self) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
        """How migrations record this storage: by its public path, without secrets."""
        _, args, kwargs = super().deconstruct()
        return f"r2store.django.{type(self).__name__}", args, kwargs

    def _put(self, name: str, content: Any) -> None:
        body = _body(content)
        if not hasattr(body, "seek") or (hasattr(body, "seekable") and not body.seekable()):
            body = io.BytesIO(body if isinstance(body, bytes) else body.read())
        elif isinstance(body, bytes):
            body = io.BytesIO(body)
        md5, size = file_digest(body)
        config = self.store.config
        assert isinstance(config, R2Config)  # as __init__ made it
        with _django_errors():
            # The save that follows collectstatic's delete of the same name cancels it.
            self._pending_deletes.discard(self.index.key(name))
            self._settle()
            if holds(self.index.get(name), body, md5, size, config.multipart_chunksize):
                return
            cache_control = cache_control_for(name, md5, config.cache_control or "")
            if self._pool is not None and size <= _BACKGROUND_MAX_SIZE:
                # Django closes the file when save() returns: upload its bytes.
                future = self._pool.submit(
                    self.store.save, name, body.read(), overwrite=True, cache_control=cache_control
                )
                self._uploads.append(future)
            else:
                self.store.save(name, body, overwrite=True, cache_control=cache_control)
        # A multipart upload's ETag is not the MD5: leave it unknown, to be listed again.
        self.index.written(name, size, md5 if size <= config.multipart_threshold else None)

    def delete(self, name: str) -> None:
        """Delete *name*, at the storage's next call that is not a save of the same name.

        collectstatic deletes every file whose source is newer than its object (after a
        fresh checkout or a Docker build: all of them) and saves it again at once. Put
        off, the delete is cancelled by that save, which costs nothing when the content
        is the same; and the live site's file is never missing in between. While
        post-processing, deletes wait for its end. One left at the end of the process is
        sent then.
        """
        with _django_errors():
            self._settle()
            # The listed object stays known: a save of the same content skips it.
            self._pending_deletes.add(self.index.key(name))

    def _settle(self) -> None:
        """Send the deletes put off, unless post-processing is gathering them."""
        if not self._deferring:
            self._flush_deletes()

    def _wait_uploads(self) -> None:
        """Wait for the background uploads; raise the first error any of them met."""
        uploads, self._uploads = self._uploads, []
        errors = [error for error in (future.exception() for future in uploads) if error]
        if errors:
            self.index.clear()  # it recorded the failed uploads as written
            with _django_errors():
                raise errors[0]

    def _flush_deletes(self) -> None:
        """Send the deletes put off and not cancelled by a save of the same name."""
        pending = sorted(self._pending_deletes)
        self._pending_deletes.clear()
        if pending:
            self.store.delete_many(pending)
        for key in pending:
            self.index.forget(key)

    def exists(self, name: str) -> bool:
        if not name.strip("/"):
            return True  # the root, which collectstatic --clear asks about
        with _django_errors():
            self._settle()
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
        return super().listdir(path)

    def _open(self, name: str, mode: str = "rb") -> Any:
        with _django_errors():
            self._settle()
        return super()._open(name, mode)


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

    Post-processing uploads the hashed files in parallel (8 threads; a file is read into
    memory for it, up to 1 MiB), and the manifest only once they are all there.
    Django's post-processing deletes each CSS and JS file's hashed name and saves it
    again, on every run and in every pass; here such a delete waits, a save of the same
    name cancels it (and is skipped when the content is the same), and the deletes
    left are sent together when post-processing ends. A re-run without changes writes
    nothing.
    """

    def post_process(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        self._deferring = True
        self._pool = ThreadPoolExecutor(_UPLOAD_THREADS, thread_name_prefix="r2store-static")
        try:
            yield from super().post_process(*args, **kwargs)
            self._wait_uploads()
            with _django_errors():
                self._flush_deletes()
        finally:
            self._deferring = False
            self._pending_deletes.clear()  # after a failure, old files stay
            pool, self._pool = self._pool, None
            pool.shutdown(wait=True, cancel_futures=True)
            self._uploads = []

    def save_manifest(self) -> None:
        """Write ``staticfiles.json`` once every file it names is uploaded: a page never
        refers to a file that is not there yet."""
        self._wait_uploads()
        pool, self._pool = self._pool, None  # the manifest goes up in this thread
        try:
            super().save_manifest()
        finally:
            self._pool = pool
