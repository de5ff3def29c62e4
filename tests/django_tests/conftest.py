"""Django fixtures: the default storage pointed at the moto bucket."""

from __future__ import annotations

from typing import Any

import django
import pytest
from django.core.files.storage import storages

from r2store import R2Config
from r2store.django import R2Storage

STATICFILES = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}


def r2_options(config: R2Config, **extra: Any) -> dict[str, Any]:
    """STORAGES OPTIONS for the test bucket."""
    return {
        "endpoint_url": config.endpoint_url,
        "bucket": config.bucket,
        "access_key_id": config.access_key_id,
        "secret_access_key": config.secret_access_key,
        **extra,
    }


def use_r2(settings: Any, config: R2Config, **extra: Any) -> None:
    """STORAGES['default'] is R2Storage on the test bucket, with *extra* OPTIONS."""
    settings.STORAGES = {
        "default": {"BACKEND": "r2store.django.R2Storage", "OPTIONS": r2_options(config, **extra)},
        "staticfiles": STATICFILES,
    }
    if django.VERSION < (5, 0):
        # Django 4.2's override of STORAGES goes through its DEFAULT_FILE_STORAGE
        # shim, which drops OPTIONS; give the handler the setting as written.
        storages._backends = dict(settings.STORAGES)  # type: ignore[attr-defined]


@pytest.fixture
def r2_storage(settings: Any, config: R2Config) -> R2Storage:
    """STORAGES['default'] is R2Storage on the test bucket; returns it."""
    use_r2(settings, config)
    storage = storages["default"]
    assert isinstance(storage, R2Storage)
    return storage
