"""Sphinx directives that render reference tables from the code, so they cannot drift.

``r2store-settings`` (in an ``{eval-rst}`` block)
    One table of every setting: each row from ``r2store.config.ENV_VARS`` and
    ``attrs.fields(R2Config)`` (defaults, and the ``#:`` comment above the
    field), plus ``USE_R2`` and R2Storage's ``allow_overwrite``. The
    directive's content adds notes to rows, as ``:name: text`` lines (``name``
    is a field name, ``USE_R2`` or ``allow_overwrite``). A row left with no
    description, or a note for a name that is not a row, is a warning (an
    error under ``-W``).

``r2store-cli``
    The ``r2store`` command's reference, from the argparse parser that
    ``r2store.cli`` builds (found by ``r2store_cli_parser``, or by looking for
    a function that takes no arguments and returns an ``ArgumentParser``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import os
import re
import sys
from collections.abc import Callable, Iterator
from typing import Any

import attrs
from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

MiB = 1024 * 1024
# Read by R2Config.from_env outside ENV_VARS: both feed the public_url field.
PUBLIC_URL_VARS = ("R2_PUBLIC_DOMAIN", "R2_PUBLIC_URL")


# ----------------------------------------------------------------- settings


@attrs.define
class SettingRow:
    """One row of the settings table (every cell as reStructuredText)."""

    name: str  # what notes are keyed by: the field, "USE_R2" or "allow_overwrite"
    env: list[str]
    field: str | None
    option: str | None
    default: str
    description: list[str]


def format_default(value: Any) -> str:
    """A field's default as the table shows it (booleans as an environment variable says them)."""
    if value is attrs.NOTHING:
        return "required"
    if isinstance(value, attrs.Factory):  # type: ignore[arg-type]
        value = value.factory()
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "``true``" if value else "``false``"
    if value == "":
        return "empty"
    if isinstance(value, int) and value >= MiB and value % MiB == 0:
        return f"``{value}`` ({value // MiB} MiB)"
    return f"``{value}``"


def settings_rows() -> list[SettingRow]:
    """Every setting: R2Config's fields in order, with USE_R2 first and allow_overwrite last."""
    from sphinx.pycode import ModuleAnalyzer

    from r2store import config
    from r2store.config import ENV_VARS, R2Config, r2_enabled
    from r2store.django.storage import R2Storage

    comments = ModuleAnalyzer.for_module("r2store.config").find_attr_docs()
    source = inspect.getsource(config)
    for var in PUBLIC_URL_VARS:
        if f'"{var}"' not in source:
            logger.warning("r2store-settings: %s is no longer read by r2store.config", var)
    fields = attrs.fields(R2Config)
    for name in ENV_VARS:
        if not hasattr(fields, name):
            logger.warning("r2store-settings: ENV_VARS names %r, which is not a field", name)

    rows = [
        SettingRow(
            name="USE_R2",
            env=["USE_R2"],
            field=None,
            option=None,
            default=format_default(r2_enabled({})),
            description=[],
        )
    ]
    for field in fields:
        if field.name in ENV_VARS:
            env = [ENV_VARS[field.name][0]]
        elif field.name == "public_url":
            env = list(PUBLIC_URL_VARS)
        else:
            env = []
        rows.append(
            SettingRow(
                name=field.name,
                env=env,
                field=field.name,
                option=field.name,
                default=format_default(field.default),
                description=list(comments.get(("R2Config", field.name), [])),
            )
        )
    overwrite = inspect.signature(R2Storage.__init__).parameters["allow_overwrite"]
    rows.append(
        SettingRow(
            name="allow_overwrite",
            env=[],
            field=None,
            option="allow_overwrite",
            default=format_default(overwrite.default),
            description=[],
        )
    )
    return rows


