"""Contacts with profile photos."""
