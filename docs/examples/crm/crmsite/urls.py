"""The contact pages, the admin and the media proxy that serves photos from R2."""

from __future__ import annotations

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("contacts.urls")),
    path("admin/", admin.site.urls),
    # MEDIA_URL points here when the photos are in R2.
    path("media-proxy/", include("r2store.django.urls")),
]
if not settings.USE_R2:
    # Photos on the local disk: Django serves them itself, while DEBUG is on.
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