class SettingsTable(SphinxDirective):
    """``.. r2store-settings::`` -- the table of every setting (see the module docstring)."""

    has_content = True

    def run(self) -> list[nodes.Node]:
        rows = settings_rows()
        by_name = {row.name: row for row in rows}
        for name, text in self._notes():
            if name not in by_name:
                logger.warning(
                    "r2store-settings: a note for %r, which is not a setting",
                    name,
                    location=self.get_location(),
                )
                continue
            description = by_name[name].description
            if description:
                description.append("")
            description += text
        lines = [
            ".. list-table::",
            "   :header-rows: 1",
            "   :widths: 24 20 12 44",
            "   :class: r2store-settings",
            "",
            "   * - Environment variable",
            "     - ``R2Config`` field and Django ``OPTIONS`` key",
            "     - Default",
            "     - What it does",
        ]
        for row in rows:
            if not row.description:
                logger.warning(
                    "r2store-settings: %r has no description: add a #: comment above the "
                    "field in r2store/config.py, or a note here",
                    row.name,
                    location=self.get_location(),
                )
            env = " or ".join(f"``{var}``" for var in row.env) or "--"
            if row.field:
                key = f"``{row.field}``"
            elif row.option:
                key = f"``{row.option}`` (``OPTIONS`` only)"
            else:
                key = "--"
            lines += [
                f"   * - {env}",
                f"     - {key}",
                f"     - {row.default}",
                "     - " + (row.description[0] if row.description else ""),
                *(f"       {line}" if line else "" for line in row.description[1:]),
            ]
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source="r2store-settings"), 0, container)
        return list(container.children)

    def _notes(self) -> Iterator[tuple[str, list[str]]]:
        """``:name: text`` lines, continued by indented lines."""
        name: str | None = None
        text: list[str] = []
        for line in self.content:
            match = re.match(r":([A-Za-z_0-9]+):\s*(.*)", line)
            if match:
                if name is not None:
                    yield name, text
                name, text = match[1], [match[2]]
            elif name is not None and (not line.strip() or line[0].isspace()):
                text.append(line.strip())
            elif line.strip():
                logger.warning(
                    "r2store-settings: expected ':name: text', got %r",
                    line,
                    location=self.get_location(),
                )
        if name is not None:
            yield name, text


# ---------------------------------------------------------------------- CLI


