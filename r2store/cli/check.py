"""``r2store check``: validate the configuration, then reach the bucket with a probe object."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from ..config import R2Config
from ..diagnostics import ProbeError, endpoint_warnings, probe_bucket, url_mode_reason
from ..errors import BucketNotFoundError, ConfigError, ConfigProblem
from ._context import EXIT_OK, EXIT_USAGE, AddCommand, CommandError, Context
from ._output import err, out

if TYPE_CHECKING:
    from ..store import R2Store


def register(command: AddCommand) -> None:
    """Add ``check``."""
    check = command(
        "check",
        _cmd_check,
        "Validate the configuration (every problem at once), then list the bucket (with "
        "USE_R2 off, the local folder) and write, read back and delete a probe object.",
    )
    check.add_argument("--strict", action="store_true", help="fail on warnings too")


def _host(url: str | None) -> str:
    from urllib.parse import urlsplit

    return (urlsplit(url).hostname or "") if url else ""


def _config_warnings(config: R2Config) -> list[str]:
    """Settings that work, but not as anyone would want in production."""
    found = []
    host = _host(config.public_url)
    if host == "r2.dev" or host.endswith(".r2.dev"):
        used = (
            "pages link to it"
            if config.url_mode == "public"
            else "page URLs go through the proxy now, but public_url() builds links to it"
        )
        found.append(
            f"the public URL uses {host}, an r2.dev domain ({used}): Cloudflare rate-limits "
            "r2.dev and says it is not for production; connect a custom domain to the bucket "
            "and set R2_PUBLIC_DOMAIN to it"
        )
    found += [str(warning) for warning in endpoint_warnings(config)]
    return found


def _cmd_check(context: Context, args: argparse.Namespace) -> int:
    """Validate the configuration, then reach the bucket (in local mode, the folder) with a
    probe object."""
    problems: list[ConfigProblem] = []
    # USE_R2 is read as the library reads it (Django's storages_from_env): a typo is an error.
    try:
        enabled = context.use_r2
    except ConfigError as exc:
        problems += exc.problems
        enabled = True  # R2's settings are listed too: whoever sets USE_R2 likely means R2
    if not enabled:
        return _check_local(context)
    try:
        config = context.config
    except ConfigError as exc:
        problems[:0] = exc.problems
        hint = _hint(exc)
    else:
        hint = []
    if problems:
        _invalid(problems, hint)
    out("Configuration: valid")
    out(f"  endpoint:      {config.endpoint}")
    out(f"  bucket:        {config.bucket}")
    if config.location:
        out(f"  location:      {config.location}/")
    # The masked form R2Config's repr uses: enough to tell two tokens apart.
    out(f"  access key id: {config.access_key_id[:4]}…")
    out(f"  URL mode:      {config.url_mode}: {url_mode_reason(config)}")
    out("  USE_R2:        on: storages_from_env() stores in R2")
    warnings = _config_warnings(config)
    for warning in warnings:
        err(f"warning: {warning}")
    _check_bucket(context.r2_store())
    if warnings and args.strict:
        raise CommandError(f"{len(warnings)} warning(s), listed above, and --strict was given")
    out(f"All is well{f', with {len(warnings)} warning(s)' if warnings else ''}.")
    return EXIT_OK


def _hint(exc: ConfigError) -> list[str]:
    """The lines of *exc*'s message after its problems (a note on an unread .env file)."""
    return str(exc).splitlines()[len(exc.problems) + 1 :]


def _invalid(problems: list[ConfigProblem], hint: list[str]) -> NoReturn:
    """List *problems*, then fail with exit status 2."""
    err("Configuration: invalid")
    for line in str(ConfigError(problems)).splitlines()[1:] + hint:
        err(line)
    raise CommandError(
        f"the configuration has {len(problems)} problem(s), listed above", EXIT_USAGE
    )


def _check_bucket(store: R2Store) -> None:
    """Probe the bucket: list, then write, read back and delete a probe object."""
    try:
        key = probe_bucket(store)
    except ProbeError as exc:
        if isinstance(exc.__cause__, BucketNotFoundError):
            raise exc.__cause__ from exc  # said with its way out, by main()
        raise CommandError(str(exc)) from exc
    out("Bucket:        listed")
    out(f"Probe object:  written, read back and deleted ({key})")


def _check_local(context: Context) -> int:
    """Local mode's check: the settings, then the folder, probed as a bucket would be."""
    try:
        config = context.local_config
    except ConfigError as exc:
        _invalid(list(exc.problems), _hint(exc))
    out("Configuration: valid")
    out(f"  folder:        {config.root}")
    if config.location:
        out(f"  location:      {config.location}/")
    out(f"  URL mode:      {config.url_mode}: {url_mode_reason(config)}")
    out("  USE_R2:        off: storages_from_env() keeps files on the local disk, in this folder")
    root = Path(config.root)
    if not root.exists():
        out("Folder:        does not exist yet; the first write makes it")
    elif not root.is_dir():
        raise CommandError(f"{str(root)!r} is not a folder: set R2_LOCAL_ROOT to a folder")
    elif not os.access(root, os.W_OK | os.X_OK):
        raise CommandError(
            f"{str(root)!r} is not writable by this user: make it writable, or set "
            "R2_LOCAL_ROOT to a folder that is"
        )
    else:
        out("Folder:        exists, writable")
    try:
        key = probe_bucket(context.local_store())
    except ProbeError as exc:
        raise CommandError(str(exc)) from exc
    out(f"Probe object:  written, read back and deleted ({key})")
    out("All is well, in local mode. To use R2, set USE_R2=true and the R2_* variables.")
    return EXIT_OK
