"""Direct uploads in the test project: a plain form's page, and an admin site whose
Document form uploads straight to the bucket."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django import forms
from django.contrib import admin
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.template import engines

from r2store.django.uploads import DirectUploadAdminMixin, DirectUploadField, bind_uploads

from .contacts.models import Document

#: The package's static files, served by the test project (it has no staticfiles app).
STATIC_ROOT = Path(__file__).parents[2] / "r2store" / "django" / "static"
#: The largest file the upload page accepts.
MAX_SIZE = 32 * 1024 * 1024

_PAGE = (
    "<!doctype html><title>upload</title>{{ form.media }}"
    '<form method="post">{% csrf_token %}{{ form.as_div }}<button>Save</button></form>'
)


def team_subject(request: HttpRequest) -> str:
    """A subject function of the test project's own: the team the X-Team header names."""
    return "team:" + request.headers.get("X-Team", "none")


class UploadForm(forms.Form):
    """One file of any type up to 32 MiB, uploaded straight to the bucket."""

    file = DirectUploadField(max_size=MAX_SIZE, prefix="page")


def upload_page(request: HttpRequest) -> HttpResponse:
    """The form; once it verifies, the key it names."""
    form = bind_uploads(UploadForm(request.POST if request.method == "POST" else None), request)
    if form.is_valid():
        return HttpResponse(f"saved {form.cleaned_data['file']}", content_type="text/plain")
    return HttpResponse(engines["django"].from_string(_PAGE).render({"form": form}, request))


class DirectDocumentAdmin(DirectUploadAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Documents whose file the browser uploads straight to the bucket."""

    formfield_overrides = {  # noqa: RUF012 (Django's own pattern)
        models.FileField: {
            "form_class": DirectUploadField,
            "max_size": 1024 * 1024,
            "content_types": ["application/pdf", "text/*"],
        }
    }


direct_admin = admin.AdminSite(name="direct-admin")
direct_admin.register(Document, DirectDocumentAdmin)


def serve_static(request: HttpRequest, path: str) -> Any:
    """The package's static files (direct-upload.js)."""
    from django.views.static import serve

    return serve(request, path, document_root=str(STATIC_ROOT))
