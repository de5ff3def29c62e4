"""``INSTALLED_APPS += ["r2store.django"]``: system checks and management commands."""

from django.apps import AppConfig


class R2StoreConfig(AppConfig):
    """Registers r2store's system checks."""

    name = "r2store.django"
    label = "r2store"
    verbose_name = "r2store"

    def ready(self) -> None:
        from . import checks

        del checks  # imported for its @register side effect
