"""Sphinx configuration: MyST Markdown pages, autodoc for the API, the furo theme.

Build with warnings as errors:

    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
# The checkout's r2store, not an installed copy; and the extensions in _ext/.
sys.path[:0] = [str(DOCS.parent), str(DOCS / "_ext")]

import r2store  # noqa: E402

project = "r2store"
author = "The r2store developers"
copyright = "the r2store developers"
release = version = r2store.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    # The configuration table (from r2store.config) and the CLI reference (from argparse).
    "r2store_docs",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
# examples/ holds runnable code (and a README of its own), not pages.
exclude_patterns = ["_build", "_ext", "examples", "Thumbs.db", ".DS_Store"]

myst_enable_extensions = ["colon_fence", "deflist"]
# Links such as url-modes.md#signed-proxy-urls resolve to headings down to ###.
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"

html_theme = "furo"
html_title = f"r2store {release}"
html_static_path: list[str] = []
