"""URLs for the test project: the media proxy where MEDIA_URL points."""

from django.urls import include, path

urlpatterns = [path("media-proxy/", include("r2store.django.urls"))]
