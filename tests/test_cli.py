"""The ``r2store`` command, in-process through ``main()`` and as a real subprocess.

Both talk to the moto S3 server from conftest; nothing is mocked but the failures
that moto cannot produce (access denied, a connection dropped mid-download, Ctrl-C).
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import re
import signal
import stat
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import attrs
import httpx
import pytest

import r2store.buckets
from r2store import LocalConfig, LocalStore, R2Store
from r2store.cli import main
from r2store.errors import AccessDeniedError, UpstreamError
from r2store.objects import ObjectReader

from .conftest import SECRET_ACCESS_KEY, free_port, put_raw

ROOT = Path(__file__).resolve().parents[1]
#: How long any one subprocess may take; generous, as machines here are shared.
DEADLINE = 60


@attrs.frozen
class Result:
    """What a command did: its exit status and what it printed."""

    code: int
    out: str
    err: str


Run = Callable[..., Result]


@pytest.fixture
def cli(
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> Run:
    """Run ``r2store ARGS...`` in-process, configured for the test bucket, in an empty folder."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # An empty working directory: no stray .env file is read.
    monkeypatch.chdir(tmp_path)

    def run(*argv: str) -> Result:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


def subprocess_env(env: dict[str, str]) -> dict[str, str]:
    """This process's environment (already free of AWS and R2 settings) plus *env*."""
    return {**os.environ, **env, "PYTHONPATH": str(ROOT)}


