"""URLs for the test project: the media proxy where MEDIA_URL points, the admin, and
direct uploads (the ticket view, a form page, an admin site using them)."""

from django.contrib import admin
from django.urls import include, path

from r2store.django.uploads import upload_ticket

from .uploads import direct_admin, serve_static, upload_page

urlpatterns = [
    path("admin/", admin.site.urls),
    path("direct-admin/", direct_admin.urls),
    path("media-proxy/", include("r2store.django.urls")),
    path("r2store/upload-ticket/", upload_ticket, name="r2store-upload-ticket"),
    path("upload-page/", upload_page),
    path("static/<path:path>", serve_static),
]
