"""R2Storage: Django's Storage API over a Store (translation only); LocalStorage, the same
over a folder (local mode)."""

from __future__ import annotations

import io
import posixpath
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import attrs
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.base import File
from django.core.files.storage import Storage
from django.core.files.utils import validate_file_name
from django.utils.deconstruct import deconstructible
from django.utils.functional import cached_property
from django.views.decorators.debug import sensitive_variables

from ..config import R2Config
from ..errors import ConfigError, InvalidKeyError, ObjectExistsError
from ..localconfig import LocalConfig
from ..localstore import LocalStore
from ..proxy import MediaProxy
from ..store import R2Store
from .settings import improperly_configured

if TYPE_CHECKING:
    from ..protocol import Store
    from ..writer import ObjectWriter

__all__ = ["LocalStorage", "R2Storage"]

_FIELDS = frozenset(field.name for field in attrs.fields(R2Config))
_LOCAL_FIELDS = frozenset(field.name for field in attrs.fields(LocalConfig))
# Tried after the name itself; each is the name with a random suffix.
_MAX_ALTERNATIVES = 100
# Never written into migrations: they come from the environment.
_SECRET_OPTIONS = frozenset({"access_key_id", "secret_access_key", "proxy_signing_key"})


@contextmanager
def _django_errors() -> Iterator[None]:
    """Speak Django's language: a refused key is a SuspiciousFileOperation."""
    try:
        yield
    except InvalidKeyError as exc:
        raise SuspiciousFileOperation(str(exc)) from exc


class _WrittenFile(File):  # type: ignore[type-arg]  # generic in django-stubs only
    """A file open for writing: leaving a ``with`` block on an exception stores nothing.

    Django's File closes its file on any exit, which would store the half written.
    """

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        if exc_type is not None:
            writer: ObjectWriter = self.file  # type: ignore[assignment]  # as _open made it
            writer.abort()
        else:
            self.close()


def _body(content: Any) -> Any:
    """What to upload for Django *content*: its file from the start, text as UTF-8 bytes."""
    body: Any = content.file if isinstance(content, File) and content.file else content
    if hasattr(body, "seek") and (not hasattr(body, "seekable") or body.seekable()):
        body.seek(0)
    if isinstance(body, io.TextIOBase):
        body = body.read().encode()
    return body


def _config(options: dict[str, Any]) -> R2Config | ImproperlyConfigured:
    """The configuration from *options* over the environment, or the error to raise."""
    unknown = set(options) - set(_FIELDS)
    if unknown:
        return ImproperlyConfigured(
            f"unknown R2Storage option(s): {', '.join(sorted(unknown))}; "
            f"options are R2Config fields: {', '.join(sorted(_FIELDS))}"
        )
    try:
        return R2Config.from_env(**options)
    except ConfigError as exc:
        return improperly_configured(exc)


@deconstructible
class _Deconstructible(Storage):
    """Records constructor arguments, for migrations (see R2Storage.deconstruct)."""


