"""The contacts in Django's admin, whose forms upload through the default storage."""

from __future__ import annotations

from django.contrib import admin

from .models import Contact, Document

# ModelAdmin is generic only in django-stubs; subscripting it at run time needs
# django-stubs-ext, which the project does not install.


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Contacts with their photo; width and height are filled by the ImageField."""

    list_display = ("name", "photo")
    readonly_fields = ("width", "height")


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Documents, plain files."""

    list_display = ("file", "contact")
