"""``manage.py r2store_audit``: which file fields point at objects that do not exist?"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import models

from ....audit import find_missing
from ....errors import R2StoreError
from ....localconfig import LocalConfig
from ....protocol import Store, URLSettings
from ...storage import R2Storage

#: (model label, primary key, field name, stored name)
_Reference = tuple[str, Any, str, str]


class Command(BaseCommand):
    """Report every FileField/ImageField value whose object is missing from R2 (or, in
    local mode, from the local folder)."""

    help = (
        "Check every FileField and ImageField of the installed models (or of --model) "
        "against R2 (or the local folder, in local mode): each non-empty name whose object "
        "does not exist is printed as 'app.Model pk=<pk> <field>: <name>'. Uses listings, "
        "not one request per row. Fields on storages other than R2Storage (or LocalStorage) "
        "are skipped. Exits with status 1 when any reference is missing."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        """--model, repeatable."""
        parser.add_argument(
            "--model",
            action="append",
            metavar="APP_LABEL.MODEL",
            help="Audit only this model (repeat for more); default: every installed model.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Collect the names, ask R2 which are missing, report them."""
        fields = [
            (model, field)
            for model in self._models(options["model"])
            for field in model._meta.local_concrete_fields
            if isinstance(field, models.FileField)
        ]
        # References grouped by bucket and location, so each is listed once.
        groups: dict[URLSettings, tuple[Store, list[_Reference]]] = {}
        audited = 0
        for model, field in fields:
            label = f"{model._meta.label}.{field.name}"
            storage = field.storage
            if not isinstance(storage, R2Storage):
                kind = storage.__class__  # not type(): the default storage is a lazy proxy
                self.stdout.write(
                    f"skipped {label}: its storage is {kind.__module__}.{kind.__qualname__}"
                )
                continue
            audited += 1
            store = storage.store
            _, references = groups.setdefault(store.config, (store, []))
            references += self._references(model, field)
        total = sum(len(refs) for _, refs in groups.values())
        missing: list[_Reference] = []
        for store, references in groups.values():
            try:
                absent = set(find_missing(store, (name for *_, name in references)))
            except R2StoreError as exc:
                where = (
                    f"the folder {store.config.root!r}"
                    if isinstance(store.config, LocalConfig)
                    else f"bucket {store.config.bucket!r}"
                )
                raise CommandError(f"could not list {where}: {exc}") from exc
            missing += [ref for ref in references if ref[3] in absent]
        for model_label, pk, field_name, name in missing:
            self.stdout.write(f"{model_label} pk={pk} {field_name}: {name}")
        summary = (
            f"Checked {total} reference(s) in {audited} r2store file field(s): "
            f"{len(missing)} missing."
        )
        if missing:
            self.stdout.write(self.style.ERROR(summary))
            raise CommandError(f"{len(missing)} file reference(s) point at missing objects")
        self.stdout.write(self.style.SUCCESS(summary))

    def _models(self, labels: list[str] | None) -> list[type[models.Model]]:
        """The models named, or every installed one (proxies share their table: left out)."""
        if not labels:
            return [model for model in apps.get_models() if not model._meta.proxy]
        chosen = []
        for label in labels:
            try:
                chosen.append(apps.get_model(label))
            except (LookupError, ValueError) as exc:
                raise CommandError(f"--model {label!r}: {exc}") from exc
        return chosen

    def _references(self, model: type[models.Model], field: models.FileField) -> list[_Reference]:
        """Every non-empty name in *field*, by primary key (all rows, whatever the default
        manager filters out)."""
        rows = (
            model._base_manager.exclude(**{field.attname: ""})
            .exclude(**{f"{field.attname}__isnull": True})
            .order_by("pk")
            .values_list("pk", field.attname)
        )
        label = model._meta.label
        return [(label, pk, field.name, str(name)) for pk, name in rows.iterator()]