def run_process(
    env: dict[str, str], *argv: str, cwd: Path, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m r2store ARGS...`` as a real process."""
    return subprocess.run(
        [sys.executable, "-m", "r2store", *argv],
        env=subprocess_env(env),
        cwd=cwd,
        input=stdin,
        capture_output=True,
        timeout=DEADLINE,
        check=False,
    )


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    """Create *files* (relative path -> content) under *root*; return *root*."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


def keys(store: R2Store, prefix: str = "") -> list[str]:
    """Every key in the bucket under *prefix*."""
    return [item.key for item in store.list(prefix)]


# -- check -----------------------------------------------------------------------


def test_check_passes_on_a_working_bucket(cli: Run, env: dict[str, str]) -> None:
    """check shows endpoint, bucket and URL mode with its reason, and exits 0."""
    result = cli("check")
    assert result.code == 0, result.err
    assert f"endpoint:      {env['R2_ENDPOINT_URL']}" in result.out
    assert f"bucket:        {env['R2_BUCKET_NAME']}" in result.out
    assert "proxy: USE_R2_MEDIA_PROXY is on" in result.out
    assert "All is well." in result.out


def test_check_leaves_no_probe_behind(cli: Run, store: R2Store) -> None:
    """check writes, reads back and deletes its probe: the bucket ends as it began."""
    store.save("kept.txt", b"kept")
    result = cli("check")
    assert "written, read back and deleted" in result.out
    assert keys(store) == ["kept.txt"]


def test_check_lists_every_configuration_problem(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """check names every bad variable at once, and exits 2."""
    monkeypatch.delenv("R2_BUCKET_NAME")
    monkeypatch.delenv("R2_ACCESS_KEY_ID")
    monkeypatch.setenv("R2_URL_EXPIRES_IN", "forever")
    result = cli("check")
    assert result.code == 2
    for variable in ("R2_BUCKET_NAME", "R2_ACCESS_KEY_ID", "R2_URL_EXPIRES_IN"):
        assert f"  - {variable}: " in result.err
    assert result.err.splitlines()[-1].startswith("r2store: error: the configuration has 3")


def test_check_explains_the_public_url_mode(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the proxy off and a public domain, check says public, and why."""
    monkeypatch.setenv("USE_R2_MEDIA_PROXY", "false")
    monkeypatch.setenv("R2_PUBLIC_DOMAIN", "media.example.com")
    result = cli("check")
    assert "URL mode:      public: USE_R2_MEDIA_PROXY is off" in result.out
    assert "https://media.example.com" in result.out


def test_check_warns_about_r2_dev_domains(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """An r2.dev public domain is a warning (rate-limited, not for production), not a failure."""
    monkeypatch.setenv("USE_R2_MEDIA_PROXY", "false")
    monkeypatch.setenv("R2_PUBLIC_DOMAIN", "pub-0123456789abcdef.r2.dev")
    result = cli("check")
    assert result.code == 0
    assert "warning: the public URL uses pub-0123456789abcdef.r2.dev" in result.err
    assert "not for production" in result.err
    assert "with 1 warning(s)" in result.out


def test_check_warns_about_the_endpoint(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """An endpoint off loopback over plain http, and not R2's, is two warnings before the probe."""
    # .invalid never resolves (RFC 6761): the probe fails (after retries) without a connection.
    monkeypatch.setenv("R2_ENDPOINT_URL", "http://r2store-test.invalid:9")
    result = cli("check")
    warnings = [line for line in result.err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 2
    assert "plain http (http://r2store-test.invalid:9)" in warnings[0]
    assert "r2store-test.invalid, not Cloudflare R2" in warnings[1]
    assert result.code == 1


def test_check_strict_fails_on_warnings(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """check --strict exits 1 when there is a warning."""
    monkeypatch.setenv("R2_PUBLIC_DOMAIN", "pub-0123456789abcdef.r2.dev")
    assert cli("check", "--strict").code == 1


def test_check_refuses_an_invalid_use_r2(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """check reads USE_R2 as the library does: a value that is not a boolean fails, exit 2."""
    monkeypatch.setenv("USE_R2", "maybe")
    result = cli("check")
    assert result.code == 2
    assert "  - USE_R2: expected true/false" in result.err
    assert "All is well" not in result.out


def test_check_says_when_use_r2_is_off(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """check says that USE_R2=false keeps storages_from_env() on the local disk."""
    monkeypatch.setenv("USE_R2", "false")
    result = cli("check")
    assert result.code == 0
    assert "USE_R2:        off: storages_from_env() keeps files on the local disk" in result.out


def test_check_fails_when_the_bucket_does_not_exist(
    cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bucket that is not there fails the check with exit status 1, naming the way out."""
    monkeypatch.setenv("R2_BUCKET_NAME", "no-such-bucket-here")
    result = cli("check")
    assert result.code == 1
    assert "r2store: error: bucket 'no-such-bucket-here' does not exist" in result.err
    assert "create it with `r2store bucket create`" in result.err


# -- bucket, cors -------------------------------------------------------------------------


def test_bucket_create_creates_the_configured_bucket(
    cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bucket create makes the bucket R2_BUCKET_NAME names, after which check passes."""
    name = f"new-{uuid.uuid4().hex[:20]}"
    monkeypatch.setenv("R2_BUCKET_NAME", name)
    result = cli("bucket", "create")
    assert result.code == 0, result.err
    assert result.out.startswith(f"Created bucket {name} at ")
    assert cli("check").code == 0


def test_bucket_create_leaves_an_existing_bucket(cli: Run, store: R2Store) -> None:
    """bucket create on a bucket that exists and is ours changes nothing and exits 0."""
    store.save("kept.txt", b"x")
    result = cli("bucket", "create")
    assert result.code == 0
    assert "already exists, and these credentials can use it: nothing to do" in result.out
    assert keys(store) == ["kept.txt"]


def test_bucket_create_denied_names_the_permission(
    cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token that may not create buckets gets told which permission it needs (moto cannot
    refuse, so the refusal is simulated)."""

    def denied(store: R2Store) -> bool:
        raise AccessDeniedError("R2 denied access (AccessDenied)")

    monkeypatch.setattr(r2store.buckets, "create_bucket", denied)
    result = cli("bucket", "create")
    assert result.code == 1
    assert "Admin Read & Write" in result.err


def test_a_missing_bucket_is_named_with_the_way_out(
    cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing bucket's error names it and says to run `r2store bucket create`."""
    monkeypatch.setenv("R2_BUCKET_NAME", "no-such-bucket-here")
    result = cli("ls")
    assert result.code == 1
    (line,) = result.err.splitlines()
    assert "bucket 'no-such-bucket-here' does not exist" in line
    assert "r2store bucket create" in line


def test_cors_show_says_when_there_are_no_rules(cli: Run) -> None:
    """cors show on a bucket without rules says browsers cannot upload, and how to allow."""
    result = cli("cors", "show")
    assert result.code == 0
    assert "has no CORS rules" in result.out
    assert "r2store cors set --origin" in result.out


def test_cors_set_allows_browser_uploads(cli: Run, store: R2Store) -> None:
    """cors set --origin stores one rule with the upload defaults: PUT, GET, HEAD,
    Content-Type and If-None-Match (a direct upload's headers), an hour's max age."""
    result = cli("cors", "set", "--origin", "https://app.example.com")
    assert result.code == 0, result.err
    (rule,) = store.client.get_bucket_cors(Bucket=store.config.bucket)["CORSRules"]
    assert rule["AllowedOrigins"] == ["https://app.example.com"]
    assert rule["AllowedMethods"] == ["PUT", "GET", "HEAD"]
    assert rule["AllowedHeaders"] == ["Content-Type", "If-None-Match"]
    assert rule["MaxAgeSeconds"] == 3600


def test_cors_set_takes_repeated_options(cli: Run) -> None:
    """cors set takes several origins, methods and headers; cors show prints them."""
    cli(
        "cors", "set",
        "--origin", "https://a.example.com", "--origin", "http://localhost:5173",
        "--method", "put", "--header", "Content-Type", "--header", "Content-MD5",
        "--max-age", "60",
    )  # fmt: skip
    result = cli("cors", "show")
    assert "  origins:         https://a.example.com, http://localhost:5173" in result.out
    assert "  methods:         PUT\n" in result.out
    assert "  headers:         Content-Type, Content-MD5" in result.out
    assert "  max age:         60 s" in result.out


@pytest.mark.parametrize(
    ("origin", "message"),
    [
        ("https://app.example.com/", "not even a trailing '/'"),
        ("https://app.example.com/upload", "like https://app.example.com"),
        ("app.example.com", "is not an origin like https://app.example.com"),
    ],
)
def test_cors_set_refuses_what_is_not_an_origin(cli: Run, origin: str, message: str) -> None:
    """An origin with a path, a trailing slash or no scheme is a usage error (exit 2)."""
    result = cli("cors", "set", "--origin", origin)
    assert result.code == 2
    assert message in result.err


def test_cors_clear_removes_the_rules(cli: Run) -> None:
    """cors clear leaves the bucket with no CORS rules."""
    cli("cors", "set", "--origin", "https://app.example.com")
    assert cli("cors", "clear").code == 0
    assert "has no CORS rules" in cli("cors", "show").out


# -- ls, stat, url, presign ------------------------------------------------------------


def test_ls_lists_keys_under_a_prefix(cli: Run, store: R2Store) -> None:
    """ls PREFIX prints the keys under it, one a line, in key order."""
    for key in ("photos/b.jpg", "photos/a.jpg", "docs/c.pdf"):
        store.save(key, b"x")
    result = cli("ls", "photos/")
    assert result.code == 0
    assert result.out.splitlines() == ["photos/a.jpg", "photos/b.jpg"]


def test_ls_long_shows_time_and_size(cli: Run, store: R2Store) -> None:
    """ls --long adds the last-modified time and the size before each key."""
    store.save("a.txt", b"12345")
    (line,) = cli("ls", "--long").out.splitlines()
    date, time_of_day, size, key = line.split()
    assert (size, key) == ("5", "a.txt")
    assert len(date) == 10
    assert len(time_of_day) == 8


def test_stat_shows_metadata(cli: Run, store: R2Store) -> None:
    """stat prints size, type and the object's own headers."""
    store.save("a.txt", b"hello", content_type="text/plain", cache_control="max-age=60")
    result = cli("stat", "a.txt")
    assert result.code == 0
    assert "size:" in result.out
    assert "5 (5 B)" in result.out
    assert "content type:        text/plain" in result.out
    assert "cache control:       max-age=60" in result.out


def test_stat_never_prints_a_control_character(cli: Run, store: R2Store) -> None:
    """stat shows stored values holding control characters escaped, never raw on the terminal."""
    put_raw(
        store,
        "a.txt",
        b"hello",
        {
            "Content-Type": "text/plain\x1b]0;PWNED\x07",
            "Cache-Control": "max-age=60\x1b[31m",
            "Content-Disposition": "inline\x1b[2J",
            "Content-Encoding": "gzip\x9b",
            "x-amz-meta-note": "hi\x1b[5m",
        },
    )
    result = cli("stat", "a.txt")
    assert result.code == 0
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", result.out)
    assert r"'text/plain\x1b]0;PWNED\x07'" in result.out
    assert r"'hi\x1b[5m'" in result.out


def test_url_prints_the_url_for_the_mode(cli: Run) -> None:
    """url prints the proxy URL in proxy mode (no request made)."""
    result = cli("url", "photos/a b.jpg")
    assert result.out == "/media-proxy/photos/a%20b.jpg\n"


def test_a_presigned_put_url_accepts_an_upload(cli: Run, store: R2Store) -> None:
    """presign --method PUT --content-type gives a URL a browser can upload to."""
    result = cli("presign", "up.txt", "--method", "put", "--content-type", "text/plain")
    assert result.code == 0
    url = result.out.strip()
    response = httpx.put(url, content=b"uploaded", headers={"Content-Type": "text/plain"})
    assert response.status_code == 200
    assert store.read("up.txt") == b"uploaded"


def test_presign_refuses_expiry_over_seven_days(cli: Run) -> None:
    """presign --expires beyond 7 days is a usage error (exit status 2)."""
    result = cli("presign", "a.txt", "--expires", "604801")
    assert result.code == 2
    assert "at most 604800" in result.err


# -- put, get, rm --------------------------------------------------------------------


def test_put_uploads_a_file(cli: Run, store: R2Store, tmp_path: Path) -> None:
    """put FILE KEY stores the file's bytes under KEY."""
    (tmp_path / "a.bin").write_bytes(b"\x00\x01 data")
    result = cli("put", "a.bin", "files/a.bin")
    assert result.code == 0
    assert store.read("files/a.bin") == b"\x00\x01 data"


def test_put_refuses_to_overwrite(cli: Run, store: R2Store, tmp_path: Path) -> None:
    """put on an existing key fails (exit 1), says how to overwrite, and changes nothing."""
    store.save("a.txt", b"old")
    (tmp_path / "a.txt").write_bytes(b"new")
    result = cli("put", "a.txt", "a.txt")
    assert result.code == 1
    assert result.err == (
        "r2store: error: an object already exists for key 'a.txt'; pass --overwrite to replace it\n"
    )
    assert store.read("a.txt") == b"old"


def test_put_overwrite_replaces(cli: Run, store: R2Store, tmp_path: Path) -> None:
    """put --overwrite replaces an existing object."""
    store.save("a.txt", b"old")
    (tmp_path / "a.txt").write_bytes(b"new")
    assert cli("put", "a.txt", "a.txt", "--overwrite").code == 0
    assert store.read("a.txt") == b"new"


def test_put_sets_the_content_type(cli: Run, store: R2Store, tmp_path: Path) -> None:
    """put --content-type stores that type instead of the guessed one."""
    (tmp_path / "data").write_bytes(b"{}")
    cli("put", "data", "data", "--content-type", "application/json")
    assert store.stat("data").content_type == "application/json"


def test_put_of_a_missing_file_fails_in_one_line(cli: Run) -> None:
    """put of a local file that does not exist exits 1 with one error line."""
    result = cli("put", "nope.txt", "a.txt")
    assert result.code == 1
    assert result.err == "r2store: error: cannot read 'nope.txt': No such file or directory\n"


def test_get_writes_the_file(cli: Run, store: R2Store, tmp_path: Path) -> None:
    """get KEY FILE writes the object's bytes to FILE."""
    store.save("dir/a.bin", b"content")
    assert cli("get", "dir/a.bin", "out.bin").code == 0
    assert (tmp_path / "out.bin").read_bytes() == b"content"


def test_get_defaults_to_the_key_name(cli: Run, store: R2Store, tmp_path: Path) -> None:
    """get KEY without FILE writes to the key's last segment in the current directory."""
    store.save("dir/a.bin", b"content")
    cli("get", "dir/a.bin")
    assert (tmp_path / "a.bin").read_bytes() == b"content"


def test_get_refuses_to_overwrite_a_local_file(cli: Run, store: R2Store, tmp_path: Path) -> None:
    """get to an existing file fails (exit 1), says how to overwrite, and keeps the file."""
    store.save("a.txt", b"new")
    (tmp_path / "a.txt").write_bytes(b"mine")
    result = cli("get", "a.txt")
    assert result.code == 1
    assert result.err == (
        "r2store: error: 'a.txt' already exists; pass --overwrite to replace it\n"
    )
    assert (tmp_path / "a.txt").read_bytes() == b"mine"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_get_overwrite_replaces_a_local_file(cli: Run, store: R2Store, tmp_path: Path) -> None:
    """get --overwrite replaces an existing file."""
    store.save("a.txt", b"new")
    (tmp_path / "a.txt").write_bytes(b"mine")
    assert cli("get", "a.txt", "--overwrite").code == 0
    assert (tmp_path / "a.txt").read_bytes() == b"new"


def test_get_keeps_a_file_that_appears_during_the_download(
    cli: Run, store: R2Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file created under the target name while get downloads is kept, not replaced."""
    store.save("a.txt", b"new")
    chunks = ObjectReader.iter_chunks

    def racing(self: ObjectReader, chunk_size: int = 1024) -> Iterator[bytes]:
        (tmp_path / "a.txt").write_bytes(b"mine")
        yield from chunks(self, chunk_size)

    monkeypatch.setattr(ObjectReader, "iter_chunks", racing)
    result = cli("get", "a.txt")
    assert result.code == 1
    assert "already exists; pass --overwrite" in result.err
    assert (tmp_path / "a.txt").read_bytes() == b"mine"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_get_gives_the_file_the_usual_mode(cli: Run, store: R2Store, tmp_path: Path) -> None:
    """The downloaded file gets the mode a new file gets (the umask's), not the temp file's."""
    store.save("a.txt", b"x")
    cli("get", "a.txt", "a.txt")
    (tmp_path / "plain.txt").write_bytes(b"x")
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == stat.S_IMODE(
        (tmp_path / "plain.txt").stat().st_mode
    )


def test_get_of_a_missing_key_writes_nothing(cli: Run, tmp_path: Path) -> None:
    """get of a missing key exits 1 and leaves the folder empty."""
    result = cli("get", "nope.txt")
    assert result.code == 1
    assert result.err == (
        "r2store: error: no object for key 'nope.txt' (`r2store ls PREFIX` lists the keys "
        "there are)\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_failed_download_leaves_the_old_file(
    cli: Run, store: R2Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A download that breaks midway leaves the existing file whole and no temporary file."""
    store.save("a.txt", b"new content")
    (tmp_path / "a.txt").write_bytes(b"old content")

    def broken(self: ObjectReader, chunk_size: int = 0) -> Iterator[bytes]:
        yield b"new"
        raise UpstreamError("could not talk to R2 for key 'a.txt' (ReadTimeoutError)")

    monkeypatch.setattr(ObjectReader, "iter_chunks", broken)
    result = cli("get", "a.txt", "a.txt", "--overwrite")
    assert result.code == 1
    assert (tmp_path / "a.txt").read_bytes() == b"old content"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_rm_deletes_every_key_given(cli: Run, store: R2Store) -> None:
    """rm KEY KEY deletes both objects and keeps the others."""
    for key in ("a", "b", "c"):
        store.save(key, b"x")
    assert cli("rm", "a", "b").code == 0
    assert keys(store) == ["c"]


def test_rm_of_a_missing_key_says_so(cli: Run, store: R2Store) -> None:
    """rm of a key with no object says "no object" (not "deleted") and exits 1; the rest go."""
    store.save("a", b"x")
    result = cli("rm", "a", "nope")
    assert result.code == 1
    assert result.out == "deleted a\n"
    assert result.err == (
        "r2store: error: no object for key 'nope', so nothing to delete "
        "(pass --force to ignore missing keys)\n"
    )
    assert keys(store) == []


def test_rm_force_ignores_missing_keys(cli: Run, store: R2Store) -> None:
    """rm --force deletes what exists, passes over missing keys quietly, and exits 0."""
    store.save("a", b"x")
    result = cli("rm", "--force", "a", "nope")
    assert (result.code, result.out, result.err) == (0, "deleted a\n", "")
    assert keys(store) == []


# -- errors and exit statuses ---------------------------------------------------------


def test_an_invalid_key_is_a_usage_error(cli: Run) -> None:
    """A key the key rules refuse exits 2 with one line naming it."""
    result = cli("stat", "../etc/passwd")
    assert result.code == 2
    assert result.err.startswith("r2store: error: ")
    assert "'../etc/passwd'" in result.err


def test_a_bad_configuration_is_one_line_naming_each_variable(
    cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside check, a bad configuration is one line listing every problem; exit 2."""
    monkeypatch.delenv("R2_BUCKET_NAME")
    monkeypatch.setenv("R2_REGION_NAME", "Not A Region")
    result = cli("ls")
    assert result.code == 2
    (line,) = result.err.splitlines()
    assert "R2_BUCKET_NAME: missing" in line
    assert "R2_REGION_NAME: " in line


def test_access_denied_is_one_line(
    cli: Run, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """R2 refusing the token exits 1 with one line naming the variables to check (moto cannot
    refuse, so it is simulated)."""

    def denied(self: R2Store, prefix: str = "", *, page_size: int = 1000) -> Iterator[Any]:
        raise AccessDeniedError("R2 denied access (AccessDenied)")

    monkeypatch.setattr(R2Store, "list", denied)
    result = cli("ls")
    assert result.code == 1
    assert result.err == (
        "r2store: error: R2 denied access (AccessDenied): check that R2_ACCESS_KEY_ID and "
        f"R2_SECRET_ACCESS_KEY come from an R2 API token with Object Read & Write permission "
        f"on bucket {env['R2_BUCKET_NAME']!r}\n"
    )


def test_verbose_shows_the_traceback(cli: Run) -> None:
    """-v adds the traceback before the error line."""
    result = cli("-v", "stat", "nope.txt")
    assert result.code == 1
    assert "Traceback (most recent call last)" in result.err
    assert result.err.splitlines()[-1].startswith("r2store: error: no object for key 'nope.txt'")


def test_verbose_is_accepted_after_the_command(cli: Run) -> None:
    """`r2store stat KEY -v` means the same as `r2store -v stat KEY`."""
    assert "Traceback" in cli("stat", "nope.txt", "-v").err


def test_ctrl_c_exits_130(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """An interrupted command says so in one line and exits 130."""

    def interrupted(self: R2Store, prefix: str = "", *, page_size: int = 1000) -> Iterator[Any]:
        raise KeyboardInterrupt

    monkeypatch.setattr(R2Store, "list", interrupted)
    result = cli("ls")
    assert (result.code, result.err) == (130, "r2store: interrupted\n")


def test_usage_errors_exit_2(cli: Run) -> None:
    """An unknown command is a usage error: exit status 2."""
    assert cli("frobnicate").code == 2


def test_help_exits_0_and_documents_exit_statuses(cli: Run) -> None:
    """--help exits 0 and states the exit status policy."""
    result = cli("--help")
    assert result.code == 0
    assert "exit status: 0 ok; 1 the operation failed" in result.out


def test_the_env_file_is_read(
    cli: Run, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With no variables in the environment, .env in the current directory configures it."""
    pytest.importorskip("dotenv")
    for name in env:
        monkeypatch.delenv(name)
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    assert cli("ls").code == 0


def test_a_missing_env_file_option_is_a_usage_error(cli: Run) -> None:
    """--env-file naming no file exits 2 rather than silently reading nothing."""
    result = cli("--env-file", "missing.env", "ls")
    assert (result.code, result.err) == (
        2,
        "r2store: error: --env-file: no such file: 'missing.env'\n",
    )


@pytest.mark.parametrize(
    ("argv", "extra_env"),
    [
        (["check"], {}),
        (["-vv", "check"], {}),
        (["-vv", "stat", "nope.txt"], {}),
        (["-vv", "ls"], {}),
        (["presign", "a.txt", "--method", "PUT"], {}),
        (["check"], {"R2_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY + " with spaces"}),
        (["-v", "ls"], {"R2_BUCKET_NAME": "no-such-bucket-here"}),
    ],
)
def test_the_secret_is_never_printed(
    cli: Run, monkeypatch: pytest.MonkeyPatch, argv: list[str], extra_env: dict[str, str]
) -> None:
    """No command prints the secret access key, however it ends and however verbose."""
    for name, value in extra_env.items():
        monkeypatch.setenv(name, value)
    result = cli(*argv)
    assert result.out or result.err
    assert SECRET_ACCESS_KEY not in result.out + result.err


# -- sync ------------------------------------------------------------------------------


def test_sync_uploads_then_skips_on_a_second_run(cli: Run, store: R2Store, tmp_path: Path) -> None:
    """sync uploads every file; run again, it skips them all."""
    media = write_tree(tmp_path / "media", {"a.txt": b"a", "sub/b.txt": b"bb"})
    first = cli("sync", str(media), "site")
    assert first.code == 0
    assert "Uploaded 2 file(s) (3 B), skipped 0 unchanged, deleted 0." in first.out
    assert keys(store) == ["site/a.txt", "site/sub/b.txt"]
    second = cli("sync", str(media), "site")
    assert "Uploaded 0 file(s) (0 B), skipped 2 unchanged, deleted 0." in second.out


def test_sync_dry_run_changes_nothing(cli: Run, store: R2Store, tmp_path: Path) -> None:
    """sync --dry-run lists what it would upload and uploads nothing."""
    media = write_tree(tmp_path / "media", {"a.txt": b"a"})
    result = cli("sync", str(media), "--dry-run")
    assert "would upload: a.txt" in result.out
    assert keys(store) == []


def test_sync_deletes_only_when_asked(cli: Run, store: R2Store, tmp_path: Path) -> None:
    """Objects no local file names survive a sync, and go with --delete."""
    store.save("gone.txt", b"x")
    media = write_tree(tmp_path / "media", {"a.txt": b"a"})
    cli("sync", str(media))
    assert keys(store) == ["a.txt", "gone.txt"]
    result = cli("sync", str(media), "--delete")
    assert "deleted 1." in result.out
    assert keys(store) == ["a.txt"]


def test_sync_exits_1_when_a_file_fails(cli: Run, store: R2Store, tmp_path: Path) -> None:
    """A file that cannot be synced is listed on stderr, the rest go up, and the exit is 1."""
    media = write_tree(tmp_path / "media", {"good.txt": b"ok", "bad\\name.txt": b"no"})
    result = cli("sync", str(media))
    assert result.code == 1
    assert "failed: 'bad\\\\name.txt'" in result.err
    assert result.err.splitlines()[-1].startswith("r2store: error: 1 file(s) failed")
    assert keys(store) == ["good.txt"]


def test_sync_shows_progress_on_a_terminal(
    cli: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a terminal, sync rewrites one counter line on stderr and ends it."""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    media = write_tree(tmp_path / "media", {f"{n}.txt": b"x" for n in range(3)})
    assert cli("sync", str(media)).code == 0
    # The rate shows once half a second has passed: on a busy machine, even for 3 B.
    assert re.search(r"\r3/3 files \(100%\), 3 B of 3 B(, [^\r\n]+)?\n\Z", terminal.getvalue())


def test_sync_of_a_missing_folder_fails_in_one_line(cli: Run) -> None:
    """sync of a folder that does not exist exits 1 with one line."""
    result = cli("sync", "no-such-folder")
    assert (result.code, result.err) == (1, "r2store: error: not a directory: 'no-such-folder'\n")


# -- as a real process ----------------------------------------------------------------------


def test_process_missing_key_is_one_line_exit_1(env: dict[str, str], tmp_path: Path) -> None:
    """As a process, a missing key prints exactly one line, no traceback, and exits 1."""
    done = run_process(env, "get", "nope.txt", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith(b"r2store: error: no object for key 'nope.txt' (")
    assert done.stderr.count(b"\n") == 1
    assert done.stdout == b""


def test_process_bad_configuration_is_one_line_exit_2(tmp_path: Path) -> None:
    """As a process with USE_R2=true and no R2_* variables, one line and exit status 2."""
    done = run_process({"USE_R2": "true"}, "ls", cwd=tmp_path)
    assert done.returncode == 2
    (line,) = done.stderr.decode().splitlines()
    assert line.startswith("r2store: error: invalid configuration (")


def test_process_unreachable_endpoint_is_one_line_exit_1(
    env: dict[str, str], tmp_path: Path
) -> None:
    """With nothing listening at the endpoint, one line naming it, no traceback, exit 1."""
    endpoint = f"http://127.0.0.1:{free_port()}"
    done = run_process(env | {"R2_ENDPOINT_URL": endpoint}, "ls", cwd=tmp_path)
    assert done.returncode == 1
    (line,) = done.stderr.decode().splitlines()
    assert line.startswith("r2store: error: could not talk to R2")
    assert endpoint in line
    assert "check R2_ENDPOINT_URL (or R2_ACCOUNT_ID) and the network" in line


def test_process_get_to_stdout_is_byte_exact(
    env: dict[str, str], store: R2Store, tmp_path: Path
) -> None:
    """get KEY - writes exactly the object's bytes to stdout, and nothing else."""
    content = os.urandom(3 * 1024 * 1024 + 7) + b"\r\n\x00\n"
    store.save("blob.bin", content)
    done = run_process(env, "get", "blob.bin", "-", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == content
    assert done.stderr == b""


def test_process_put_reads_stdin(env: dict[str, str], store: R2Store, tmp_path: Path) -> None:
    """put - KEY uploads what comes on stdin."""
    done = run_process(env, "put", "-", "in.bin", cwd=tmp_path, stdin=b"piped\x00bytes")
    assert done.returncode == 0, done.stderr
    assert store.read("in.bin") == b"piped\x00bytes"


def test_process_sync_shows_no_progress_off_a_terminal(env: dict[str, str], tmp_path: Path) -> None:
    """With stderr not a terminal, sync writes no progress line (no carriage returns)."""
    media = write_tree(tmp_path / "media", {f"{n}.txt": b"x" for n in range(5)})
    done = run_process(env, "sync", str(media), cwd=tmp_path)
    assert done.returncode == 0
    assert done.stderr == b""
    assert b"\r" not in done.stdout


def run_on_terminal(env: dict[str, str], *argv: str, cwd: Path) -> tuple[int, bytes]:
    """Run ``python -m r2store ARGS...`` with stderr on a pseudo-terminal (stdout to a file);
    return its exit status and what the terminal got."""
    import pty

    controller, terminal = pty.openpty()
    with (cwd / "stdout").open("wb") as stdout:
        process = subprocess.Popen(
            [sys.executable, "-m", "r2store", *argv],
            env=subprocess_env(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=terminal,
        )
    os.close(terminal)
    shown = bytearray()
    try:
        while True:
            try:
                data = os.read(controller, 65536)
            except OSError:  # EIO: the process closed its side
                break
            if not data:
                break
            shown += data
        return process.wait(timeout=DEADLINE), bytes(shown)
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
            process.wait()


MiB = 1024 * 1024


def test_process_put_shows_progress_on_a_terminal(env: dict[str, str], tmp_path: Path) -> None:
    """put on a terminal shows the bytes sent of the file's size, on one rewritten line."""
    (tmp_path / "big.bin").write_bytes(os.urandom(3 * MiB))
    code, shown = run_on_terminal(env, "put", "big.bin", "big.bin", cwd=tmp_path)
    assert code == 0, shown
    assert b"\r3.0 MiB of 3.0 MiB (100%)" in shown


def test_process_get_shows_progress_on_a_terminal(
    env: dict[str, str], store: R2Store, tmp_path: Path
) -> None:
    """get on a terminal shows the bytes received of the object's size."""
    store.save("big.bin", os.urandom(3 * MiB))
    code, shown = run_on_terminal(env, "get", "big.bin", cwd=tmp_path)
    assert code == 0, shown
    assert b"\r3.0 MiB of 3.0 MiB (100%)" in shown


def test_process_sync_shows_the_bytes_of_a_big_file(env: dict[str, str], tmp_path: Path) -> None:
    """sync on a terminal counts bytes too, so one big file is not one silent "1/1 files"."""
    media = write_tree(tmp_path / "media", {"big.bin": os.urandom(3 * MiB)})
    code, shown = run_on_terminal(env, "sync", str(media), cwd=tmp_path)
    assert code == 0, shown
    assert b"\r1/1 files (100%), 3.0 MiB of 3.0 MiB" in shown


def test_process_put_and_get_show_no_progress_off_a_terminal(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Piped, put and get print their one result line and no progress (no carriage return)."""
    (tmp_path / "big.bin").write_bytes(os.urandom(3 * MiB))
    put = run_process(env, "put", "big.bin", "big.bin", cwd=tmp_path)
    get = run_process(env, "get", "big.bin", "copy.bin", cwd=tmp_path)
    assert (put.returncode, put.stderr, get.returncode, get.stderr) == (0, b"", 0, b"")
    assert b"\r" not in put.stdout + get.stdout


@attrs.define
class Served:
    """A running ``r2store serve``: its proxy base URL, and once it has stopped, everything
    it printed (stdout, then stderr)."""

    url: str
    output: list[str]


#: Runs the rest of its command line with SIGINT ignored, as nohup, `cmd &` in a
#: non-interactive shell and some CI runners start processes (SIG_IGN survives exec).
IGNORING_SIGINT = [
    sys.executable,
    "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "os.execv(sys.argv[1], sys.argv[1:])",
]


@contextlib.contextmanager
def serving(
    env: dict[str, str],
    cwd: Path,
    *options: str,
    stop: signal.Signals = signal.SIGTERM,
    prefix: tuple[str, ...] = (),
) -> Iterator[Served]:
    """Run ``r2store [OPTIONS] serve --port 0`` until the block ends, then stop it with
    *stop* (SIGTERM, as a container runtime or a service manager would)."""
    with subprocess.Popen(
        [*prefix, sys.executable, "-m", "r2store", *options, "serve", "--port", "0"],
        env=subprocess_env(env),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        lines: queue.Queue[str] = queue.Queue()

        def read(stream: IO[str]) -> None:
            # A thread, so that waiting for the first line can time out.
            for line in stream:
                lines.put(line)

        reader = threading.Thread(target=read, args=(process.stdout,), daemon=True)
        reader.start()
        try:
            first = lines.get(timeout=DEADLINE)
            assert first.startswith("Serving "), first
            # "Serving bucket <name> at http://127.0.0.1:<port>/media-proxy/<key>"
            served = Served(first.rsplit(" at ", 1)[1].strip().removesuffix("<key>"), [first])
            yield served
            process.send_signal(stop)
            assert process.wait(timeout=DEADLINE) == 0
            reader.join(timeout=DEADLINE)
            served.output += [*lines.queue, process.stderr.read()]
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def served(env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """``r2store serve --port 0`` running; yields its proxy base URL, and stops it (SIGTERM)."""
    with serving(env, tmp_path) as server:
        yield server.url
    assert "Traceback" not in server.output[-1]


def test_serve_streams_objects_through_the_proxy(served: str, store: R2Store) -> None:
    """serve answers <proxy path><key> with the object's bytes and type."""
    store.save("photos/cat.png", b"\x89PNG not really")
    response = httpx.get(served + "photos/cat.png", timeout=DEADLINE)
    assert response.status_code == 200
    assert response.content == b"\x89PNG not really"
    assert response.headers["content-type"] == "image/png"


def test_serve_answers_404_outside_the_proxy_path(served: str) -> None:
    """serve answers 404 for paths outside the proxy path."""
    base = served.removesuffix("/media-proxy/")
    assert httpx.get(base + "/elsewhere", timeout=DEADLINE).status_code == 404


def test_serve_stops_cleanly_on_sigterm(env: dict[str, str], tmp_path: Path) -> None:
    """SIGTERM stops serve: exit status 0, a "Stopped." line, no traceback."""
    with serving(env, tmp_path) as server:
        pass
    assert server.output[-2:] == ["Stopped.\n", ""]


def test_serve_stops_on_ctrl_c_even_when_started_ignoring_it(
    env: dict[str, str], tmp_path: Path
) -> None:
    """SIGINT stops serve, exit 0, even in a process started with SIGINT ignored."""
    with serving(env, tmp_path, stop=signal.SIGINT, prefix=tuple(IGNORING_SIGINT)) as server:
        pass
    assert server.output[-2:] == ["Stopped.\n", ""]


# -- local mode (USE_R2 off) ------------------------------------------------------------------

#: A proxy signing key for local mode's signed URLs (at least 32 characters).
LOCAL_SIGNING_KEY = "local-signing-key-of-at-least-32-characters"


@pytest.fixture
def local(cli: Run, monkeypatch: pytest.MonkeyPatch) -> Run:
    """``r2store`` with USE_R2 off, the R2_* variables still set: a developer's usual .env."""
    monkeypatch.setenv("USE_R2", "false")
    return cli


def local_note(folder: Path) -> str:
    """The line local mode prints on stderr before touching objects."""
    return f"note: USE_R2 is off, so this works on the local folder {folder}, not on R2\n"


def test_local_put_writes_to_the_folder_not_the_bucket(
    local: Run, store: R2Store, tmp_path: Path
) -> None:
    """With USE_R2 off, put stores the file under ./media and sends nothing to the bucket."""
    (tmp_path / "a.txt").write_bytes(b"local bytes")
    result = local("put", "a.txt", "docs/a.txt")
    assert result.code == 0, result.err
    assert (tmp_path / "media" / "docs" / "a.txt").read_bytes() == b"local bytes"
    assert keys(store) == []


def test_local_mode_says_so_on_stderr(local: Run, tmp_path: Path) -> None:
    """A command on objects in local mode first prints one line naming the folder."""
    result = local("ls")
    assert (result.code, result.out, result.err) == (0, "", local_note(tmp_path / "media"))


def test_local_mode_uses_r2_local_root(
    local: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """R2_LOCAL_ROOT names the folder local mode works on."""
    monkeypatch.setenv("R2_LOCAL_ROOT", str(tmp_path / "uploads"))
    (tmp_path / "a.txt").write_bytes(b"a")
    result = local("put", "a.txt", "a.txt")
    assert result.err == local_note(tmp_path / "uploads")
    assert (tmp_path / "uploads" / "a.txt").read_bytes() == b"a"


def test_local_mode_is_the_default(
    cli: Run, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With no USE_R2 and no R2_* variables at all, commands work on ./media."""
    for name in env:
        monkeypatch.delenv(name)
    result = cli("ls")
    assert (result.code, result.err) == (0, local_note(tmp_path / "media"))


def test_local_ls_get_stat_and_rm(local: Run, tmp_path: Path) -> None:
    """ls, stat, get and rm work on the files a LocalStore keeps."""
    LocalStore(LocalConfig(root=tmp_path / "media")).save("p/a.txt", b"hello")
    assert local("ls", "-l", "p/").out.endswith("           5  p/a.txt\n")
    assert "content type:        text/plain" in local("stat", "p/a.txt").out
    assert local("get", "p/a.txt", "got.txt").code == 0
    assert (tmp_path / "got.txt").read_bytes() == b"hello"
    assert local("rm", "p/a.txt").out == "deleted p/a.txt\n"
    assert local("ls").out == ""


def test_local_url_is_the_proxy_url(local: Run) -> None:
    """url in local mode prints the same proxy URL as on R2."""
    assert local("url", "photos/a b.jpg").out == "/media-proxy/photos/a%20b.jpg\n"


def test_local_presign_gives_a_signed_proxy_url(
    local: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """presign in local mode, with a signing key, prints a signed media proxy URL."""
    monkeypatch.setenv("R2_PROXY_SIGNING_KEY", LOCAL_SIGNING_KEY)
    result = local("presign", "a.txt", "--expires", "60")
    assert result.code == 0, result.err
    assert result.out.startswith("/media-proxy/a.txt?")
    assert LOCAL_SIGNING_KEY not in result.out + result.err


def test_local_presign_without_a_signing_key_is_an_error(local: Run) -> None:
    """presign in local mode without R2_PROXY_SIGNING_KEY says why in one line, exit 2."""
    result = local("presign", "a.txt")
    assert result.code == 2
    assert result.out == ""
    last = result.err.splitlines()[-1]
    assert last.startswith("r2store: error: local mode cannot make presigned URLs without ")
    assert "USE_R2=true" in last


def test_local_presign_of_a_put_is_a_signed_proxy_put(
    local: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """presign --method PUT in local mode gives a media proxy URL signed for that PUT."""
    monkeypatch.setenv("R2_PROXY_SIGNING_KEY", LOCAL_SIGNING_KEY)
    result = local("presign", "a.txt", "--method", "PUT")
    assert result.code == 0
    assert result.out.startswith("/media-proxy/a.txt?")
    assert "method=PUT" in result.out
    assert "signature=" in result.out


@pytest.mark.parametrize(
    "argv",
    [
        ["bucket", "create"],
        ["cors", "show"],
        ["cors", "set", "--origin", "https://app.example.com"],
        ["cors", "clear"],
    ],
)
def test_local_mode_refuses_r2_only_commands(local: Run, argv: list[str]) -> None:
    """Commands on the bucket itself say they need USE_R2=true, and exit 2."""
    result = local(*argv)
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        f"r2store: error: `r2store {' '.join(argv[:2])}` works on R2 only, and USE_R2 is "
        "off (local mode): set USE_R2=true and the R2_* variables to use it\n"
    )


def test_local_sync_copies_a_folder_into_the_local_store(
    local: Run, store: R2Store, tmp_path: Path
) -> None:
    """sync in local mode copies into the folder; run again, it skips what matches."""
    media = write_tree(tmp_path / "site", {"a.txt": b"a", "sub/b.txt": b"bb"})
    first = local("sync", str(media), "s")
    assert first.code == 0, first.err
    assert f"Syncing {media} with {tmp_path / 'media' / 's'}/" in first.out
    assert (tmp_path / "media" / "s" / "sub" / "b.txt").read_bytes() == b"bb"
    assert keys(store) == []
    second = local("sync", str(media), "s")
    assert "Uploaded 0 file(s) (0 B), skipped 2 unchanged, deleted 0." in second.out


def test_local_check_probes_the_folder(local: Run, tmp_path: Path) -> None:
    """check in local mode writes, reads back and deletes a probe in the folder, and says
    how to switch to R2."""
    (tmp_path / "media").mkdir()
    result = local("check")
    assert result.code == 0, result.err
    assert f"  folder:        {tmp_path / 'media'}" in result.out
    assert "  USE_R2:        off" in result.out
    assert "Folder:        exists, writable" in result.out
    assert "Probe object:  written, read back and deleted (r2store-check-" in result.out
    assert "set USE_R2=true" in result.out
    assert [p.name for p in (tmp_path / "media").iterdir() if p.name != ".r2store"] == []


def test_local_check_says_a_missing_folder_is_made(local: Run, tmp_path: Path) -> None:
    """check in local mode on a folder not made yet says the first write makes it."""
    result = local("check")
    assert result.code == 0, result.err
    assert "Folder:        does not exist yet; the first write makes it" in result.out


def test_local_check_fails_when_the_folder_is_a_file(local: Run, tmp_path: Path) -> None:
    """check in local mode fails (exit 1) when R2_LOCAL_ROOT is a file."""
    (tmp_path / "media").write_bytes(b"not a folder")
    result = local("check")
    assert result.code == 1
    assert result.err.splitlines()[-1] == (
        f"r2store: error: {str(tmp_path / 'media')!r} is not a folder: set R2_LOCAL_ROOT "
        "to a folder"
    )


def test_process_local_put_writes_to_the_folder(tmp_path: Path) -> None:
    """As a process with no configuration at all, put stores under ./media and says so."""
    (tmp_path / "a.txt").write_bytes(b"a")
    done = run_process({}, "put", "a.txt", "a.txt", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.decode() == local_note(tmp_path / "media")
    assert (tmp_path / "media" / "a.txt").read_bytes() == b"a"


def test_process_local_serve_serves_the_folder(tmp_path: Path) -> None:
    """serve in local mode serves the folder's files through the media proxy."""
    LocalStore(LocalConfig(root=tmp_path / "media")).save("photos/cat.png", b"\x89PNG local")
    with serving({}, tmp_path) as server:
        response = httpx.get(server.url + "photos/cat.png", timeout=DEADLINE)
    assert (response.status_code, response.content) == (200, b"\x89PNG local")
    assert server.output[0].startswith(f"Serving the local folder {tmp_path / 'media'} at ")
    assert local_note(tmp_path / "media") in server.output[-1]
