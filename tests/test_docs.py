"""Run the code examples in the documentation (docs/**/*.md), so they cannot rot.

How a page's fenced blocks are treated:

- ```` ```python ````: run, in page order, in one namespace per page.
- ```` ```pycon ````: run as a doctest in the same namespace; the output must match
  (``...`` matches anything, whitespace differences are ignored).
- ```` ```console ```` whose first line is ``$ r2store ...`` or ``$ export ...``: each
  ``$ r2store`` line is run (in-process, against the page's local S3 endpoint) and what it
  prints (stdout and stderr, in order) must match the lines below it (``...`` matches
  anything); ``$ export NAME=VALUE`` sets a variable for the rest of the block. The bucket
  is a new one, not yet created, so ``r2store bucket create`` works as on a first run; its
  name reads as ``media`` and the endpoint as ``https://<ACCOUNT_ID>.r2.cloudflarestorage.com``
  in what is compared.
- Any other info string (``console`` with other commands, ``sh``, ``text``, ...): not run.

An HTML comment on the line just before a ``python`` block changes what happens to it
(it is invisible on the built site and on GitHub):

- ``<!-- docs-test: skip -->``: not run (say why in the text around it).
- ``<!-- docs-test: file NAME.py -->``: written to NAME.py in the page's folder, which is
  on ``sys.path``, so later blocks ``import`` it as a reader would with the file saved.
- ``<!-- docs-test: django-settings -->``: run as a fragment of settings.py (saved as
  ``mysite/settings.py`` in the page's folder: ``__file__`` says so); its ``STORAGES``,
  ``MEDIA_ROOT``, ``MEDIA_URL`` and ``R2STORE_PROXY`` then override Django's settings for
  the rest of the page.
- ``<!-- docs-test: local-mode -->`` (alone, or after ``django-settings``): the whole page
  runs in local mode, as on a developer's machine: no ``USE_R2`` and no ``R2_*`` variables.

Before an ``r2store`` console block, ``<!-- docs-test: given PATH ... -->`` creates those
files in the working folder (a few bytes each), as the reader would have them.

Each page runs in a new temporary folder (the working directory, so no ``.env`` is read)
with the ``R2_*`` variables of its own local S3 endpoint (``r2store.local.local_s3``, a
fresh bucket) in ``os.environ`` -- reset after every block -- so ``R2Store.from_env()``
works as it would on R2. Blocks inside MyST directives (```` ```{note} ````) count too.
"""

from __future__ import annotations

import contextlib
import doctest
import io
import os
import re
import shlex
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import attrs
import pytest

import r2store.local
from r2store.local import local_s3

DOCS = Path(__file__).resolve().parent.parent / "docs"
# Runnable code that is not documentation pages, and the build output.
NOT_PAGES = ("examples", "_build", "_ext")
MARKER = re.compile(r"<!--\s*docs-test:\s*(.*?)\s*-->")
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
DJANGO_SETTINGS = ("STORAGES", "MEDIA_ROOT", "MEDIA_URL", "R2STORE_PROXY")


@attrs.frozen
class Block:
    """One fenced code block of a page."""

    path: Path
    lineno: int  # of the first line of code
    language: str
    source: str
    marker: str | None

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(DOCS.parent)}:{self.lineno}"


