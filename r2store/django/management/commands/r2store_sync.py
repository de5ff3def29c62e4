"""``manage.py r2store_sync``: upload MEDIA_ROOT to the R2 default storage."""

from __future__ import annotations

from argparse import ArgumentParser, ArgumentTypeError
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ....errors import R2StoreError
from ....store import R2Store
from ....sync import SyncReport, sync_directory
from ...static import static_prefix_in
from .. import default_r2_storage


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ArgumentTypeError(f"must be at least 1, got {number}")
    return number


class Command(BaseCommand):
    """Upload the local media folder to R2, skipping files already there."""

    help = (
        "Upload every file under MEDIA_ROOT to STORAGES['default'] (an R2Storage), keyed by "
        "its path below MEDIA_ROOT. Files whose object already matches (size and MD5) are "
        "skipped, so an interrupted run is finished by running it again. Exits non-zero "
        "if any file failed. R2 only: in local mode (USE_R2 off) there is no bucket to "
        "upload to."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        """--dry-run, --delete, --workers, --prefix."""
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Say what would be uploaded or deleted; change nothing.",
        )
        parser.add_argument(
            "--delete",
            action="store_true",
            help="Also delete objects under the prefix that no local file names.",
        )
        parser.add_argument(
            "--workers",
            type=_positive,
            default=8,
            help="Files uploaded at once (default 8).",
        )
        parser.add_argument(
            "--prefix",
            default="",
            help="Key prefix to upload under (default: none, so names match the database's).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Sync, print a summary, and fail when any file failed."""
        store = default_r2_storage().store
        if not isinstance(store, R2Store):
            # Local mode: there is no bucket to upload to.
            folder = getattr(store, "root", "a local folder")
            raise CommandError(
                "r2store_sync uploads MEDIA_ROOT to an R2 bucket, but STORAGES['default'] is "
                f"in local mode (USE_R2 is off): uploads already go to {folder}. To move them "
                "to R2, set USE_R2=true and the R2_* variables, then run it again."
            )
        config = store.config
        media_root = str(getattr(settings, "MEDIA_ROOT", "") or "")
        if not media_root:
            # "" would mean the current directory: never upload (or --delete against) that.
            raise CommandError("MEDIA_ROOT is not set: there is no local media folder to upload")
        if not Path(media_root).is_dir():
            raise CommandError(f"MEDIA_ROOT is not a directory: {media_root!r}")
        dry_run: bool = options["dry_run"]
        target = f"{config.bucket}/{config.location + '/' if config.location else ''}"
        prefix: str = options["prefix"]
        self.stdout.write(
            f"{'Dry run: comparing' if dry_run else 'Syncing'} {media_root} with "
            f"{target}{prefix.strip('/') + '/' if prefix.strip('/') else ''}"
        )
        # Static files kept in the same part of the bucket are not media: never delete them.
        static = static_prefix_in(config)
        if static is not None and options["delete"]:
            self.stdout.write(f"Keeping static files: nothing under {static or '/'} is deleted")
        show_progress = self.stdout.isatty()
        try:
            report = sync_directory(
                store,
                media_root,
                prefix,
                dry_run=dry_run,
                delete=options["delete"],
                keep=() if static is None else (static,),
                workers=options["workers"],
                progress=self._progress if show_progress else None,
            )
        except (R2StoreError, OSError, ValueError) as exc:
            raise CommandError(f"sync stopped: {exc}") from exc
        finally:
            if show_progress:
                self.stdout.write("")  # end the progress line
        self._summarise(report, options["verbosity"])
        if report.failed:
            raise CommandError(
                f"{len(report.failed)} file(s) failed (listed above); files already uploaded "
                "are skipped when you run it again"
            )

    def _progress(self, done: int, total: int, path: str) -> None:
        """Rewrite one terminal line with a counter (file names are left out: they
        vary in length and may hold control characters)."""
        self.stdout.write(f"\r{done}/{total} files ({done * 100 // total}%)", ending="")
        self.stdout.flush()

    def _summarise(self, report: SyncReport, verbosity: int) -> None:
        """List what was (or would be) done, the failures, and one summary line."""
        would = "would " if report.dry_run else ""
        # A dry run's point is the list; otherwise it is shown on request (-v 2).
        if report.dry_run or verbosity >= 2:
            for key in report.uploaded:
                self.stdout.write(f"{would}upload: {key}")
            for key in report.deleted:
                self.stdout.write(f"{would}delete: {key}")
        for path, message in report.failed:
            # repr: a file name may hold control characters or undecodable bytes.
            self.stderr.write(f"failed: {path!r}: {message}")
        style = self.style.WARNING if report.failed else self.style.SUCCESS
        self.stdout.write(style(report.summary()))
