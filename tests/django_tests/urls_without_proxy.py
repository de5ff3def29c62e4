"""A root URLconf that forgot the media proxy (for the r2store.E002 check)."""

from django.http import HttpRequest, HttpResponse
from django.urls import path


def home(request: HttpRequest) -> HttpResponse:
    """Some page: the app has URLs, just not the proxy's."""
    return HttpResponse("home")


urlpatterns = [path("", home, name="home")]