def pages() -> list[Path]:
    """Every Markdown page of the documentation."""
    return sorted(
        path
        for path in DOCS.rglob("*.md")
        if not set(path.relative_to(DOCS).parts) & set(NOT_PAGES)
    )


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of *path*, including those inside MyST directive fences."""
    return list(_blocks(path, path.read_text(encoding="utf-8").splitlines(), 0))


def _blocks(path: Path, lines: list[str], offset: int) -> Iterator[Block]:
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        fence, info = match["fence"], match["info"].strip()
        end = index + 1
        closing = re.compile(rf"^ *{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        while end < len(lines) and not closing.match(lines[end]):
            end += 1
        body = lines[index + 1 : end]
        if info.startswith("{"):  # a MyST directive: its content may hold blocks
            yield from _blocks(path, body, offset + index + 1)
        else:
            previous = lines[index - 1].strip() if index else ""
            marker = MARKER.fullmatch(previous)
            indent = len(match["indent"])
            yield Block(
                path=path,
                lineno=offset + index + 2,
                language=info.split()[0] if info else "",
                source="\n".join(line[indent:] for line in body) + "\n",
                marker=marker[1] if marker else None,
            )
        index = end + 1


def is_cli_example(block: Block) -> bool:
    """Whether *block* is an ``r2store`` console session, run as a test."""
    return block.language == "console" and block.source.startswith(("$ r2store ", "$ export "))


def runnable_pages() -> list[Path]:
    """Pages with at least one block that runs."""
    return [
        p
        for p in pages()
        if any(b.language in ("python", "pycon") or is_cli_example(b) for b in blocks(p))
    ]


def test_the_cli_page_has_examples() -> None:
    """The CLI page's console sessions are found, so they run."""
    assert sum(is_cli_example(b) for b in blocks(DOCS / "cli.md")) >= 5


def test_docs_have_examples() -> None:
    """The page finder sees the pages and their Python blocks."""
    names = {p.relative_to(DOCS).as_posix() for p in runnable_pages()}
    assert "quickstart.md" in names


def test_markers_are_known() -> None:
    """Every docs-test marker is one this module understands, on a block it applies to."""
    for page in pages():
        for block in blocks(page):
            if block.marker is None:
                continue
            if block.marker.startswith("given "):
                assert is_cli_example(block), f"{block.where}: 'given' on a non-CLI block"
                continue
            assert block.language == "python", f"{block.where}: a marker on a non-Python block"
            assert (
                block.marker in ("skip", "django-settings", "local-mode")
                or block.marker == "django-settings local-mode"
                or re.fullmatch(r"file [A-Za-z_][A-Za-z0-9_]*\.py", block.marker)
            ), f"{block.where}: unknown marker {block.marker!r}"


def _fresh_local_s3(bucket: str = "media", **options: Any) -> Any:
    """local_s3() with a new bucket name on every call.

    moto's servers in one process share their data, so without new names every
    example -- each meant as a program of its own -- would see the objects the
    ones before it left.
    """
    global _local_s3_calls
    _local_s3_calls += 1
    return local_s3(f"{bucket}-docs-{_local_s3_calls}", **options)


_local_s3_calls = 0


def _sessions(block: Block) -> Iterator[tuple[int, str, str]]:
    """(line number, command, expected output) for each ``$`` line of a console block."""
    lines = block.source.splitlines()
    starts = [n for n, line in enumerate(lines) if line.startswith("$ ")]
    for start, end in zip(starts, [*starts[1:], len(lines)], strict=True):
        expected = "".join(line + "\n" for line in lines[start + 1 : end])
        yield block.lineno + start, lines[start][2:], expected


