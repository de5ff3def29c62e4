"""Django fixtures: the default storage pointed at the moto bucket, or at a local folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import django
import pytest
from django.core.files.storage import storages

from r2store import R2Config, R2Store
from r2store.django import R2Storage, storages_from_env

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


def r2_store(storage: R2Storage) -> R2Store:
    """The R2Store behind a storage in R2 mode (R2Storage types its store as any Store)."""
    assert isinstance(storage.store, R2Store)
    return storage.store


@pytest.fixture
def r2_storage(settings: Any, config: R2Config) -> R2Storage:
    """STORAGES['default'] is R2Storage on the test bucket; returns it."""
    use_r2(settings, config)
    storage = storages["default"]
    assert isinstance(storage, R2Storage)
    return storage


@pytest.fixture
def local_storage(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> R2Storage:
    """STORAGES['default'] as the README's settings make it with USE_R2 unset (local mode),
    MEDIA_ROOT a temporary folder; returns it."""
    for name in ("USE_R2", "R2_LOCAL_ROOT"):
        monkeypatch.delenv(name, raising=False)
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STORAGES = storages_from_env()
    storage = storages["default"]
    assert isinstance(storage, R2Storage)
    return storage


@pytest.fixture(params=["r2", "local"])
def media_storage(request: pytest.FixtureRequest) -> R2Storage:
    """The default storage in either mode: R2 (the moto bucket) and local (a folder)."""
    storage: R2Storage = request.getfixturevalue(f"{request.param}_storage")
    return storage


@pytest.fixture
def cache_sessions(settings: Any) -> None:
    """Sessions in the local memory cache, not the database: a test server's threads and
    an async test's reach them without the test database (direct upload tickets are
    bound to the session)."""
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
