"""What the lean transport (:mod:`r2store._transport`) takes from a user's botocore
``client_config`` and from the environment (retries, proxies, ``AWS_CA_BUNDLE``), read
as botocore reads them, so a setting means the same on both of r2store's paths.
"""

from __future__ import annotations

import os
import ssl
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import R2Config


def _user_client_settings(config: R2Config) -> dict[str, Any]:
    """The options the user set in ``config.client_config`` (a botocore ``Config``).

    botocore records them in ``_user_provided_options`` (its own ``merge`` reads it); a
    ``Config``'s attributes alone cannot tell a set value from botocore's default.
    """
    if config.client_config is None:
        return {}
    provided = getattr(config.client_config, "_user_provided_options", None)
    return dict(provided) if isinstance(provided, dict) else {}


def _attempts(retries: Any, default: int) -> int:
    """Total attempts from a botocore ``retries`` dict, counted as botocore counts them."""
    if isinstance(retries, dict):
        if "total_max_attempts" in retries:
            return max(1, int(retries["total_max_attempts"]))
        if "max_attempts" in retries:
            # botocore: max_attempts counts retries, so the first try comes on top.
            return max(1, int(retries["max_attempts"]) + 1)
    return default


def _tls_context() -> ssl.SSLContext:
    """Certificates verified against the system's CAs, or ``AWS_CA_BUNDLE`` as botocore reads it."""
    bundle = os.environ.get("AWS_CA_BUNDLE") or None
    return ssl.create_default_context(cafile=bundle)


def _proxy_for(endpoint: str, configured: Any = None) -> str | None:
    """The proxy for *endpoint*, chosen as botocore chooses: ``client_config.proxies``
    (keyed ``scheme://host`` or ``scheme``), else the environment's ``HTTPS_PROXY`` /
    ``HTTP_PROXY`` unless ``NO_PROXY`` names the host. None means a direct connection."""
    from urllib.parse import urlsplit

    parts = urlsplit(endpoint)
    if isinstance(configured, dict):
        for name in (f"{parts.scheme}://{parts.hostname}", parts.scheme):
            if configured.get(name):
                return str(configured[name])
    # urllib.request is slow to import; skip it when no proxy variable is set at all.
    if not any(name.lower().endswith("_proxy") for name in os.environ):
        return None
    import urllib.request

    proxy = urllib.request.getproxies().get(parts.scheme)
    if not proxy or urllib.request.proxy_bypass(parts.netloc):
        return None
    return proxy
