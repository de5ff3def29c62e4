"""The contact pages, the admin and the media proxy that serves the photos (from R2, or
from the local folder in local mode)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

from r2store.django.uploads import upload_ticket

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("contacts.urls")),
    path("admin/", admin.site.urls),
    # MEDIA_URL points here, in both modes.
    path("media-proxy/", include("r2store.django.urls")),
    # Tickets for the attachment's direct upload (put it behind a login in a real app).
    path("upload-ticket/", upload_ticket, name="r2store-upload-ticket"),
]
