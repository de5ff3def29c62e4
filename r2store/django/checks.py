"""System checks (``manage.py check``): the mistakes that lose uploads or break images.

They run for either of r2store's storages: R2 and local mode have the same URLs and
proxy route. ``check --deploy`` also warns about local mode with DEBUG off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.urls import Resolver404, resolve

from ..config import R2Config
from ..diagnostics import endpoint_warnings
from ..localconfig import LocalConfig

if TYPE_CHECKING:
    from ..protocol import URLSettings

__all__ = ["check_local_mode_deploy", "check_r2store", "check_r2store_static"]

_BACKENDS = frozenset({"r2store.django.R2Storage", "r2store.django.LocalStorage"})
_ENDPOINT_WARNING_IDS = {"plain-http": "r2store.W003", "not-r2": "r2store.W004"}


def _uses_r2() -> bool:
    storages: dict[str, Any] = getattr(settings, "STORAGES", {}) or {}
    return any(s.get("BACKEND") in _BACKENDS for s in storages.values())


@checks.register(checks.Tags.compatibility)
def check_r2store(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Check the R2 storage configuration, the proxy route and MEDIA_URL."""
    if not _uses_r2():
        return []
    from django.core.files.storage import storages

    from .storage import R2Storage

    try:
        storage = storages["default"]
    except ImproperlyConfigured as exc:
        return [
            checks.Error(
                f"R2 storage is configured but its settings are not valid:\n{exc}",
                hint="Set the R2_* variables it names (see the configuration reference).",
                id="r2store.E001",
            )
        ]
    if not isinstance(storage, R2Storage):
        return []
    return _check_config(storage.store.config)


def _check_config(config: URLSettings) -> list[checks.CheckMessage]:
    found: list[checks.CheckMessage] = []
    host = urlsplit(config.public_url).hostname if config.public_url else None
    # Only when pages link to it: behind the proxy the public URL is not used for pages.
    if host and host.endswith(".r2.dev") and config.url_mode == "public":
        found.append(
            checks.Warning(
                f"the public URL uses {host}, an r2.dev domain: Cloudflare rate-limits it "
                "and says it is not for production.",
                hint="Connect a custom domain to the bucket and set R2_PUBLIC_DOMAIN to it, "
                "or serve through the media proxy (USE_R2_MEDIA_PROXY=true).",
                id="r2store.W001",
            )
        )
    # Local mode has no endpoint to warn about.
    for warning in endpoint_warnings(config) if isinstance(config, R2Config) else ():
        found.append(
            checks.Warning(
                f"{warning.message}.",
                hint=f"{warning.hint[:1].upper()}{warning.hint[1:]}.",
                id=_ENDPOINT_WARNING_IDS[warning.kind],
            )
        )
    if not config.media_proxy:
        return found
    probe = f"{config.proxy_path}r2store-check.png"
    try:
        match = resolve(probe)
    except Resolver404:
        match = None
    # By application namespace: the instance namespace is the user's to choose
    # (include(..., namespace="media")), and an include inside another app's
    # URLs nests it ("site:r2store").
    if match is None or match.url_name != "media-proxy" or match.app_names[-1:] != ["r2store"]:
        found.append(
            checks.Error(
                f"USE_R2_MEDIA_PROXY is on, so image URLs point at {config.proxy_path}, "
                "but that path is not routed to the media proxy: every image would be a 404.",
                hint=f'Add path("{config.proxy_path.lstrip("/")}", '
                'include("r2store.django.urls")) to your root URLconf.',
                id="r2store.E002",
            )
        )
    # Django reads an unset (empty) MEDIA_URL as "/" (the script prefix): not a mismatch.
    media_url = getattr(settings, "MEDIA_URL", "") or ""
    if media_url not in ("", "/") and urlsplit(media_url).path != config.proxy_path:
        found.append(
            checks.Warning(
                f"MEDIA_URL is {media_url!r} but media is served at {config.proxy_path!r} "
                "through the proxy.",
                hint=f"Set MEDIA_URL = {config.proxy_path!r} (or R2_MEDIA_PROXY_PATH to match).",
                id="r2store.W002",
            )
        )
    return found


@checks.register(checks.Tags.compatibility, deploy=True)
def check_local_mode_deploy(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """With ``--deploy``: warn that local mode keeps uploads on this server's disk when
    DEBUG is off, as on a deployed site."""
    if settings.DEBUG or not _uses_r2():
        return []
    from django.core.files.storage import storages

    from .storage import R2Storage

    try:
        storage = storages["default"]
    except ImproperlyConfigured:
        return []  # check_r2store reports it (r2store.E001)
    if not isinstance(storage, R2Storage) or not isinstance(storage.store.config, LocalConfig):
        return []
    return [
        checks.Warning(
            f"USE_R2 is off, so uploads are kept in the folder {storage.store.config.root} "
            "on this server (local mode), and DEBUG is off, as on a deployed site. Hosts "
            "such as Render, Heroku and Fly.io give an app a disk that is wiped on every "
            "deploy or restart: the uploads would vanish while the database still "
            "names them.",
            hint="Set USE_R2=true and the R2_* variables in production; keep local mode "
            "for development.",
            id="r2store.W005",
        )
    ]


@checks.register(checks.Tags.staticfiles)
def check_r2store_static(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Check an r2store static storage: its settings (without a request), whether it
    shares the media's part of the bucket, and which ``collectstatic`` runs (Django's
    own hands the storage one file at a time with no end to wait at, so each upload
    finishes before the next file starts)."""
    from django.core.management import get_commands

    from .static import configured_static, static_prefix_in

    static = configured_static()
    if static is None:
        return []
    if isinstance(static, ImproperlyConfigured):
        return [
            checks.Error(
                f"the static files storage's settings are not valid:\n{static}",
                hint="Set what it names (see the static files guide).",
                id="r2store.E003",
            )
        ]
    found: list[checks.CheckMessage] = []
    media = _media_config()
    prefix = static_prefix_in(media) if isinstance(media, R2Config) else None
    if prefix is not None:
        where = f"{media.location}/" if media and media.location else "the bucket's root"
        found.append(
            checks.Warning(
                f"static files are kept under {static[0].location}/, inside the media's "
                f"part of the bucket ({where}): r2store_sync --delete leaves them alone, but "
                "a media upload named like a static file would replace it.",
                hint="Give static files a bucket of their own (the staticfiles storage's "
                "bucket option), or keep media under R2_LOCATION (e.g. media) from the start.",
                id="r2store.W007",
            )
        )
    if get_commands().get("collectstatic") != "r2store.django":
        found.append(
            checks.Warning(
                "static files go to R2, but collectstatic is Django's own, which copies "
                "files one at a time and by modification time.",
                hint="List 'r2store.django' before 'django.contrib.staticfiles' in "
                "INSTALLED_APPS: its collectstatic uploads from 8 threads, by content.",
                id="r2store.W006",
            )
        )
    return found


def _media_config() -> URLSettings | None:
    """The default storage's configuration when it is r2store's and can start, else None."""
    if not _uses_r2():
        return None
    from django.core.files.storage import storages

    from .storage import R2Storage

    try:
        storage = storages["default"]
    except ImproperlyConfigured:
        return None  # check_r2store reports it
    return storage.store.config if isinstance(storage, R2Storage) else None
