"""``r2store check``: validate the configuration, then reach the bucket with a probe object."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..config import R2Config, r2_enabled
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
        "Validate the configuration (every problem at once), then list the bucket and "
        "write, read back and delete a probe object.",
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
    """Validate the configuration, then reach the bucket with a probe object."""
    problems: list[ConfigProblem] = []
    # USE_R2 is read as the library reads it (Django's storages_from_env): a typo is an error.
    try:
        enabled = r2_enabled(env_file=context.env_file)
    except ConfigError as exc:
        problems += exc.problems
    try:
        config = context.config
    except ConfigError as exc:
        problems[:0] = exc.problems
        hint = str(exc).splitlines()[len(exc.problems) + 1 :]
    else:
        hint = []
    if problems:
        err("Configuration: invalid")
        for line in str(ConfigError(problems)).splitlines()[1:] + hint:
            err(line)
        raise CommandError(
            f"the configuration has {len(problems)} problem(s), listed above", EXIT_USAGE
        )
    out("Configuration: valid")
    out(f"  endpoint:      {config.endpoint}")
    out(f"  bucket:        {config.bucket}")
    if config.location:
        out(f"  location:      {config.location}/")
    # The masked form R2Config's repr uses: enough to tell two tokens apart.
    out(f"  access key id: {config.access_key_id[:4]}…")
    out(f"  URL mode:      {config.url_mode}: {url_mode_reason(config)}")
    out(
        "  USE_R2:        on: storages_from_env() stores in R2"
        if enabled
        else "  USE_R2:        off: storages_from_env() keeps files on the local disk"
    )
    warnings = _config_warnings(config)
    for warning in warnings:
        err(f"warning: {warning}")
    _check_bucket(context.store)
    if warnings and args.strict:
        raise CommandError(f"{len(warnings)} warning(s), listed above, and --strict was given")
    out(f"All is well{f', with {len(warnings)} warning(s)' if warnings else ''}.")
    return EXIT_OK


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
