"""Django adapter: a Storage backend, the media proxy view, checks and commands.

STORAGES = storages_from_env()   # R2Storage when USE_R2 is true, else LocalStorage
                                 # (R2_STATIC=true: static files on R2 as well)
urlpatterns += [path("media-proxy/", include("r2store.django.urls"))]
INSTALLED_APPS += ["r2store.django"]   # system checks and management commands
"""

from .settings import storages_from_env
from .static import R2ManifestStaticStorage, R2StaticStorage
from .storage import LocalStorage, R2Storage

__all__ = [
    "LocalStorage",
    "R2ManifestStaticStorage",
    "R2StaticStorage",
    "R2Storage",
    "storages_from_env",
]
