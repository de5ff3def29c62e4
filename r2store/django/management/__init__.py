"""Management commands (``r2store_check``, ``r2store_sync``, ``r2store_audit``); helpers."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import storages
from django.core.management.base import CommandError

from ..storage import R2Storage

__all__ = ["default_r2_storage"]


def default_r2_storage() -> R2Storage:
    """``STORAGES["default"]``, which must be an :class:`R2Storage`; else a CommandError
    that says what it is instead."""
    try:
        storage = storages["default"]
    except ImproperlyConfigured as exc:
        raise CommandError(f"STORAGES['default'] cannot be created: {exc}") from exc
    if not isinstance(storage, R2Storage):
        kind = type(storage)
        raise CommandError(
            f"STORAGES['default'] is {kind.__module__}.{kind.__qualname__}, "
            "not r2store.django.R2Storage"
        )
    return storage
