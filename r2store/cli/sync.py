"""``r2store sync``: upload a folder, skipping files whose object already matches."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from ._args import positive
from ._context import EXIT_INTERRUPTED, EXIT_OK, PROG, AddCommand, CommandError, Context
from ._output import Progress, err, out, show

if TYPE_CHECKING:
    from ..sync import SyncReport


def register(command: AddCommand) -> None:
    """Add ``sync``."""
    sync = command(
        "sync",
        _cmd_sync,
        "Upload every file under LOCAL_DIR to PREFIX, skipping those whose object already "
        "matches (size and MD5): safe to run again after an interruption.",
    )
    sync.add_argument("local_dir", metavar="LOCAL_DIR")
    sync.add_argument("prefix", nargs="?", default="", metavar="PREFIX")
    sync.add_argument(
        "--dry-run", action="store_true", help="say what would change; change nothing"
    )
    sync.add_argument(
        "--delete",
        action="store_true",
        help="also delete objects under PREFIX that no local file names",
    )
    sync.add_argument(
        "--workers", type=positive, default=8, metavar="N", help="uploads at once (default 8)"
    )


def _cmd_sync(context: Context, args: argparse.Namespace) -> int:
    """Upload a folder, skipping files whose object already matches; optionally delete extras."""
    from ..sync import sync_directory

    store = context.store
    local_dir: str = args.local_dir
    if not Path(local_dir).is_dir():
        raise CommandError(f"not a directory: {local_dir!r}")
    prefix = args.prefix.strip("/")
    if context.use_r2:
        config = context.config
        target = "/".join(part for part in (config.bucket, config.location, prefix) if part) + "/"
    else:
        target = f"{Path(context.local_folder, prefix)}/"
    verb = "Dry run: comparing" if args.dry_run else "Syncing"
    out(f"{verb} {local_dir} with {target}")
    progress = Progress.on_terminal()
    try:
        report = sync_directory(
            store,
            local_dir,
            prefix,
            dry_run=args.dry_run,
            delete=args.delete,
            workers=args.workers,
            progress=progress.files if progress else None,
            byte_progress=progress.bytes if progress else None,
        )
    except KeyboardInterrupt:
        if progress is not None:
            progress.finish()  # the message goes on a line of its own
        err(
            f"{PROG}: interrupted; files uploaded so far are complete, and are skipped when "
            "the same command runs again"
        )
        return EXIT_INTERRUPTED
    finally:
        if progress is not None:
            progress.finish()
    _summarise(report, context.verbose)
    if report.failed:
        raise CommandError(
            f"{len(report.failed)} file(s) failed (listed above); run the same command again "
            "to retry them (files already uploaded are skipped)"
        )
    return EXIT_OK


def _summarise(report: SyncReport, verbose: int) -> None:
    """List what was (or would be) done, the failures, and one summary line."""
    would = "would " if report.dry_run else ""
    # A dry run's point is the list; otherwise it is shown on request (-v).
    if report.dry_run or verbose:
        for key in report.uploaded:
            out(f"{would}upload: {show(key)}")
        for key in report.deleted:
            out(f"{would}delete: {show(key)}")
    for path, message in report.failed:
        # repr: a file name may hold control characters or undecodable bytes.
        err(f"failed: {path!r}: {message}")
    out(report.summary())
