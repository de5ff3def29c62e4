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


@pytest.fixture
def r2_storage(settings: Any, config: R2Config) -> R2Storage:
    """STORAGES['default'] is R2Storage on the test bucket; returns it."""
    settings.STORAGES = {
        "default": {"BACKEND": "r2store.django.R2Storage", "OPTIONS": r2_options(config)},
        "staticfiles": STATICFILES,
    }
    if django.VERSION < (5, 0):
        # Django 4.2 only: overriding STORAGES in a test goes through its
        # DEFAULT_FILE_STORAGE shim, which drops OPTIONS. Put the storage the
        # setting describes in place by hand.
        storages._storages["default"] = R2Storage(**r2_options(config))
    storage = storages["default"]
    assert isinstance(storage, R2Storage)
    return storage
