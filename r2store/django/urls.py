"""``path("media-proxy/", include("r2store.django.urls"))`` serves the media proxy."""

from django.urls import path

from .views import media_proxy

app_name = "r2store"
urlpatterns = [path("<path:key>", media_proxy, name="media-proxy")]