class PageRunner:
    """Runs one page's blocks in order, in one namespace."""

    def __init__(self, folder: Path, stack: ExitStack) -> None:
        self.folder = folder
        self.stack = stack
        self.namespace: dict[str, Any] = {
            "__name__": "__docs__",
            "__file__": str(folder / "mysite" / "settings.py"),
        }
        self.modules: list[str] = []
        self.cli_bucket: str | None = None

    def run(self, block: Block) -> None:
        marker = block.marker or ""
        if is_cli_example(block):
            self._cli(block, marker)
            return
        if block.language not in ("python", "pycon") or marker == "skip":
            return
        if marker.startswith("file "):
            name = marker.split()[1]
            compile(block.source, block.where, "exec")  # a syntax error shows up here
            (self.folder / name).write_text(block.source, encoding="utf-8")
            self.modules.append(name.removesuffix(".py"))
            return
        if block.language == "pycon":
            self._doctest(block)
        else:
            # Padding keeps a traceback's line numbers those of the Markdown file.
            padded = "\n" * (block.lineno - 1) + block.source
            exec(compile(padded, str(block.path), "exec"), self.namespace)  # noqa: S102
        if marker.startswith("django-settings"):
            from django.test import override_settings

            values = {k: self.namespace[k] for k in DJANGO_SETTINGS if k in self.namespace}
            self.stack.enter_context(override_settings(**values))

    def _cli(self, block: Block, marker: str) -> None:
        """Run each ``$ r2store`` line of *block* and compare what it prints."""
        from r2store.cli import main

        if marker.startswith("given "):
            for name in marker.split()[1:]:
                path = self.folder / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(f"example content of {name}\n".encode())
        if self.cli_bucket is None:
            self.cli_bucket = f"cli-docs-{uuid.uuid4().hex[:12]}"
        os.environ["R2_BUCKET_NAME"] = self.cli_bucket
        shown = {
            self.cli_bucket: "media",
            os.environ["R2_ENDPOINT_URL"]: "https://<ACCOUNT_ID>.r2.cloudflarestorage.com",
        }
        checker = doctest.OutputChecker()
        flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
        for lineno, command, expected in _sessions(block):
            if command.startswith("export "):
                # The rest of the block runs with it, as in the reader's shell.
                name, _, value = shlex.split(command)[1].partition("=")
                os.environ[name] = value
                continue
            assert command.startswith("r2store "), f"{block.path}:{lineno}: not r2store"
            # One stream for both, in the order printed, as on the reader's terminal.
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
                main(shlex.split(command)[1:])
            got = printed.getvalue()
            for real, documented in shown.items():
                got = got.replace(real, documented)
            if not checker.check_output(expected, got, flags):
                pytest.fail(
                    f"{block.path}:{lineno}: $ {command}\nexpected:\n{expected}got:\n{got}",
                    pytrace=False,
                )

    def _doctest(self, block: Block) -> None:
        test = doctest.DocTestParser().get_doctest(
            block.source, self.namespace, block.where, str(block.path), block.lineno - 1
        )
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        report: list[str] = []
        runner.run(test, out=report.append, clear_globs=False)
        self.namespace.update(test.globs)  # DocTest ran in a copy of the namespace
        if runner.failures:
            pytest.fail("".join(report), pytrace=False)

    def forget_modules(self) -> None:
        for name in self.modules:
            sys.modules.pop(name, None)


@pytest.mark.parametrize("page", runnable_pages(), ids=lambda p: p.relative_to(DOCS).as_posix())
def test_page_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page's Python examples run and its pycon examples print what they show."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(r2store.local, "local_s3", _fresh_local_s3)
    with ExitStack() as stack:
        env = stack.enter_context(_fresh_local_s3())
        if any((b.marker or "").endswith("local-mode") for b in blocks(page)):
            env = {}
            for name in [n for n in os.environ if n.startswith(("R2_", "USE_R2"))]:
                monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        baseline = dict(os.environ)
        runner = PageRunner(tmp_path, stack)
        stack.callback(runner.forget_modules)
        for block in blocks(page):
            try:
                runner.run(block)
            finally:
                if os.environ != baseline:
                    os.environ.clear()
                    os.environ.update(baseline)


def test_quickstart_names_the_test_clients_http_library() -> None:
    """The quickstart tells FastAPI readers to install the HTTP library Starlette's test
    client uses (without it the example fails on import)."""
    import starlette.testclient

    # Starlette imports it as `httpx` whichever library it found (httpx2, else httpx).
    client: Any = vars(starlette.testclient)["httpx"]
    library = client.__name__.partition(".")[0]
    assert f"pip install {library}" in (DOCS / "quickstart.md").read_text(encoding="utf-8")
