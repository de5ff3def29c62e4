"""Build Django's STORAGES setting from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..config import R2Config, r2_enabled
from ..errors import ConfigError

__all__ = ["storages_from_env"]

_STATIC = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}


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
    from django.core.exceptions import ImproperlyConfigured

    try:
        enabled = r2_enabled(environ)
        if enabled:
            R2Config.from_env(environ, **(options or {}))
    except ConfigError as exc:
        raise ImproperlyConfigured(str(exc)) from exc
    if enabled:
        default: dict[str, Any] = {"BACKEND": "r2store.django.R2Storage"}
        if options:
            default["OPTIONS"] = dict(options)
    else:
        default = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    return {"default": default, "staticfiles": dict(staticfiles or _STATIC)}