def find_parser_factory(module: Any, name: str | None) -> Callable[[], argparse.ArgumentParser]:
    """The function in *module* that builds the CLI's parser."""
    if name:
        return getattr(module, name)  # type: ignore[no-any-return]
    candidates = []
    for attr, value in vars(module).items():
        if not inspect.isfunction(value) or value.__module__ != module.__name__:
            continue
        signature = inspect.signature(value)
        required = [
            p
            for p in signature.parameters.values()
            if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        returns = signature.return_annotation
        returns = returns if isinstance(returns, str) else getattr(returns, "__name__", "")
        if not required and "ArgumentParser" in returns:
            candidates.append((attr, value))
    if len(candidates) != 1:
        names = ", ".join(attr for attr, _ in candidates) or "none"
        raise LookupError(
            f"{module.__name__} should have one function that takes no arguments and returns "
            f"an ArgumentParser (found: {names}); or set r2store_cli_parser in conf.py"
        )
    return candidates[0][1]


@contextlib.contextmanager
def _as_command(prog: str) -> Iterator[None]:
    """argparse names the program after sys.argv[0], wraps at $COLUMNS and may add colour."""
    saved_argv, saved_env = sys.argv, dict(os.environ)
    sys.argv = [prog]
    os.environ.update(COLUMNS="88", NO_COLOR="1", PYTHON_COLORS="0")
    try:
        yield
    finally:
        sys.argv = saved_argv
        os.environ.clear()
        os.environ.update(saved_env)


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(name, help, parser) for each subcommand, in the order they were added."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            seen: set[int] = set()
            for name, sub in action.choices.items():
                if id(sub) in seen:  # an alias
                    continue
                seen.add(id(sub))
                found.append((name, helps.get(name, ""), sub))
    return found


def _paragraphs(text: str | None) -> list[nodes.Node]:
    if not text:
        return []
    blocks = [" ".join(block.split()) for block in re.split(r"\n\s*\n", text.strip())]
    paragraphs = [nodes.paragraph(text=block) for block in blocks if block]
    for paragraph in paragraphs:
        # Help text is full of --options: keep "--" from becoming a dash.
        paragraph["support_smartquotes"] = False
    return paragraphs


def _prose(parser: argparse.ArgumentParser, text: str | None) -> list[nodes.Node]:
    """A description or epilog: as printed by --help when the parser keeps its line breaks."""
    raw = isinstance(parser.formatter_class, type) and issubclass(
        parser.formatter_class, argparse.RawDescriptionHelpFormatter
    )
    if not text or not raw:
        return _paragraphs(text)
    return [nodes.literal_block(text=text.strip(), language="text")]


def _arguments(
    parser: argparse.ArgumentParser, shown: frozenset[str] = frozenset()
) -> list[nodes.Node]:
    """A definition list of the parser's arguments (not its subcommands, not --help, not
    the options in *shown*: those every command takes are listed once, at the top)."""
    formatter = parser._get_formatter()
    items = []
    # Positional arguments first, then options; --help goes without saying.
    actions = sorted(parser._actions, key=lambda action: bool(action.option_strings))
    for action in actions:
        if action.help == argparse.SUPPRESS or isinstance(
            action, (argparse._SubParsersAction, argparse._HelpAction)
        ):
            continue
        if shown.intersection(action.option_strings):
            continue
        if action.option_strings:
            spelling = ", ".join(action.option_strings)
            if action.nargs != 0:
                spelling += " " + formatter._format_args(
                    action, formatter._get_default_metavar_for_optional(action)
                )
        else:
            spelling = formatter._format_args(
                action, formatter._get_default_metavar_for_positional(action)
            )
        term = nodes.term("", "", nodes.literal(text=spelling))
        help_text = formatter._expand_help(action) if action.help else ""
        definition = nodes.definition("", *(_paragraphs(help_text) or [nodes.paragraph()]))
        items.append(nodes.definition_list_item("", term, definition))
    return [nodes.definition_list("", *items)] if items else []


class CLIReference(SphinxDirective):
    """``r2store-cli`` -- the command reference, generated from the command's own parser."""

    def run(self) -> list[nodes.Node]:
        config = self.env.config
        module = importlib.import_module(config.r2store_cli_module)
        self.env.note_dependency(inspect.getfile(module))
        try:
            factory = find_parser_factory(module, config.r2store_cli_parser)
        except LookupError as exc:
            logger.warning("r2store-cli: %s", exc, location=self.get_location())
            return []
        with _as_command("r2store"):
            return self._render(factory())

    def _render(self, parser: argparse.ArgumentParser) -> list[nodes.Node]:
        out: list[nodes.Node] = [
            nodes.literal_block(text=parser.format_usage().strip(), language="text"),
            *_prose(parser, parser.description),
            *_arguments(parser),
            *_prose(parser, parser.epilog),
        ]
        shown = frozenset(option for action in parser._actions for option in action.option_strings)
        out += self._sections(parser, shown)
        return out

    def _sections(self, parser: argparse.ArgumentParser, shown: frozenset[str]) -> list[nodes.Node]:
        sections: list[nodes.Node] = []
        for _name, help_text, sub in _subcommands(parser):
            title = sub.prog
            section = nodes.section(
                ids=[nodes.make_id(title)], names=[nodes.fully_normalize_name(title)]
            )
            section += nodes.title(text=title)
            section += _paragraphs(help_text)
            section += nodes.literal_block(text=sub.format_usage().strip(), language="text")
            if sub.description and sub.description.strip() != help_text.strip():
                section += _prose(sub, sub.description)
            section += _arguments(sub, shown)
            section += _prose(sub, sub.epilog)
            section += self._sections(sub, shown)
            self.state.document.note_implicit_target(section, section)
            sections.append(section)
        return sections


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("r2store_cli_module", "r2store.cli", "env")
    app.add_config_value("r2store_cli_parser", None, "env")
    app.add_directive("r2store-settings", SettingsTable)
    app.add_directive("r2store-cli", CLIReference)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
