"""LocalConfig: the settings of a :class:`~r2store.LocalStore`, which keeps files in a
folder (``R2_LOCAL_ROOT``) instead of a bucket.

Its URL and proxy settings are R2Config's, read from the same variables and
checked by the same checks (:mod:`r2store._config_checks`), so switching
``USE_R2`` changes where files live and nothing about their URLs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from ._config_checks import (
    _base_url,
    _bucket_problems,
    _location,
    _proxy_path,
    _strip,
    _strip_or_none,
    _url_mode,
    _url_setting_problems,
)
from .config import ENV_VARS, _from_env, _str
from .errors import ConfigError, ConfigProblem

__all__ = [
    "DEFAULT_LOCAL_BUCKET",
    "DEFAULT_LOCAL_ROOT",
    "LOCAL_ENV_VARS",
    "LocalConfig",
]

#: Where a :class:`LocalConfig` keeps files when ``R2_LOCAL_ROOT`` is unset: ``media``
#: under the current directory (made absolute when the configuration is made).
DEFAULT_LOCAL_ROOT = "media"
#: What plays the bucket's part in a local store's signed proxy URLs when
#: ``R2_BUCKET_NAME`` is unset.
DEFAULT_LOCAL_BUCKET = "local"


def _root(value: str | os.PathLike[str]) -> str:
    # Absolute once, here: a later chdir must not move the store.
    return str(Path(value).absolute())


@attrs.frozen(kw_only=True)
class LocalConfig:
    """What a :class:`~r2store.LocalStore` needs: a folder, and the URL and serving settings.

    No bucket, endpoint or credentials: the files live under ``root``. The URL
    settings mean what they mean in :class:`R2Config` and are checked by the
    same checks, so a URL is the same for either store. ``bucket`` stands in for
    the bucket's name where URLs name it (signed proxy URLs), so a deployment
    that sets ``R2_BUCKET_NAME`` signs the same way in both modes.
    """

    #: The folder the files live in (absolute; made on the first write).
    root: str = attrs.field(default=DEFAULT_LOCAL_ROOT, converter=_root)
    #: The bucket's stand-in name (``R2_BUCKET_NAME``, else ``local``).
    bucket: str = attrs.field(default=DEFAULT_LOCAL_BUCKET, converter=_strip)
    #: Base URL the files are publicly served from (no trailing slash), or None.
    public_url: str | None = attrs.field(default=None, converter=_base_url)
    #: Serve media through the app at ``proxy_path``.
    media_proxy: bool = True
    #: Prefix (a sub-folder of ``root``) under which every key is stored.
    location: str = attrs.field(default="", converter=_location)
    #: URL path the media proxy is mounted at, with leading and trailing slash.
    proxy_path: str = attrs.field(default="/media-proxy/", converter=_proxy_path)
    #: Secret for signed proxy URLs (at least 32 characters), or None.
    proxy_signing_key: str | None = attrs.field(default=None, repr=False)
    #: Cache-Control stored with uploads that set none; the proxy's default too.
    cache_control: str | None = attrs.field(default=None, converter=_strip_or_none)
    #: Default lifetime of signed proxy URLs, in seconds (1 s to 7 days).
    url_expires_in: int = 3600

    def __attrs_post_init__(self) -> None:
        found = _bucket_problems(self.bucket) + _url_setting_problems(self)
        if found:
            raise ConfigError([ConfigProblem(field, message) for field, message in found])

    @property
    def url_mode(self) -> str:
        """Which URL :meth:`LocalStore.url` builds: ``proxy``, ``public`` or ``presigned``
        (a signed proxy URL; it needs ``proxy_signing_key``)."""
        return _url_mode(self)

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        env_file: str | os.PathLike[str] | None = ".env",
        **overrides: Any,
    ) -> LocalConfig:
        """Read ``R2_LOCAL_ROOT`` and the URL settings' ``R2_*`` variables (see
        :data:`LOCAL_ENV_VARS`); credentials and endpoints are not read."""
        return _from_env(cls, LOCAL_ENV_VARS, environ, env_file, overrides)


#: LocalConfig field -> (environment variable, parser): ``R2_LOCAL_ROOT`` and the
#: URL settings, read as :data:`ENV_VARS` reads them for R2Config.
LOCAL_ENV_VARS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "root": ("R2_LOCAL_ROOT", _str),
    **{
        field: ENV_VARS[field]
        for field in (
            "bucket",
            "media_proxy",
            "location",
            "proxy_path",
            "proxy_signing_key",
            "cache_control",
            "url_expires_in",
        )
    },
}
