"""Build Django's STORAGES setting from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.views.decorators.debug import sensitive_variables

from ..config import R2Config, r2_enabled
from ..errors import ConfigError

__all__ = ["storages_from_env"]

_STATIC = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}


# Django's error mails (DEBUG=False) show these as stars. Its debug page (DEBUG=True)
# ignores the mark, hence the del before raising below.
@sensitive_variables("environ", "options")
def storages_from_env(
    environ: Mapping[str, str] | None = None,
    *,
    staticfiles: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """``STORAGES`` for settings.py: R2 when ``USE_R2`` is true, the local disk otherwise.

    With ``USE_R2`` true the whole R2 configuration is checked here, at
    startup, and any problem is ``ImproperlyConfigured`` naming each variable:
    never a quiet fallback to a disk that the next deploy wipes.
    """
    enabled, error = _check(environ, options)
    if error is not None:
        # Django's debug page and error mails show every frame's locals: this frame lets
        # go of the secrets first, and the error's cause has no frames (see _check).
        del environ, options
        raise error
    if enabled:
        default: dict[str, Any] = {"BACKEND": "r2store.django.R2Storage"}
        if options:
            default["OPTIONS"] = dict(options)
    else:
        default = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    return {"default": default, "staticfiles": dict(staticfiles or _STATIC)}


def _check(
    environ: Mapping[str, str] | None, options: Mapping[str, Any] | None
) -> tuple[bool, ImproperlyConfigured | None]:
    """Whether R2 is on, and the error to raise when the configuration is not valid."""
    try:
        enabled = r2_enabled(environ)
        if enabled:
            R2Config.from_env(environ, **(options or {}))
    except ConfigError as exc:
        return False, improperly_configured(exc)
    return enabled, None


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
