"""``python -m r2store``: the ``r2store`` command (see :mod:`r2store.cli`)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
