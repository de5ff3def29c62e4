"""Django adapter: a Storage backend, the media proxy view, checks and commands.

STORAGES = {"default": {"BACKEND": "r2store.django.R2Storage"}, ...}
urlpatterns += [path("media-proxy/", include("r2store.django.urls"))]
INSTALLED_APPS += ["r2store.django"]   # system checks and management commands
"""

from .settings import storages_from_env
from .storage import R2Storage

__all__ = ["R2Storage", "storages_from_env"]
