"""``r2store bucket create`` and ``r2store cors``: set up the bucket itself."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..buckets import CORS_METHODS, CORSRule
from ..errors import AccessDeniedError
from ._args import origin, seconds
from ._context import EXIT_OK, AddCommand, CommandError, Context
from ._output import err, out


def register(command: AddCommand) -> None:
    """Add ``bucket create`` and ``cors show|set|clear``."""
    bucket = command("bucket", None, "Create the bucket R2_BUCKET_NAME names.")
    bucket_commands = bucket.add_subparsers(dest="bucket_command", metavar="COMMAND", required=True)
    command(
        "create",
        _cmd_bucket_create,
        "Create the bucket R2_BUCKET_NAME names (one that exists and is yours is left as is). "
        "On R2 this needs an API token with Admin Read & Write permission.",
        bucket_commands,
    )

    cors = command(
        "cors",
        None,
        "Show or set the bucket's CORS rules, which browsers need before they can upload "
        "with presigned URLs.",
    )
    cors_commands = cors.add_subparsers(dest="cors_command", metavar="COMMAND", required=True)
    command("show", _cmd_cors_show, "Print the bucket's CORS rules.", cors_commands)
    cors_set = command(
        "set",
        _cmd_cors_set,
        "Replace the bucket's CORS rules with one rule that lets pages from ORIGIN upload "
        "(PUT) and read (GET, HEAD) objects, sending a Content-Type and If-None-Match.",
        cors_commands,
    )
    cors_set.add_argument(
        "--origin",
        dest="origins",
        action="append",
        required=True,
        type=origin,
        metavar="ORIGIN",
        help="a site allowed, like https://app.example.com (no path, no trailing /); repeat "
        "for more; * allows any site",
    )
    cors_set.add_argument(
        "--method",
        dest="methods",
        action="append",
        type=str.upper,
        choices=CORS_METHODS,
        metavar="METHOD",
        help=f"a method allowed, one of {', '.join(CORS_METHODS)}; repeat for more "
        "(default: PUT, GET and HEAD)",
    )
    cors_set.add_argument(
        "--header",
        dest="headers",
        action="append",
        metavar="HEADER",
        help="a request header pages may send; repeat for more (default: Content-Type and "
        "If-None-Match)",
    )
    cors_set.add_argument(
        "--max-age",
        type=seconds,
        default=3600,
        metavar="SECONDS",
        help="how long browsers may cache the rules (default 3600)",
    )
    command("clear", _cmd_cors_clear, "Remove the bucket's CORS rules.", cors_commands)


def _cmd_bucket_create(context: Context, args: argparse.Namespace) -> int:
    """Create the configured bucket; one that exists and is usable is not an error."""
    from ..buckets import BucketTakenError, create_bucket

    store = context.require_r2("bucket create")
    name = store.config.bucket
    try:
        created = create_bucket(store)
    except BucketTakenError as exc:
        raise CommandError(f"{exc}: choose another name and set R2_BUCKET_NAME to it") from exc
    except AccessDeniedError as exc:
        raise CommandError(
            f"{exc}: creating a bucket needs an R2 API token with Admin Read & Write "
            "permission (an Object Read & Write token cannot); or create the bucket in the "
            "Cloudflare dashboard: R2 > Create bucket"
        ) from exc
    if created:
        out(f"Created bucket {name} at {store.config.endpoint}.")
    else:
        out(f"Bucket {name} already exists, and these credentials can use it: nothing to do.")
    out("Next: `r2store check`; for uploads from browsers, `r2store cors set --origin URL`.")
    return EXIT_OK


def _show_cors(rules: Sequence[CORSRule]) -> None:
    for number, rule in enumerate(rules, 1):
        out(f"rule {number}:" if len(rules) > 1 else "rule:")
        rows = [
            ("origins", ", ".join(rule.origins)),
            ("methods", ", ".join(rule.methods)),
            ("headers", ", ".join(rule.headers) or "(none)"),
            ("expose headers", ", ".join(rule.expose_headers) or "(none)"),
            ("max age", f"{rule.max_age} s" if rule.max_age is not None else "(browser default)"),
        ]
        for label, value in rows:
            out(f"  {label + ':':<16} {value}")


def _cmd_cors_show(context: Context, args: argparse.Namespace) -> int:
    """Print the bucket's CORS rules."""
    from ..buckets import get_cors

    store = context.require_r2("cors show")
    rules = get_cors(store)
    if not rules:
        out(
            f"Bucket {store.config.bucket} has no CORS rules: browsers cannot upload to it "
            "with presigned URLs. Allow your site with: r2store cors set --origin URL"
        )
        return EXIT_OK
    out(f"CORS rules of bucket {store.config.bucket}:")
    _show_cors(rules)
    return EXIT_OK


def _cmd_cors_set(context: Context, args: argparse.Namespace) -> int:
    """Replace the bucket's CORS rules with one rule for browser uploads."""
    from ..buckets import get_cors, set_cors

    store = context.require_r2("cors set")
    defaults = CORSRule(origins=())
    methods: list[str] = args.methods or list(defaults.methods)
    headers: list[str] = args.headers or list(defaults.headers)
    # Repeats dropped, order kept.
    rule = CORSRule(
        origins=dict.fromkeys(args.origins),
        methods=dict.fromkeys(methods),
        headers=dict.fromkeys(headers),
        max_age=args.max_age,
    )
    replaced = [old for old in get_cors(store) if old != rule]
    set_cors(store, [rule])
    earlier = f" (replacing {len(replaced)} earlier rule(s))" if replaced else ""
    out(f"Set the CORS rules of bucket {store.config.bucket}{earlier}:")
    _show_cors([rule])
    if "*" in rule.origins:
        err("warning: origin '*' lets any site's pages send these requests to the bucket")
    return EXIT_OK


def _cmd_cors_clear(context: Context, args: argparse.Namespace) -> int:
    """Remove the bucket's CORS rules."""
    from ..buckets import clear_cors

    store = context.require_r2("cors clear")
    clear_cors(store)
    out(f"Removed the CORS rules of bucket {store.config.bucket}.")
    return EXIT_OK
