"""Run the CRM example: contacts with profile photos kept by r2store.

    python -m pip install -e ".[example]" && python docs/examples/crm/run.py

then open http://127.0.0.1:8000/. Where the photos go:

- by default (USE_R2 unset), local mode: the folder ``media`` beside the SQLite
  database, in this folder or in $CRM_DATA_DIR; they stay across restarts;
- with ``--s3`` (or CRM_STORAGE=memory-s3): a local S3-compatible endpoint in
  memory, gone when this stops; like R2, it takes the browser's direct uploads only
  with a CORS rule for the app's origin, which this sets at start-up;
- with USE_R2=true and the R2_* variables (in the environment or a .env file):
  your bucket.

The first line printed says which. Ctrl-C (or SIGTERM) stops it all.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from contextlib import ExitStack
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent
#: CRM_STORAGE's value (and --s3's meaning): the in-memory S3 endpoint.
MEMORY_S3 = "memory-s3"


def _storage_choice() -> str:
    """CRM_STORAGE as the command line and the environment set it: "" or memory-s3."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--s3",
        action="store_true",
        help="keep the photos in a local S3 endpoint in memory (gone when this stops)",
    )
    choice = MEMORY_S3 if parser.parse_args().s3 else os.environ.get("CRM_STORAGE", "")
    if choice not in ("", MEMORY_S3):
        parser.error(f"CRM_STORAGE must be {MEMORY_S3!r} or unset, got {choice!r}")
    return choice


def _allow_uploads_from(origin: str) -> None:
    """Give the bucket a CORS rule that lets pages from *origin* upload to it, as
    ``r2store cors set --origin ORIGIN`` does, and say so."""
    from r2store import R2Store
    from r2store.buckets import CORSRule, set_cors

    with R2Store.from_env() as store:
        set_cors(store, [CORSRule(origins=[origin])])
    command = f"r2store cors set --origin {origin}"
    print(
        f"CORS: pages from {origin} may upload to the bucket (`{command}`); "
        "on R2, run that command once, with your site's origin.",
        flush=True,
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Migrate the database and serve the app on 127.0.0.1:$PORT (8000)."""
    # runserver stops cleanly on KeyboardInterrupt: make SIGTERM (a container's stop) one too,
    # and Ctrl-C even when this was started with SIGINT ignored (nohup, a background job).
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    sys.path.insert(0, str(PROJECT_DIR))
    # This script runs this project, whatever settings module the shell names.
    os.environ["DJANGO_SETTINGS_MODULE"] = "crmsite.settings"
    # The settings read it too: the page says where the photos are.
    os.environ["CRM_STORAGE"] = _storage_choice()
    port = os.environ.get("PORT", "8000")
    with ExitStack() as stack:
        memory_s3 = os.environ["CRM_STORAGE"] == MEMORY_S3
        if memory_s3:
            from r2store.local import local_s3

            os.environ.update(stack.enter_context(local_s3()))

        import django
        from django.core.management import call_command

        django.setup()
        from contacts.views import where_photos_are

        print(f"Storage: {where_photos_are()}", flush=True)
        if memory_s3:
            # The direct uploads' PUTs go across origins, to the endpoint's port.
            _allow_uploads_from(f"http://127.0.0.1:{port}")
        call_command("migrate", interactive=False, verbosity=0)
        # One process, no autoreloader: the in-memory endpoint (--s3) lives in this
        # process, and runserver also serves the admin's static files.
        call_command("runserver", f"127.0.0.1:{port}", use_reloader=False)


if __name__ == "__main__":
    main()
