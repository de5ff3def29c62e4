"""Contacts in the admin: its photo widget uploads to the same storage."""

from django.contrib import admin

from .models import Contact

admin.site.register(Contact, list_display=("name", "email", "photo"))
