"""The README's setup steps and settings table name the variables r2store reads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from r2store import ConfigError, R2Config
from r2store.config import ENV_VARS
from r2store.localconfig import LOCAL_ENV_VARS

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
# Read outside ENV_VARS: the switch itself, the two spellings of the public URL, and the
# Django static storages' switches (r2store.django.settings and .static).
READ_ELSEWHERE = {"USE_R2", "R2_PUBLIC_DOMAIN", "R2_PUBLIC_URL", "R2_STATIC", "R2_STATIC_COMPRESS"}
READ = {var for var, _ in ENV_VARS.values()} | {var for var, _ in LOCAL_ENV_VARS.values()}


def named_in_readme() -> set[str]:
    """Every r2store variable the README names."""
    return set(re.findall(r"\b(?:USE_R2\w*|R2_[A-Z0-9_]+)\b", README))


def test_every_variable_the_readme_names_is_read() -> None:
    """No variable in the README is one that r2store does not read (a typo, or a stale name)."""
    assert named_in_readme() - READ - READ_ELSEWHERE == set()


def test_the_readme_names_every_variable_r2_needs() -> None:
    """Every variable R2Config reports missing in an empty environment is in the README."""
    with pytest.raises(ConfigError) as caught:
        R2Config.from_env({}, env_file=None)
    required = {problem.name for problem in caught.value.problems}
    assert required, "an empty environment must be missing something"
    assert required <= named_in_readme()


@pytest.mark.parametrize("variable", ["USE_R2", "R2_ENDPOINT_URL", "R2_LOCAL_ROOT"])
def test_the_readme_names_the_switches(variable: str) -> None:
    """The README names the variables that choose R2, another endpoint and the local folder."""
    assert variable in named_in_readme()
