"""The contacts app."""

from django.apps import AppConfig


class ContactsConfig(AppConfig):
    """Contacts with profile photos."""

    name = "contacts"
