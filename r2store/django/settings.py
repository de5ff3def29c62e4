"""Build Django's STORAGES setting from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from django.core.exceptions import ImproperlyConfigured
from django.views.decorators.debug import sensitive_variables

from ..config import R2Config, r2_enabled
from ..errors import ConfigError
from ..localconfig import LocalConfig

__all__ = ["storages_from_env"]

_STATIC = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
# Options about reaching R2 (endpoint, credentials, transfers): a local folder has none.
_R2_ONLY = frozenset(f.name for f in attrs.fields(R2Config)) - frozenset(
    f.name for f in attrs.fields(LocalConfig)
)
# Options about where and how media is stored: the static storage has its own.
_MEDIA_ONLY = frozenset({"allow_overwrite", "location", "cache_control"})
# R2Storage's own option, not a configuration field.
_STORAGE_OPTIONS = frozenset({"allow_overwrite"})
# The static storages' own option, not a configuration field.
_STATIC_OPTIONS = frozenset({"compress"})


# Django's error mails (DEBUG=False) show these as stars. Its debug page (DEBUG=True)
# ignores the mark, hence the del before raising below.
@sensitive_variables("environ", "options")
def storages_from_env(
    environ: Mapping[str, str] | None = None,
    *,
    staticfiles: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """``STORAGES`` for settings.py: :class:`~r2store.django.R2Storage` when ``USE_R2``
    is true, else :class:`~r2store.django.LocalStorage` (local mode: a folder, served
    by the same media proxy).

    The configuration is checked here, at startup, and any problem is
    ``ImproperlyConfigured`` naming each variable. With ``USE_R2`` true that is
    the whole R2 configuration: never a quiet fallback to a disk that the next
    deploy wipes. In local mode, *options* that only concern R2 (endpoint,
    credentials, transfers) are left out.

    With ``USE_R2`` and ``R2_STATIC`` true, static files go to R2 too
    (:class:`~r2store.django.R2ManifestStaticStorage`, with the same *options*
    but those about media: location, cache_control, allow_overwrite; and
    ``compress`` when ``R2_STATIC_COMPRESS`` is true); a public URL is then
    required. Otherwise, and always in local mode, *staticfiles* or Django's
    default.
    """
    enabled, given, error = _check(environ, options)
    static: dict[str, Any] | None = None
    if error is None and enabled:
        try:
            static = _static_options(environ, given)
        except ConfigError as exc:
            error = improperly_configured(exc)
        except ImproperlyConfigured as exc:
            error = exc
    if error is not None:
        # Django's debug page and error mails show every frame's locals: this frame lets
        # go of the secrets first, and the error's cause has no frames (see _check).
        del environ, options, given
        raise error
    backend = "R2Storage" if enabled else "LocalStorage"
    default: dict[str, Any] = {"BACKEND": f"r2store.django.{backend}"}
    if given:
        default["OPTIONS"] = given
    if staticfiles is None and static is not None:
        staticfiles = {"BACKEND": "r2store.django.R2ManifestStaticStorage"}
        if static:
            staticfiles = {**staticfiles, "OPTIONS": static}
    return {"default": default, "staticfiles": dict(staticfiles or _STATIC)}


def _static_options(
    environ: Mapping[str, str] | None, given: dict[str, Any]
) -> dict[str, Any] | None:
    """The R2 static storage's options when ``R2_STATIC`` is on, else None; checked
    here, at startup, as the media storage's are: ``R2_STATIC_COMPRESS`` and the public
    URL the static storage needs."""
    if not r2_enabled(environ, variable="R2_STATIC"):
        return None
    options = {k: v for k, v in given.items() if k not in _MEDIA_ONLY}
    if r2_enabled(environ, variable="R2_STATIC_COMPRESS"):
        options["compress"] = True
    fields = {k: v for k, v in options.items() if k not in _STATIC_OPTIONS}
    if R2Config.from_env(environ, **fields).public_url is None:
        from .static import NO_PUBLIC_URL

        raise ImproperlyConfigured(f"R2_STATIC is on, but {NO_PUBLIC_URL}")
    return options


def _check(
    environ: Mapping[str, str] | None, options: Mapping[str, Any] | None
) -> tuple[bool, dict[str, Any], ImproperlyConfigured | None]:
    """Whether R2 is on, the storage's options, and the error to raise when the
    configuration is not valid. In local mode, options that only concern R2 are dropped."""
    given = dict(options or {})
    try:
        enabled = r2_enabled(environ)
        if not enabled:
            given = {k: v for k, v in given.items() if k not in _R2_ONLY}
        fields = {k: v for k, v in given.items() if k not in _STORAGE_OPTIONS}
        if enabled:
            R2Config.from_env(environ, **fields)
        else:
            LocalConfig.from_env(environ, **fields)
    except ConfigError as exc:
        return False, {}, improperly_configured(exc)
    return enabled, given, None


def improperly_configured(exc: ConfigError) -> ImproperlyConfigured:
    """*exc* for Django: an ImproperlyConfigured with the same message, whose cause is
    *exc* without its traceback and without the exceptions chained to it.

    Those frames hold the environment and the values read from it, secrets included,
    and Django's debug page and error mails show every frame's locals. The cause stays
    for its ``problems`` (``manage.py r2store_check`` lists them).
    """
    exc.__cause__ = exc.__context__ = None
    error = ImproperlyConfigured(str(exc))
    error.__cause__ = exc.with_traceback(None)
    return error
