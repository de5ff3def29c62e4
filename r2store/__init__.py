"""r2store: keep uploads in Cloudflare R2 and serve them from your app.

The core -- configuration, keys, URLs and object operations -- knows no web
framework and imports no boto3 until the first request; :class:`LocalStore` keeps
files in a folder instead, for development (see :func:`store_from_env`). The adapters live in
``r2store.django``, ``r2store.wsgi`` and ``r2store.asgi``.
"""

from ._version import __version__
from .config import R2Config, r2_enabled
from .errors import (
    AccessDeniedError,
    ConfigError,
    ConfigProblem,
    InvalidKeyError,
    InvalidMetadataError,
    NotModifiedError,
    ObjectExistsError,
    ObjectNotFoundError,
    PreconditionFailedError,
    R2StoreError,
    RangeNotSatisfiableError,
    UpstreamBusyError,
    UpstreamError,
    UpstreamTimeoutError,
)
from .localconfig import LocalConfig
from .localstore import LocalStore
from .objects import ObjectReader, ObjectStat
from .protocol import Store, store_from_env
from .store import R2Store

__all__ = [
    "AccessDeniedError",
    "ConfigError",
    "ConfigProblem",
    "InvalidKeyError",
    "InvalidMetadataError",
    "LocalConfig",
    "LocalStore",
    "NotModifiedError",
    "ObjectExistsError",
    "ObjectNotFoundError",
    "ObjectReader",
    "ObjectStat",
    "PreconditionFailedError",
    "R2Config",
    "R2Store",
    "R2StoreError",
    "RangeNotSatisfiableError",
    "Store",
    "UpstreamBusyError",
    "UpstreamError",
    "UpstreamTimeoutError",
    "__version__",
    "r2_enabled",
    "store_from_env",
]