class R2Storage(_Deconstructible):
    """Stores files in R2. Options are :class:`~r2store.R2Config` field names,
    plus ``allow_overwrite`` (default False); anything not given is read from
    the environment (``R2_*`` variables), and a bad setting is
    ``ImproperlyConfigured`` naming each problem.

    Without overwrite, a name is claimed by an atomic conditional create; if
    it is taken -- even by a concurrent upload -- another name is tried.

    Everything but the constructor speaks only the :class:`~r2store.Store`
    protocol, so :class:`LocalStorage` is this storage over a folder.
    """

    store: Store

    # Django's error mails (DEBUG=False) show the options as stars. Its debug page
    # (DEBUG=True) ignores the mark, hence the del before raising below.
    @sensitive_variables("options")
    def __init__(self, *, allow_overwrite: bool = False, **options: Any) -> None:
        config = _config(options)
        if not isinstance(config, R2Config):
            # Django's debug page and error mails show every frame's locals: this frame
            # lets go of the options first, and the error's cause has no frames.
            del options
            raise config
        self.allow_overwrite = allow_overwrite
        self.store = R2Store(config)

    @cached_property
    def media_proxy(self) -> MediaProxy:
        """The media proxy over this storage, with options from ``settings.R2STORE_PROXY``
        (``cache_control``, ``allow_types``, ``authorize``, ``chunk_size``, ``delivery``)."""
        options: dict[str, Any] = getattr(settings, "R2STORE_PROXY", {})
        return MediaProxy(store=self.store, **options)

    def deconstruct(self) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
        """How migrations record this storage: by its public path, and without
        credentials (a migration file is no place for a secret)."""
        _, args, kwargs = super().deconstruct()  # type: ignore[misc]  # added by @deconstructible
        kwargs = {k: v for k, v in kwargs.items() if k not in _SECRET_OPTIONS}
        return "r2store.django.R2Storage", args, kwargs

    # -- saving -------------------------------------------------------------

    def save(self, name: str | None, content: Any, max_length: int | None = None) -> str:
        """Store *content* under *name*, or under an alternative name if it is taken."""
        if name is None:
            name = content.name
        if not hasattr(content, "chunks"):
            content = File(content, name)
        validate_file_name(name, allow_relative_path=True)
        name = self.get_available_name(name, max_length=max_length)
        return self._save_claiming(name, content, max_length)

    def _save(self, name: str, content: Any) -> str:
        return self._save_claiming(name, content, None)

    def _save_claiming(self, name: str, content: Any, max_length: int | None) -> str:
        candidate = name
        for _ in range(_MAX_ALTERNATIVES):
            validate_file_name(candidate, allow_relative_path=True)
            try:
                self._put(candidate, content)
            except ObjectExistsError:
                candidate = self._alternative_name(name, max_length)
                continue
            return candidate
        raise FileExistsError(f"no free name found for {name!r} in {_MAX_ALTERNATIVES} tries")

    def _put(self, name: str, content: Any) -> None:
        body = _body(content)
        with _django_errors():
            self.store.save(name, body, overwrite=self.allow_overwrite)

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        """The name to try first. No existence check: that race is settled by the
        conditional create in :meth:`save`. Only ``max_length`` can change it."""
        name = str(name).replace("\\", "/")
        if max_length is None or len(name) <= max_length:
            return name
        return self._alternative_name(name, max_length)

    def _alternative_name(self, name: str, max_length: int | None) -> str:
        """``dir/root_<random><ext>``, with the root shortened to fit *max_length*."""
        dir_name, file_name = posixpath.split(name)
        file_ext = "".join(PurePosixPath(file_name).suffixes)
        file_root = file_name.removesuffix(file_ext)
        candidate = posixpath.join(dir_name, self.get_alternative_name(file_root, file_ext))
        if max_length is not None and len(candidate) > max_length:
            file_root = file_root[: len(file_root) - (len(candidate) - max_length)]
            if not file_root:
                raise SuspiciousFileOperation(
                    f'Storage can not find an available filename for "{name}". Please make '
                    'sure that the corresponding file field allows sufficient "max_length".'
                )
            candidate = posixpath.join(dir_name, self.get_alternative_name(file_root, file_ext))
        return candidate

    # -- reading and the rest -------------------------------------------------

    def _open(self, name: str, mode: str = "rb") -> File[bytes]:
        with _django_errors():
            if "w" in mode:
                # Written under this very name, so no other name can be tried as save()
                # does: without allow_overwrite it is an atomic create, and closing the
                # file raises FileExistsError (ObjectExistsError) if the name is taken.
                stream: Any = self.store.open_write(name, overwrite=self.allow_overwrite)
                return _WrittenFile(stream, name)
            if mode not in ("r", "rb"):
                raise ValueError(f"R2Storage opens files for 'rb' or 'wb', not {mode!r}")
            stream = self.store.open(name)
        return File(stream, name)

    def delete(self, name: str) -> None:
        with _django_errors():
            self.store.delete(name)

    def exists(self, name: str) -> bool:
        with _django_errors():
            return self.store.exists(name)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        with _django_errors():
            return self.store.listdir(path)

    def size(self, name: str) -> int:
        with _django_errors():
            return self.store.stat(name).size

    def url(self, name: str | None) -> str:
        with _django_errors():
            return self.store.url(name or "")

    def get_modified_time(self, name: str) -> datetime:
        with _django_errors():
            modified = self.store.stat(name).last_modified
        if modified is None:
            raise NotImplementedError("R2 gave no modification time")
        if settings.USE_TZ:
            return modified.astimezone(timezone.utc)
        # Django's convention without time zones: naive, in the local time zone.
        from django.utils.timezone import get_default_timezone, make_naive

        return make_naive(modified, get_default_timezone())


class LocalStorage(R2Storage):
    """Stores files in a local folder (local mode, for development): R2Storage over a
    :class:`~r2store.LocalStore`, with the same names, URLs and media proxy.

    Options are :class:`~r2store.LocalConfig` field names, plus ``allow_overwrite``;
    anything not given is read from the environment (``R2_*`` variables). The
    folder is the ``root`` option, else ``MEDIA_ROOT``, else ``R2_LOCAL_ROOT``,
    else ``media`` in the working directory.
    """

    @sensitive_variables("options")
    def __init__(self, *, allow_overwrite: bool = False, **options: Any) -> None:
        config = _local_config(options)
        if not isinstance(config, LocalConfig):
            del options  # as in R2Storage.__init__
            raise config
        self.allow_overwrite = allow_overwrite
        self.store = LocalStore(config)

    def deconstruct(self) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
        """How migrations record this storage: by its public path, without secrets."""
        _, args, kwargs = super().deconstruct()
        return "r2store.django.LocalStorage", args, kwargs


def _local_config(options: Mapping[str, Any]) -> LocalConfig | ImproperlyConfigured:
    """LocalStorage's configuration: *options* over the environment, the folder by
    LocalStorage's order (see its docstring); or the error to raise."""
    unknown = set(options) - _LOCAL_FIELDS
    if unknown:
        return ImproperlyConfigured(
            f"unknown LocalStorage option(s): {', '.join(sorted(unknown))}; "
            f"options are LocalConfig fields: {', '.join(sorted(_LOCAL_FIELDS))}"
        )
    values = dict(options)
    # Django's own setting for the folder comes before r2store's variable, as settings
    # (OPTIONS) come before the environment for every other option. Unset, it is "":
    # never the working directory itself (LocalConfig's default is "media" in it).
    media_root = getattr(settings, "MEDIA_ROOT", "")
    if "root" not in values and media_root:
        values["root"] = media_root
    try:
        return LocalConfig.from_env(**values)
    except ConfigError as exc:
        return improperly_configured(exc)
