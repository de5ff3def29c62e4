"""Development tasks: `nox -s tests`, `lint`, `typecheck`, `bench`."""

from __future__ import annotations

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

PYPROJECT = nox.project.load_toml("pyproject.toml")


def install(session: nox.Session, *groups: str) -> None:
    """Install r2store (editable) with the named dependency groups."""
    requirements = [r for g in groups for r in nox.project.dependency_groups(PYPROJECT, g)]
    session.install("-e", ".", *requirements)


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite against a local S3 server (moto) and real HTTP servers."""
    install(session, "test")
    session.run("pytest", *session.posargs)


#: The tests that run again on SeaweedFS: every request r2store signs, for every awkward key.
SEAWEEDFS_TESTS = [
    "tests/test_store_contract.py",
    "tests/test_presign.py",
    "tests/test_awkward_keys.py",
    "tests/test_uploads.py",
    "tests/test_redirect.py",
    "tests/test_static.py",
    "tests/django_tests/test_static.py",
]


@nox.session
def tests_seaweedfs(session: nox.Session) -> None:
    """The Store contract, presigned URLs, awkward keys and collectstatic against
    SeaweedFS, an S3 server that checks signatures (moto checks none)."""
    install(session, "test", "seaweedfs")
    session.env["R2STORE_TEST_S3"] = "seaweedfs"
    session.run("pytest", *SEAWEEDFS_TESTS, *session.posargs)


@nox.session
@nox.parametrize("django", ["4.2", "5.2"])
def tests_django(session: nox.Session, django: str) -> None:
    """The Django adapter's tests over the Django versions users run (LTS releases; 5.2 is
    also the newest that supports this Python)."""
    install(session, "test")
    session.install(f"django~={django}.0")
    session.run("pytest", "tests/django_tests", *session.posargs)


@nox.session
def fuzz(session: nox.Session) -> None:
    """The property tests with 10,000 examples per target (the normal run uses few)."""
    install(session, "test")
    session.env["R2STORE_HYPOTHESIS_PROFILE"] = "fuzz"
    session.run(
        "pytest",
        "tests/test_fuzz.py",
        "tests/test_keys.py",
        "tests/test_urls.py",
        "tests/test_http.py",
        "tests/test_config.py",
        *session.posargs,
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package and the tests."""
    install(session, "typecheck")
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation (Sphinx + MyST), warnings as errors, and run its examples."""
    install(session, "docs", "test")
    session.run(
        "python", "-m", "sphinx", "-W", "--keep-going", "-b", "html",
        "docs", "docs/_build/html", *session.posargs,
    )  # fmt: skip
    session.run("pytest", "tests/test_docs.py")


@nox.session
def bench(session: nox.Session) -> None:
    """Run every benchmark; each prints its ratio against its anchor and PASS or FAIL."""
    install(session, "bench")
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session
def load(session: nox.Session) -> None:
    """The bounded load run: 64 clients for 30 s through gunicorn and uvicorn, on loopback."""
    install(session, "bench")
    session.run("python", "benchmarks/bench_proxy_load.py", "--seconds", "30", *session.posargs)
