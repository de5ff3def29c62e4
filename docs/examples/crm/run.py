"""Run the CRM example: contacts with profile photos kept in R2.

    python -m pip install -e ".[django,local,dotenv]" pillow && python docs/examples/crm/run.py

then open http://127.0.0.1:8000/. With USE_R2=true and the R2_* variables (in
the environment or a .env file) the photos go to your bucket; without, to a
local S3-compatible endpoint in memory, gone when this stops. The database is
a SQLite file in this folder, or in $CRM_DATA_DIR. Ctrl-C (or SIGTERM) stops it all.
"""

from __future__ import annotations

import os
import signal
import sys
from contextlib import ExitStack
from pathlib import Path

from r2store import R2Config, r2_enabled

PROJECT_DIR = Path(__file__).resolve().parent


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
    with ExitStack() as stack:
        if r2_enabled():
            config = R2Config.from_env()
            print(f"Storage: R2 bucket {config.bucket!r} at {config.endpoint}.", flush=True)
        else:
            from r2store.local import local_s3

            os.environ.update(stack.enter_context(local_s3()))
            print(
                "Storage: a local S3 endpoint in memory (USE_R2 is not set); "
                "photos are gone when this stops.",
                flush=True,
            )

        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", interactive=False, verbosity=0)
        # One process, no autoreloader: the in-memory endpoint above lives in this
        # process, and runserver also serves the admin's static files.
        call_command("runserver", f"127.0.0.1:{os.environ.get('PORT', '8000')}", use_reloader=False)


if __name__ == "__main__":
    main()
