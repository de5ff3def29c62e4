"""URLs for the test project: the media proxy where MEDIA_URL points, and the admin."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("media-proxy/", include("r2store.django.urls")),
]
